"""The log as analysis tables: ``events_frame`` (pandas) and ``events_table`` (DuckDB SQL).

The same commands give the same tables, and the same SQL answers, on every store; the temporal
question "how many users changed their email in each ISO week" is checked against a count in
plain Python.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esteach import (
    CommandProcessor,
    DuckDBEventStore,
    Event,
    EventStore,
    InMemoryEventStore,
    InvalidInput,
    SeededIds,
    StepClock,
)
from esteach.analytics import EVENT_COLUMNS, events_frame, events_table
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User

# A Saturday, so the first weeks straddle the year's end: 2024-12-30 is in ISO week 1 of 2025.
START = datetime(2024, 12, 21, 9, 30, tzinfo=UTC)
TICK = timedelta(minutes=5)

property_test = settings(database=None, deadline=None, max_examples=30)

StoreFactory = Callable[[StepClock], EventStore]


@pytest.fixture(params=["memory", "duckdb-memory", "duckdb-file"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A function that opens a new, empty store of this kind; all are closed afterwards."""
    opened: list[EventStore] = []

    def make(clock: StepClock) -> EventStore:
        made: EventStore
        if request.param == "memory":
            made = InMemoryEventStore(clock=clock, ids=SeededIds(1))
        elif request.param == "duckdb-memory":
            made = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(1))
        else:
            path = tmp_path / f"events-{len(opened)}.duckdb"
            made = DuckDBEventStore(path, clock=clock, ids=SeededIds(1))
        opened.append(made)
        return made

    yield make
    for store in reversed(opened):
        with contextlib.suppress(Exception):
            store.close()


def in_memory(clock: StepClock) -> EventStore:
    return InMemoryEventStore(clock=clock, ids=SeededIds(1))


@functools.cache
def weeks_of_email_changes() -> tuple[Event, ...]:
    """Twelve users over five weeks; some change their email twice in one week.

    Recorded once through the User aggregate in memory: the clock steps 5 minutes per commit
    and is moved on a day at a time by hand. Other stores get the same events by bulk import,
    which is far faster than running the commands through DuckDB again for every test.
    """
    clock = StepClock(START, TICK)
    store = InMemoryEventStore(clock=clock, ids=SeededIds(1))
    users = CommandProcessor(store, User, ids=SeededIds(7))
    for n in range(12):
        users.process_command(CreateUser(f"user-{n:02}", f"u{n}@example.com", f"User {n}"))
    for day in range(35):
        clock.advance(timedelta(days=1))
        for n in range(12):
            if n == 3 and day > 20:
                continue  # deactivated
            # Users 1, 5 and 9 change their email on Mondays and Wednesdays as well.
            if (n * 7 + day * 3) % 11 == 0 or (n % 4 == 1 and day % 7 in (1, 3)):
                users.process_command(ChangeEmail(f"user-{n:02}", f"u{n}.d{day}@example.com"))
            if (n + day) % 13 == 0:
                users.process_command(ChangeName(f"user-{n:02}", f"User {n} ({day})"))
        if day == 20:
            users.process_command(DeactivateUser("user-03"))
    return tuple(store.read_all())


def email_changes_over_weeks(make: StoreFactory = in_memory) -> EventStore:
    """A new store of this kind holding :func:`weeks_of_email_changes`."""
    store = make(StepClock(START, TICK))
    store.bulk_import(weeks_of_email_changes())
    return store


def users_changing_email_per_iso_week(events: list[Event]) -> list[tuple[int, int, int]]:
    """The answer in plain Python: (ISO year, ISO week, distinct users) in week order."""
    users: dict[tuple[int, int], set[str]] = defaultdict(set)
    for event in events:
        if event.event_type == "UserEmailChanged":
            iso = event.timestamp.isocalendar()
            users[(iso.year, iso.week)].add(event.aggregate_id)
    return [(year, week, len(ids)) for (year, week), ids in sorted(users.items())]


ISO_WEEK_SQL = """
SELECT isoyear(timestamp) AS iso_year,
       week(timestamp) AS iso_week,
       min(date_trunc('week', timestamp))::DATE AS monday,
       count(DISTINCT aggregate_id) AS users
FROM events_log
WHERE event_type = 'UserEmailChanged'
GROUP BY iso_year, iso_week
ORDER BY iso_year, iso_week
"""


