"""Time travel: ``state_at`` by version and by moment, ``history`` and ``describe_version``.

Every test that touches a store runs against each store through the ``kind`` fixture; the
property tests compare ``state_at`` with a replay of the first N events and with a plain model
of what the User commands should have done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esteach import (
    Aggregate,
    CommandProcessor,
    DuckDBEventStore,
    EventStore,
    InMemoryEventStore,
    InvalidInput,
    NewEvent,
    SeededIds,
    StepClock,
)
from esteach.domains.user import (
    ACTIVE,
    DEACTIVATED,
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
)
from esteach.timetravel import HISTORY_COLUMNS, MISSING, describe_version, diff, history, state_at

START = datetime(2024, 1, 1, tzinfo=UTC)
TICK = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)

property_test = settings(database=None, deadline=None, max_examples=40)
slow_store_property_test = settings(database=None, deadline=None, max_examples=8)

StoreFactory = Callable[..., EventStore]


@pytest.fixture(params=["memory", "duckdb-memory", "duckdb-file"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A function that opens a new store of this kind; every store is closed afterwards."""
    opened: list[EventStore] = []

    def make(clock: StepClock | None = None, name: str = "events.duckdb") -> EventStore:
        clock = clock or StepClock(START, TICK)
        made: EventStore
        if request.param == "memory":
            made = InMemoryEventStore(clock=clock, ids=SeededIds(1))
        elif request.param == "duckdb-memory":
            made = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(1))
        else:
            made = DuckDBEventStore(tmp_path / name, clock=clock, ids=SeededIds(1))
        opened.append(made)
        return made

    yield make
    for store in reversed(opened):
        with contextlib.suppress(Exception):
            store.close()


def ada_story(store: EventStore) -> None:
    """Ada's stream, with Bob's events between, so versions and global positions differ.

    position  time      stream  version  event
    1         00:00:00  ada     1        UserCreated ada@example.com / Ada
    2         00:00:01  bob     1        UserCreated
    3         00:00:02  ada     2        UserEmailChanged ada@analytical.engine
    4         00:00:03  ada     3        UserNameChanged Ada Lovelace
    5         00:00:04  bob     2        UserDeactivated
    6         00:00:05  ada     4        UserDeactivated
    """
    users = CommandProcessor(store, User, ids=SeededIds(2))
    users.process_command(CreateUser("ada", "ada@example.com", "Ada"), user_id="admin")
    users.process_command(CreateUser("bob", "bob@example.com", "Bob"))
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"))
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"))  # same: no event
    users.process_command(ChangeName("ada", "Ada Lovelace"))
    users.process_command(DeactivateUser("bob"))
    users.process_command(DeactivateUser("ada"))


def ada_in_memory() -> InMemoryEventStore:
    """Ada's story in a fresh in-memory store: for tests whose point is not the store."""
    store = InMemoryEventStore(clock=StepClock(START, TICK), ids=SeededIds(1))
    ada_story(store)
    return store