# --- events_frame --------------------------------------------------------------------------------


def test_events_frame_has_one_row_per_event_in_global_order(open_store: StoreFactory) -> None:
    store = email_changes_over_weeks(open_store)
    log = store.read_all()

    frame = events_frame(store)

    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert len(frame) == len(log) == store.head_position()
    assert list(frame["global_position"]) == list(range(1, len(log) + 1))
    assert list(frame["id"]) == [e.id for e in log]
    assert list(zip(frame["aggregate_id"], frame["version"], strict=True)) == [
        (e.aggregate_id, e.version) for e in log
    ]
    assert list(frame["event_type"]) == [e.event_type for e in log]
    assert list(frame["data"]) == [e.data for e in log]
    assert list(frame["timestamp"]) == [pd.Timestamp(e.timestamp) for e in log]
    assert list(frame["correlation_id"]) == [e.metadata.correlation_id for e in log]
    assert list(frame["causation_id"]) == [e.metadata.causation_id for e in log]
    assert set(frame["source"]) == {"command_processor"}
    assert set(frame["user_id"]) == {None}
    assert set(frame["schema_version"]) == {1}
    assert set(frame["aggregate_type"]) == {"User"}


def test_events_frame_columns_have_analysis_friendly_types() -> None:
    store = email_changes_over_weeks()

    frame = events_frame(store)

    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    for name in ("global_position", "version", "schema_version"):
        assert frame[name].dtype == "int64", name
    assert all(isinstance(data, dict) for data in frame["data"])
    # Time arithmetic works straight away, e.g. the span of the log:
    assert frame["timestamp"].max() - frame["timestamp"].min() == pd.Timedelta(
        days=35, minutes=5 * (len(frame) - 1)
    )


def test_events_frame_of_an_empty_store_has_the_same_columns_and_types() -> None:
    frame = events_frame(InMemoryEventStore())

    assert frame.empty
    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["version"].dtype == "int64"


def test_events_frame_is_the_same_on_every_store(open_store: StoreFactory) -> None:
    reference = email_changes_over_weeks()
    store = email_changes_over_weeks(open_store)

    pd.testing.assert_frame_equal(events_frame(store), events_frame(reference))


def test_events_frame_takes_a_list_of_events_as_well_as_a_store() -> None:
    store = email_changes_over_weeks()

    some = store.get_events("user-05")
    frame = events_frame(some)

    assert list(frame["version"]) == list(range(1, len(some) + 1))
    assert set(frame["aggregate_id"]) == {"user-05"}
    pd.testing.assert_frame_equal(events_frame(store.read_all()), events_frame(store))


@pytest.mark.parametrize("thing", [42, [1, 2], ["UserCreated"]], ids=repr)
def test_events_frame_refuses_what_is_not_events(thing: Any) -> None:
    with pytest.raises(InvalidInput, match=r"events_frame needs|not an Event"):
        events_frame(thing)


def test_editing_a_frame_cell_does_not_change_the_log() -> None:
    store = email_changes_over_weeks()
    frame = events_frame(store, upcast=False)

    frame.loc[0, "data"]["email"] = "mallory@example.com"

    assert store.read_all()[0].data["email"] == "u0@example.com"


commands = st.lists(
    st.tuples(
        st.sampled_from(["ada", "bob", "cy"]),
        st.sampled_from(["create", "email", "name", "deactivate"]),
        st.sampled_from(["a", "b"]),
    ),
    max_size=25,
)


@property_test
@given(steps=commands)
def test_events_frame_round_trips_the_count_and_order_of_any_log(
    steps: list[tuple[str, str, str]],
) -> None:
    store = InMemoryEventStore(clock=StepClock(START, TICK), ids=SeededIds(1))
    users = CommandProcessor(store, User, ids=SeededIds(2))
    for user, what, value in steps:
        command = {
            "create": CreateUser(user, f"{user}@{value}.org", user),
            "email": ChangeEmail(user, f"{user}@{value}.org"),
            "name": ChangeName(user, value),
            "deactivate": DeactivateUser(user),
        }[what]
        with contextlib.suppress(Exception):  # the rules refuse some; the log must not mind
            users.process_command(command)
    log = store.read_all()

    frame = events_frame(store)

    assert len(frame) == len(log)
    assert list(frame["global_position"]) == [e.global_position for e in log]
    assert list(frame["id"]) == [e.id for e in log]
    assert frame["timestamp"].is_monotonic_increasing
    per_stream = Counter(frame["aggregate_id"])
    assert per_stream == {u: store.stream_version(u) for u in ("ada", "bob", "cy") if per_stream[u]}
    for user, rows in frame.groupby("aggregate_id"):
        assert list(rows["version"]) == list(range(1, len(rows) + 1)), user
        rebuilt = [Event(**row) for row in _envelopes(rows)]
        assert (
            User.load_from_events(rebuilt).state()
            == CommandProcessor(store, User).load(str(user)).state()
        )