def at_second(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


# --- state_at by version -------------------------------------------------------------------------


def test_state_at_a_version_is_the_state_after_that_event(open_store: StoreFactory) -> None:
    store = open_store()
    ada_story(store)

    states = [state_at(store, User, "ada", version=v).state() for v in range(5)]

    assert states == [
        {"aggregate_id": "ada", "version": 0, "email": "", "name": "", "status": None},
        {"aggregate_id": "ada", "version": 1, "email": "ada@example.com", "name": "Ada",
         "status": ACTIVE},
        {"aggregate_id": "ada", "version": 2, "email": "ada@analytical.engine", "name": "Ada",
         "status": ACTIVE},
        {"aggregate_id": "ada", "version": 3, "email": "ada@analytical.engine",
         "name": "Ada Lovelace", "status": ACTIVE},
        {"aggregate_id": "ada", "version": 4, "email": "ada@analytical.engine",
         "name": "Ada Lovelace", "status": DEACTIVATED},
    ]  # fmt: skip


def test_state_at_version_zero_is_an_aggregate_that_does_not_exist_yet() -> None:
    store = ada_in_memory()

    before = state_at(store, User, "ada", version=0)

    assert isinstance(before, User)
    assert before.aggregate_id == "ada"
    assert not before.exists


def test_state_at_the_current_version_equals_loading_the_aggregate_now() -> None:
    store = ada_in_memory()

    now = CommandProcessor(store, User).load("ada")

    assert state_at(store, User, "ada", version=4).state() == now.state()


def test_state_at_a_version_beyond_the_stream_names_the_current_version() -> None:
    store = ada_in_memory()

    with pytest.raises(InvalidInput) as caught:
        state_at(store, User, "ada", version=5)

    message = str(caught.value)
    assert "no version 5" in message
    assert "at version 4" in message
    assert "from 0 to 4" in message


def test_a_stream_that_was_never_written_has_only_version_zero(open_store: StoreFactory) -> None:
    store = open_store()
    ada_story(store)

    assert state_at(store, User, "nobody", version=0).state()["version"] == 0
    assert state_at(store, User, "nobody", at=at_second(100)).version == 0
    with pytest.raises(InvalidInput, match="at version 0"):
        state_at(store, User, "nobody", version=1)


@pytest.mark.parametrize("version", [-1, True, 1.0, "2"], ids=repr)
def test_a_version_that_is_not_an_int_from_zero_up_is_refused(version: Any) -> None:
    store = ada_in_memory()

    with pytest.raises(InvalidInput, match="version must be"):
        state_at(store, User, "ada", version=version)


def test_state_at_needs_exactly_one_of_version_and_moment() -> None:
    store = ada_in_memory()

    with pytest.raises(InvalidInput, match=r"exactly one of version=N .* both were given"):
        state_at(store, User, "ada", version=1, at=at_second(1))
    with pytest.raises(InvalidInput, match=r"exactly one of version=N .* neither was given"):
        state_at(store, User, "ada")


def test_state_at_refuses_a_class_that_is_not_an_aggregate() -> None:
    store = InMemoryEventStore()

    with pytest.raises(InvalidInput, match="Aggregate subclass"):
        state_at(store, dict, "ada", version=0)  # type: ignore[type-var]


# --- state_at by moment --------------------------------------------------------------------------


MOMENTS = [
    (START - timedelta(days=1), 0),
    (START - MICROSECOND, 0),
    (START, 1),  # an event committed exactly at the moment counts
    (at_second(1), 1),  # Bob's event: Ada's stream has not moved
    (at_second(2) - MICROSECOND, 1),
    (at_second(2), 2),
    (at_second(3.5), 3),
    (at_second(5), 4),
    (START + timedelta(days=365), 4),
]


def test_state_at_a_moment_is_the_state_after_the_last_event_committed_by_then(
    open_store: StoreFactory,
) -> None:
    store = open_store()
    ada_story(store)

    for moment, version in MOMENTS:
        then = state_at(store, User, "ada", at=moment)

        assert then.version == version, moment
        assert then.state() == state_at(store, User, "ada", version=version).state()


def test_a_moment_in_another_time_zone_means_the_same_instant() -> None:
    store = ada_in_memory()
    new_york = timezone(timedelta(hours=-5))

    moment = at_second(2).astimezone(new_york)

    assert moment.hour == 19  # 2023-12-31 19:00:02 in New York is 2024-01-01 00:00:02 UTC
    assert state_at(store, User, "ada", at=moment).version == 2
    assert state_at(store, User, "ada", at=moment - MICROSECOND).version == 1


def test_a_moment_without_a_time_zone_is_refused_with_an_example_of_one() -> None:
    store = ada_in_memory()

    with pytest.raises(InvalidInput) as caught:
        state_at(store, User, "ada", at=datetime(2024, 1, 1, 0, 0, 3))

    message = str(caught.value)
    assert "2024-01-01T00:00:03 has no time zone" in message
    assert "tzinfo=timezone.utc" in message


@pytest.mark.parametrize("moment", ["2024-01-01T00:00:00+00:00", 1704067200], ids=repr)
def test_a_moment_that_is_not_a_datetime_is_refused(moment: Any) -> None:
    store = ada_in_memory()

    with pytest.raises(InvalidInput, match="at must be a timezone-aware datetime"):
        state_at(store, User, "ada", at=moment)


def test_state_at_a_moment_takes_every_event_of_a_commit_made_then(
    open_store: StoreFactory,
) -> None:
    store = open_store()
    batch = [
        NewEvent("UserCreated", {"user_id": "ada", "email": "ada@example.com", "name": "Ada"}),
        NewEvent("UserEmailChanged", {"new_email": "ada@analytical.engine"}),
    ]
    recorded = store.append_events("ada", 0, batch)
    assert recorded[0].timestamp == recorded[1].timestamp  # one commit, one moment

    assert state_at(store, User, "ada", at=recorded[0].timestamp).version == 2
    assert state_at(store, User, "ada", at=recorded[0].timestamp - MICROSECOND).version == 0


def test_a_reopened_file_store_travels_to_the_same_states(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path, clock=StepClock(START, TICK), ids=SeededIds(1)) as store:
        ada_story(store)
        before = [state_at(store, User, "ada", at=at_second(s)).state() for s in range(7)]

    with DuckDBEventStore(path, read_only=True) as again:
        after = [state_at(again, User, "ada", at=at_second(s)).state() for s in range(7)]

    assert after == before
    assert [s["version"] for s in after] == [1, 1, 2, 3, 3, 4, 4]


# --- history -------------------------------------------------------------------------------------


def test_history_has_one_row_per_event_with_the_state_after_it(open_store: StoreFactory) -> None:
    store = open_store()
    ada_story(store)

    frame = history(store, User, "ada")

    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert frame.index.name == "version"
    assert list(frame.index) == [1, 2, 3, 4]
    assert list(frame["event_type"]) == [
        "UserCreated",
        "UserEmailChanged",
        "UserNameChanged",
        "UserDeactivated",
    ]
    assert list(frame["global_position"]) == [1, 3, 4, 6]
    assert list(frame["schema_version"]) == [1, 1, 1, 1]
    assert [e.id for e in store.get_events("ada")] == list(frame["event_id"])
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert list(frame["timestamp"]) == [pd.Timestamp(at_second(s)) for s in (0, 2, 3, 5)]
    assert frame.loc[2, "data"] == {"new_email": "ada@analytical.engine"}
    for version in frame.index:
        assert frame.loc[version, "state"] == state_at(store, User, "ada", version=version).state()


def test_history_changes_show_each_field_an_event_changed() -> None:
    store = ada_in_memory()

    changes = list(history(store, User, "ada")["changes"])

    assert changes == [
        {"email": ("", "ada@example.com"), "name": ("", "Ada"), "status": (None, ACTIVE)},
        {"email": ("ada@example.com", "ada@analytical.engine")},
        {"name": ("Ada", "Ada Lovelace")},
        {"status": (ACTIVE, DEACTIVATED)},
    ]


def test_history_of_an_empty_stream_is_an_empty_frame_with_the_same_columns() -> None:
    frame = history(InMemoryEventStore(), User, "nobody")

    assert frame.empty
    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert frame.index.name == "version"
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"


def test_editing_a_history_cell_changes_neither_the_log_nor_other_rows() -> None:
    store = ada_in_memory()
    frame = history(store, User, "ada")

    frame.loc[2, "data"]["new_email"] = "mallory@example.com"
    frame.loc[2, "state"]["email"] = "mallory@example.com"

    assert store.get_events("ada")[1].data == {"new_email": "ada@analytical.engine"}
    assert history(store, User, "ada").loc[2, "data"] == {"new_email": "ada@analytical.engine"}
    assert frame.loc[3, "state"]["email"] == "ada@analytical.engine"


class Tally(Aggregate):
    """An aggregate whose state holds a list, which later events change in place."""

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.items: list[str] = []

    def handle_command(self, command: Any) -> list[Any]:
        return []

    def apply_event(self, event: Any) -> None:
        self.items.append(event.new_name)


def test_history_states_are_copies_even_when_the_aggregate_changes_a_list_in_place() -> None:
    store = InMemoryEventStore(clock=StepClock(START, TICK))
    store.append_events(
        "t", 0, [NewEvent("UserNameChanged", {"new_name": name}) for name in ("a", "b", "c")]
    )

    frame = history(store, Tally, "t")

    assert [row["items"] for row in frame["state"]] == [["a"], ["a", "b"], ["a", "b", "c"]]
    assert frame.loc[2, "changes"] == {"items": (["a"], ["a", "b"])}


# --- diff ----------------------------------------------------------------------------------------


def test_diff_lists_only_the_fields_whose_values_changed() -> None:
    before = {"email": "a@x.org", "name": "Ada", "status": "active"}
    after = {"email": "b@x.org", "name": "Ada", "status": "active"}

    assert diff(before, after) == {"email": ("a@x.org", "b@x.org")}
    assert diff(after, after) == {}


def test_diff_shows_a_field_on_one_side_only_as_missing_on_the_other() -> None:
    changes = diff({"old": 1, "same": 2}, {"same": 2, "new": 3})

    assert changes == {"new": (MISSING, 3), "old": (1, MISSING)}
    assert list(changes) == ["new", "old"]  # the after side's fields first
    assert repr(MISSING) == "<missing>"


def test_diff_tells_values_of_different_types_apart() -> None:
    assert diff({"flag": 1, "n": 1.0}, {"flag": True, "n": 1}) == {
        "flag": (1, True),
        "n": (1.0, 1),
    }
    assert diff({"x": None}, {"x": None}) == {}


# --- describe_version ----------------------------------------------------------------------------


def test_describe_version_prints_the_event_what_it_changed_and_the_state_after_it() -> None:
    store = ada_in_memory()

    text = describe_version(history(store, User, "ada"), 2)

    assert text == "\n".join(
        [
            "version 2 of 4: UserEmailChanged at 2024-01-01T00:00:02+00:00 (global position 3)",
            "data:",
            "  new_email: 'ada@analytical.engine'",
            "changed:",
            "  email: 'ada@example.com' -> 'ada@analytical.engine'",
            "state after it:",
            "  aggregate_id: 'ada'",
            "  version: 2",
            "  email: 'ada@analytical.engine'",
            "  name: 'Ada'",
            "  status: 'active'",
        ]
    )


def test_describe_version_says_none_for_an_event_without_data() -> None:
    store = ada_in_memory()

    text = describe_version(history(store, User, "ada"), 4)

    assert "version 4 of 4: UserDeactivated" in text
    assert "data:\n  (none)\nchanged:\n  status: 'active' -> 'deactivated'" in text


def test_describe_version_zero_shows_the_state_before_the_first_event() -> None:
    store = ada_in_memory()

    text = describe_version(history(store, User, "ada"), 0)

    assert text == "\n".join(
        [
            "version 0 of 4: before the first event; the aggregate does not exist yet.",
            "state:",
            "  aggregate_id: 'ada'",
            "  version: 0",
            "  email: ''",
            "  name: ''",
            "  status: None",
        ]
    )
    assert state_at(store, User, "ada", version=0).state() == {
        "aggregate_id": "ada",
        "version": 0,
        "email": "",
        "name": "",
        "status": None,
    }


def test_describe_version_of_an_empty_history_says_nothing_happened_yet() -> None:
    frame = history(InMemoryEventStore(), User, "nobody")

    assert describe_version(frame, 0) == (
        "version 0 of 0: the stream has no events yet; nothing has happened."
    )
    with pytest.raises(InvalidInput, match="versions 0 to 0"):
        describe_version(frame, 1)


@pytest.mark.parametrize("version", [-1, 5], ids=repr)
def test_describe_version_outside_the_history_names_the_versions_it_has(version: int) -> None:
    store = ada_in_memory()

    with pytest.raises(InvalidInput, match=f"versions 0 to 4; there is no version {version}"):
        describe_version(history(store, User, "ada"), version)


def test_a_version_taken_from_the_history_frame_can_be_passed_back() -> None:
    store = ada_in_memory()
    frame = history(store, User, "ada")

    last = frame.index[-1]  # a numpy integer, not a Python int

    assert state_at(store, User, "ada", version=last).version == 4
    assert describe_version(frame, last).startswith("version 4 of 4: UserDeactivated")


def test_describe_version_is_the_same_text_on_every_store(open_store: StoreFactory) -> None:
    reference = InMemoryEventStore(clock=StepClock(START, TICK), ids=SeededIds(1))
    ada_story(reference)
    store = open_store()
    ada_story(store)

    for version in range(5):
        assert describe_version(history(store, User, "ada"), version) == describe_version(
            history(reference, User, "ada"), version
        )


# --- properties over random command sequences ----------------------------------------------------

EMAILS = ["ada@example.com", "ada@analytical.engine", "countess@lovelace.org"]
NAMES = ["Ada", "Ada Lovelace", "Countess"]

command_for = st.one_of(
    st.tuples(st.just("email"), st.sampled_from(EMAILS)),
    st.tuples(st.just("name"), st.sampled_from(NAMES)),
    st.tuples(st.just("deactivate"), st.just("")),
)


@dataclass(frozen=True)
class Scenario:
    """Commands for two users, run in order; the clock steps ``step`` per commit."""

    step: timedelta
    steps: list[tuple[str, str, str]]  # (user id, what, value)


scenarios = st.builds(
    Scenario,
    step=st.sampled_from([timedelta(0), TICK, timedelta(days=1, minutes=7)]),
    steps=st.lists(
        st.tuples(st.sampled_from(["ada", "bob"]), command_for).map(lambda t: (t[0], *t[1])),
        max_size=14,
    ),
)


def run_scenario(store: EventStore, scenario: Scenario) -> list[dict[str, Any]]:
    """Run the scenario; return the states Ada's stream should pass through (a plain model).

    Commands a deactivated user would refuse are not sent, so every command is valid; a command
    that sets a value it already has is sent, and must record nothing.
    """
    users = CommandProcessor(store, User, ids=SeededIds(3))
    model = {
        user: {"aggregate_id": user, "version": 0, "email": "", "name": "", "status": None}
        for user in ("ada", "bob")
    }
    expected = {user: [dict(state)] for user, state in model.items()}
    for user in ("ada", "bob"):
        users.process_command(CreateUser(user, f"{user}@example.com", user.title()))
        model[user].update(email=f"{user}@example.com", name=user.title(), status=ACTIVE)
        model[user]["version"] = 1
        expected[user].append(dict(model[user]))
    for user, what, value in scenario.steps:
        state = model[user]
        if state["status"] == DEACTIVATED:
            continue
        if what == "email":
            result = users.process_command(ChangeEmail(user, value))
            changed = value != state["email"]
            state["email"] = value
        elif what == "name":
            result = users.process_command(ChangeName(user, value))
            changed = value != state["name"]
            state["name"] = value
        else:
            result = users.process_command(DeactivateUser(user))
            changed = True
            state["status"] = DEACTIVATED
        assert len(result.events) == int(changed)
        if changed:
            state["version"] += 1
            expected[user].append(dict(state))
    return expected["ada"]


def check_time_travel(store: EventStore, expected: list[dict[str, Any]]) -> None:
    events = store.get_events("ada")
    assert len(events) == len(expected) - 1

    for n in range(len(expected)):
        travelled = state_at(store, User, "ada", version=n).state()
        assert travelled == User.load_from_events(events[:n], "ada").state()
        assert travelled == expected[n]

    moments = [START - MICROSECOND, START + timedelta(days=10_000)]
    moments += [e.timestamp + delta for e in events for delta in (-MICROSECOND, 0 * TICK, TICK / 2)]
    for moment in moments:
        last = max((e.version for e in events if e.timestamp <= moment), default=0)
        assert state_at(store, User, "ada", at=moment).state() == expected[last]

    frame = history(store, User, "ada")
    assert list(frame.index) == list(range(1, len(expected)))
    for version in frame.index:
        assert frame.loc[version, "state"] == expected[version]
        before = {k: v for k, v in expected[version - 1].items() if k != "version"}
        after = {k: v for k, v in expected[version].items() if k != "version"}
        changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
        assert frame.loc[version, "changes"] == changed
        assert len(changed) == (3 if version == 1 else 1)  # every recorded event changes a field


@property_test
@given(scenario=scenarios)
def test_time_travel_replays_any_user_history_in_memory(scenario: Scenario) -> None:
    store = InMemoryEventStore(clock=StepClock(START, scenario.step), ids=SeededIds(1))

    check_time_travel(store, run_scenario(store, scenario))


@slow_store_property_test
@given(scenario=scenarios)
def test_time_travel_replays_any_user_history_in_duckdb(scenario: Scenario) -> None:
    with DuckDBEventStore(
        ":memory:", clock=StepClock(START, scenario.step), ids=SeededIds(1)
    ) as store:
        check_time_travel(store, run_scenario(store, scenario))