def _envelopes(rows: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Turn frame rows back into Event fields (metadata left at its defaults)."""
    for row in rows.to_dict("records"):
        yield {
            "id": row["id"],
            "aggregate_id": row["aggregate_id"],
            "aggregate_type": row["aggregate_type"],
            "event_type": row["event_type"],
            "version": row["version"],
            "timestamp": row["timestamp"].to_pydatetime(),
            "data": row["data"],
            "global_position": row["global_position"],
        }


# --- events_table: SQL over the log --------------------------------------------------------------


def test_users_changing_email_per_iso_week_is_the_same_in_sql_on_every_store(
    open_store: StoreFactory,
) -> None:
    store = email_changes_over_weeks(open_store)
    expected = users_changing_email_per_iso_week(store.read_all())

    con = events_table(store)
    rows = con.sql(ISO_WEEK_SQL).fetchall()

    assert [(year, week, users) for year, week, _, users in rows] == expected
    assert [row[:2] for row in rows[:3]] == [(2024, 51), (2024, 52), (2025, 1)]
    assert rows[2][2] == date(2024, 12, 30)  # date_trunc('week') starts weeks on Monday
    assert len(expected) >= 5
    assert any(users > 1 for *_, users in expected)
    changes = sum(e.event_type == "UserEmailChanged" for e in store.read_all())
    assert changes > sum(users for *_, users in expected)  # some changed twice in one week
    assert rows == events_table(email_changes_over_weeks()).sql(ISO_WEEK_SQL).fetchall()


def test_the_sql_table_has_the_same_columns_and_types_on_every_store(
    open_store: StoreFactory,
) -> None:
    reference = events_table(InMemoryEventStore()).sql("DESCRIBE events_log").fetchall()
    store = email_changes_over_weeks(open_store)

    described = events_table(store).sql("DESCRIBE events_log").fetchall()

    assert [row[:2] for row in described] == [row[:2] for row in reference]
    assert [name for name, *_ in described] == list(EVENT_COLUMNS)
    types = {name: kind for name, kind, *_ in described}
    assert types["data"] == "JSON"
    assert types["timestamp"] == "TIMESTAMP"
    assert types["user_id"] == "VARCHAR"  # typed even when every user_id is NULL


def test_sql_reads_fields_of_the_json_data(open_store: StoreFactory) -> None:
    store = open_store(StepClock(START, TICK))
    users = CommandProcessor(store, User, ids=SeededIds(2))
    users.process_command(CreateUser("ada", "ada@example.com", "Ada"), user_id="admin")
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"), user_id="ada")

    con = events_table(store)

    assert con.sql(
        "SELECT data->>'new_email', user_id FROM events_log WHERE event_type = ?",
        params=["UserEmailChanged"],
    ).fetchall() == [("ada@analytical.engine", "ada")]
    assert con.sql(
        "SELECT timestamp FROM events_log WHERE data->>'email' = 'ada@example.com'"
    ).fetchall() == [(START.replace(tzinfo=None),)]


def test_the_view_over_a_duckdb_store_is_live() -> None:
    with DuckDBEventStore(clock=StepClock(START, TICK), ids=SeededIds(1)) as store:
        con = events_table(store)
        users = CommandProcessor(store, User, ids=SeededIds(2))
        users.process_command(CreateUser("ada", "ada@example.com", "Ada"))

        assert con is store
        assert con.sql("SELECT count(*) FROM events_log").fetchall() == [(1,)]


def test_the_table_of_another_store_is_a_copy_made_when_asked() -> None:
    store = InMemoryEventStore(clock=StepClock(START, TICK), ids=SeededIds(1))
    users = CommandProcessor(store, User, ids=SeededIds(2))
    users.process_command(CreateUser("ada", "ada@example.com", "Ada"))
    con = events_table(store)

    users.process_command(CreateUser("bob", "bob@example.com", "Bob"))

    assert con.sql("SELECT count(*) FROM events_log").fetchall() == [(1,)]
    assert events_table(store).sql("SELECT count(*) FROM events_log").fetchall() == [(2,)]


def test_a_given_connection_gets_a_copy_of_the_log_even_from_a_duckdb_store() -> None:
    store = email_changes_over_weeks(lambda clock: DuckDBEventStore(clock=clock, ids=SeededIds(1)))
    con = duckdb.connect()

    returned = events_table(store, con, name="log_copy")

    assert returned is con
    assert con.sql("SELECT count(*) FROM log_copy").fetchall() == [(store.head_position(),)]
    assert con.sql(ISO_WEEK_SQL.replace("events_log", "log_copy")).fetchall() == (
        events_table(store).sql(ISO_WEEK_SQL).fetchall()
    )
    con.close()
    store.close()


def test_the_view_is_not_written_into_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with email_changes_over_weeks(
        lambda clock: DuckDBEventStore(path, clock=clock, ids=SeededIds(1))
    ) as store:
        events_table(store).sql("SELECT count(*) FROM events_log").fetchall()

    with DuckDBEventStore(path, read_only=True) as again:
        views = "SELECT view_name, temporary FROM duckdb_views() WHERE NOT internal"
        con = events_table(again)  # the store is reopened read-only: a TEMP view needs no write
        assert con.sql(views).fetchall() == [("events_log", True)]
        again.close()
    with DuckDBEventStore(path, read_only=True) as again:
        con = events_table(again)
        assert (
            con.sql(views.replace("NOT internal", "NOT internal AND NOT temporary")).fetchall()
            == []
        )
        assert con.sql("SELECT count(*) FROM events_log").fetchall() == [(again.head_position(),)]


@pytest.mark.parametrize("name", ["", "1st", "events log", "x; DROP TABLE events", 'a"b', 7])
def test_a_table_name_that_is_not_an_sql_identifier_is_refused(name: Any) -> None:
    with pytest.raises(InvalidInput, match="name must be an SQL identifier"):
        events_table(InMemoryEventStore(), name=name)


def test_a_duckdb_store_keeps_its_own_events_table() -> None:
    with DuckDBEventStore() as store, pytest.raises(InvalidInput, match="already has a table"):
        events_table(store, name="events")


def test_events_table_refuses_what_is_not_a_store() -> None:
    with pytest.raises(InvalidInput, match="needs an event store"):
        events_table([])  # type: ignore[arg-type]


def test_sql_timestamps_are_utc_whatever_the_sessions_time_zone() -> None:
    store = email_changes_over_weeks()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")

    events_table(store, con)

    first = con.sql("SELECT timestamp FROM events_log ORDER BY global_position LIMIT 1")
    assert first.fetchall() == [(START.replace(tzinfo=None),)]
    assert con.sql(ISO_WEEK_SQL).fetchall() == events_table(store).sql(ISO_WEEK_SQL).fetchall()
    con.close()


class ListStore:
    """The smallest store a learner might write: a list with ``read_all``."""

    def __init__(self, events: tuple[Event, ...]) -> None:
        self.events = list(events)

    def read_all(self, from_position: int = 0, limit: int | None = None) -> list[Event]:
        return self.events


def test_any_object_with_read_all_can_be_analysed_like_a_store() -> None:
    learners = ListStore(weeks_of_email_changes())

    frame = events_frame(learners)  # type: ignore[arg-type]
    con = events_table(learners)  # type: ignore[arg-type]

    pd.testing.assert_frame_equal(frame, events_frame(email_changes_over_weeks()))
    assert con.sql(ISO_WEEK_SQL).fetchall() == (
        events_table(email_changes_over_weeks()).sql(ISO_WEEK_SQL).fetchall()
    )
