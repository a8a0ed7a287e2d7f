"""The read side: EventProcessor (checkpoint, transactions, catch-up, rebuild) and read models.

Tests that read events run against every store through the ``store`` fixture; the read model's
own database is ``":memory:"`` unless a test is about where it lives.
"""

from __future__ import annotations

import contextlib
import doctest
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

import esteach.projections
import esteach.store.duckdb_sql
from esteach import (
    CommandProcessor,
    DuckDBEventStore,
    Event,
    EventMetadata,
    EventRegistry,
    EventStore,
    InMemoryEventStore,
    InvalidInput,
    NewEvent,
    SeededIds,
    StepClock,
)
from esteach.checks import MAX_PAGE_SIZE
from esteach.domains.account import (
    BankAccount,
    CloseAccount,
    DepositMoney,
    OpenAccount,
    WithdrawMoney,
)
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserCreated,
)
from esteach.projections import EventProcessor, ProjectionError, ProjectionTimeout
from esteach.readmodels.accounts import AccountBalances, AccountView
from esteach.readmodels.users import UserQueryModel, UserView

START = datetime(2024, 1, 1, tzinfo=UTC)

# --- stores and helpers ------------------------------------------------------------------------


def make_store(kind: str, tmp_path: Path, step: timedelta = timedelta(seconds=1)) -> EventStore:
    clock, ids = StepClock(START, step), SeededIds(7)
    if kind == "memory":
        return InMemoryEventStore(clock=clock, ids=ids)
    if kind == "duckdb-memory":
        return DuckDBEventStore(":memory:", clock=clock, ids=ids)
    return DuckDBEventStore(tmp_path / "events.duckdb", clock=clock, ids=ids)


STORES = ["memory", "duckdb-memory", "duckdb-file"]


@pytest.fixture(params=[*STORES, "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    made: EventStore
    if request.param == "postgres":  # on the session's server, in a schema of its own
        from pgtesting import fresh_schema

        from esteach.store.postgres import PostgresEventStore

        url = request.getfixturevalue("postgres_url")
        made = PostgresEventStore(
            url, schema=fresh_schema(), clock=StepClock(START, timedelta(seconds=1)),
            ids=SeededIds(7),
        )  # fmt: skip
    else:
        made = make_store(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture
def users(store: EventStore) -> CommandProcessor[User]:
    return CommandProcessor(store, User, ids=SeededIds(11))


def create_users(users: CommandProcessor[User], *people: tuple[str, str, str]) -> None:
    for user_id, email, name in people:
        users.process_command(CreateUser(user_id, email, name))


def a_small_history(users: CommandProcessor[User]) -> None:
    """Three users; one renamed, one with a new email, one deactivated."""
    create_users(
        users,
        ("ada", "ada@example.com", "Ada Lovelace"),
        ("bob", "bob@example.com", "Bob"),
        ("cy", "cy@example.com", "Cy"),
    )
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"))
    users.process_command(ChangeName("bob", "Robert"))
    users.process_command(DeactivateUser("cy"))


def table(model: UserQueryModel | AccountBalances, name: str) -> list[tuple[Any, ...]]:
    return model.processor.query(f"SELECT * FROM {name} ORDER BY ALL")


def checkpoint_row(conn: duckdb.DuckDBPyConnection, name: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT position FROM projection_checkpoints WHERE name = ?", [name]
    ).fetchall()


class Recorder:
    """A handler that remembers the event types and positions it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def __call__(self, conn: duckdb.DuckDBPyConnection, event: Event) -> None:
        self.seen.append((event.event_type, event.global_position))


def noting_processor(store: EventStore, **kwargs: Any) -> EventProcessor:
    """A processor whose read model is a ``notes`` table: one row per event it handles."""
    processor = EventProcessor(
        store,
        name=kwargs.pop("name", "notes"),
        schema="CREATE TABLE IF NOT EXISTS notes (position BIGINT PRIMARY KEY, kind VARCHAR)",
        tables=["notes"],
        **kwargs,
    )
    for kind in ("UserCreated", "UserEmailChanged", "UserNameChanged", "UserDeactivated"):
        processor.register_event_handler(kind, note)
    return processor


def note(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute("INSERT INTO notes VALUES (?, ?)", [event.global_position, event.event_type])


def notes(processor: EventProcessor) -> list[tuple[Any, ...]]:
    return processor.query("SELECT * FROM notes ORDER BY position")


# --- the processor: handlers, checkpoint, transactions -------------------------------------


def test_handlers_fire_by_business_event_type(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    store.append_events("order-1", 0, [NewEvent("OrderPlaced", {"total": 5})])
    created, deactivated = Recorder(), Recorder()
    processor = EventProcessor(store, name="spy")
    processor.register_event_handler("UserCreated", created)
    processor.register_event_handler("UserDeactivated", deactivated)

    assert processor.catch_up() == 7

    assert created.seen == [("UserCreated", 1), ("UserCreated", 2), ("UserCreated", 3)]
    assert deactivated.seen == [("UserDeactivated", 6)]
    assert processor.position == 7  # events without a handler still move the checkpoint
    assert processor.applied == 7


def test_the_checkpoint_is_stored_beside_the_read_model_and_survives_a_restart(
    store: EventStore, users: CommandProcessor[User], tmp_path: Path
) -> None:
    a_small_history(users)
    path = tmp_path / "read-model.duckdb"
    with noting_processor(store, database=path) as processor:
        processor.catch_up(batch_size=4)
        assert checkpoint_row(processor.connection, "notes") == [(6,)]

    users.process_command(ChangeName("ada", "Countess"))
    with noting_processor(store, database=path) as reopened:
        assert reopened.position == 6
        assert reopened.catch_up() == 1  # only the new event
        assert [kind for _, kind in notes(reopened)][-1] == "UserNameChanged"
        assert len(notes(reopened)) == 7


def test_a_failing_handler_leaves_read_model_and_checkpoint_unchanged(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    processor = noting_processor(store)
    processor.catch_up(batch_size=1)
    users.process_command(ChangeName("ada", "Ada King"))  # position 7
    users.process_command(ChangeEmail("bob", "robert@example.com"))  # position 8, will fail
    users.process_command(ChangeName("bob", "Bobby"))  # position 9
    before = notes(processor)

    def broken(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
        note(conn, event)  # writes first, then fails: the write must be rolled back too
        raise RuntimeError("disk on fire")

    processor.register_event_handler("UserEmailChanged", broken)
    with pytest.raises(ProjectionError) as failure:
        processor.catch_up(batch_size=10)

    message = str(failure.value)
    for expected in ("position 8", "UserEmailChanged", "broken", "disk on fire", "'bob'"):
        assert expected in message
    assert (failure.value.position, failure.value.event_type) == (8, "UserEmailChanged")
    assert notes(processor) == before  # event 7, applied earlier in the page, is gone too
    assert processor.position == 6
    assert checkpoint_row(processor.connection, "notes") == [(6,)]

    processor.register_event_handler("UserEmailChanged", note)
    assert processor.catch_up() == 3
    assert [position for position, _ in notes(processor)] == list(range(1, 10))


def test_a_handler_that_swallows_a_duckdb_error_cannot_commit_half_a_page(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"), ("bob", "bob@example.com", "Bob"))
    processor = noting_processor(store)

    def swallowing(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
        note(conn, event)
        # The mistake: the transaction is aborted now, and a COMMIT would hide it.
        with contextlib.suppress(duckdb.Error):
            conn.execute("INSERT INTO notes VALUES (1, 'again')")  # duplicate key

    processor.register_event_handler("UserCreated", swallowing)
    for batch_size in (1, 2):  # caught by the checkpoint write, or by the next handler
        with pytest.raises(ProjectionError, match="already aborted"):
            processor.catch_up(batch_size)
        assert notes(processor) == []
        assert processor.position == 0


def test_an_interrupted_page_is_rolled_back(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"), ("bob", "bob@example.com", "Bob"))
    processor = noting_processor(store)

    def interrupted(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
        note(conn, event)
        if event.global_position == 2:
            raise KeyboardInterrupt  # the learner pressed stop in the middle of a page

    processor.register_event_handler("UserCreated", interrupted)
    with pytest.raises(KeyboardInterrupt):
        processor.catch_up()
    assert notes(processor) == []
    assert processor.position == 0


def test_handlers_are_registered_under_business_names_only(store: EventStore) -> None:
    processor = EventProcessor(store, name="strict")
    with pytest.raises(InvalidInput, match="not a business event name"):
        processor.register_event_handler("esteach.domains.user.UserCreated", note)
    with pytest.raises(InvalidInput, match="callable"):
        processor.register_event_handler("UserCreated", "note")  # type: ignore[arg-type]


def test_a_broken_schema_is_reported_with_the_projection_name(store: EventStore) -> None:
    with pytest.raises(ProjectionError, match="'typo' could not create its tables"):
        EventProcessor(store, name="typo", schema="CREATE TABEL oops (x INT)")


def test_redelivering_a_processed_event_changes_nothing(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    model = UserQueryModel(store)
    model.catch_up()
    before = table(model, "users")

    for event in store.read_all():
        assert model.processor.process_event(event) is False

    assert table(model, "users") == before
    assert model.processor.skipped == 6
    assert model.position == 6


def test_processing_the_same_event_twice_leaves_one_row(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"))
    model = UserQueryModel(store)
    [created] = store.read_all()

    assert model.processor.process_event(created) is True
    assert model.processor.process_event(created) is False

    assert model.count_users() == 1
    assert (model.processor.applied, model.processor.skipped) == (1, 1)


def test_process_event_refuses_to_skip_events(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"), ("bob", "bob@example.com", "Bob"))
    model = UserQueryModel(store)
    with pytest.raises(ProjectionError, match=r"skip events 1\.\.1"):
        model.processor.process_event(store.read_all()[1])
    with pytest.raises(InvalidInput, match="global_position"):
        model.processor.process_event(
            Event("x", "ada", "User", "UserCreated", 1, START, {}, global_position=0)
        )
    assert model.position == 0


def test_rebuild_gives_the_same_tables_as_incremental_catch_up(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    model = UserQueryModel(store)
    model.catch_up(batch_size=2)
    users.process_command(ChangeName("ada", "Countess"))
    create_users(users, ("dee", "dee@example.com", "Dee"))
    for event in store.read_all(model.position + 1):
        model.processor.process_event(event)
    incremental = table(model, "users")

    assert model.rebuild() == 8
    assert table(model, "users") == incremental
    assert model.position == 8

    assert model.rebuild(set_based=True) == 8
    assert table(model, "users") == incremental
    assert model.position == 8


def test_the_set_based_rebuild_catches_up_with_what_came_after_it(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    model = UserQueryModel(store)
    model.rebuild(set_based=True)
    users.process_command(ChangeEmail("bob", "rob@example.com"))
    assert model.catch_up() == 1
    view = model.get_user("bob")
    assert view is not None and view.email == "rob@example.com"


def test_rebuild_of_an_empty_store_gives_empty_tables(store: EventStore) -> None:
    model = UserQueryModel(store)
    assert model.rebuild(set_based=True) == 0
    assert model.rebuild() == 0
    assert model.count_users() == 0 and model.position == 0


def test_a_failing_set_based_rebuild_keeps_the_old_model(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    model = UserQueryModel(store)
    model.catch_up()
    before = table(model, "users")
    today = EventMetadata(schema_version=UserCreated.schema_version)
    no_email = NewEvent("UserCreated", {"user_id": "eve", "name": "Eve"}, metadata=today)
    store.append_events("eve", 0, [no_email])

    with pytest.raises(ProjectionError, match="position 7") as failure:
        model.rebuild(set_based=True)

    assert failure.value.handler == "load_users_in_bulk"
    assert table(model, "users") == before
    assert model.position == 6


def test_catch_up_continues_from_the_checkpoint_after_more_appends(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"))
    model = UserQueryModel(store)
    assert model.catch_up() == 1
    assert model.catch_up() == 0

    create_users(users, ("bob", "bob@example.com", "Bob"), ("cy", "cy@example.com", "Cy"))
    users.process_command(DeactivateUser("ada"))

    assert model.catch_up(batch_size=2) == 3
    assert model.count_users() == 3
    ada = model.get_user("ada")
    assert ada is not None and ada.status == "deactivated"


def test_lag_counts_the_events_behind_and_is_zero_after_catch_up(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    model = UserQueryModel(store)
    assert model.lag() == 0
    a_small_history(users)
    assert model.lag() == 6
    model.processor.process_event(store.read_all()[0])
    assert model.lag() == 5
    model.catch_up()
    assert model.lag() == 0


def test_wait_for_position_reads_your_own_writes(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    model = UserQueryModel(store)
    result = users.process_command(CreateUser("ada", "ada@example.com", "Ada"))
    assert result.position == 1

    assert model.wait_for_position(result.position) == 1
    assert model.get_user("ada") is not None
    nothing = users.process_command(ChangeName("ada", "Ada"))  # same name: no event
    assert model.wait_for_position(nothing.position) == 1


def test_wait_for_position_sees_events_appended_while_it_waits(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    model = UserQueryModel(store)
    writer = threading.Timer(0.05, create_users, [users, ("ada", "ada@example.com", "Ada")])
    writer.start()
    try:
        assert model.wait_for_position(1, timeout=5.0) == 1
    finally:
        writer.join()


def test_wait_for_position_can_wait_for_a_background_worker_instead_of_catching_up(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    model = UserQueryModel(store)
    result = users.process_command(CreateUser("ada", "ada@example.com", "Ada"))
    # Nobody runs the projection: watching the checkpoint alone never gets there.
    with pytest.raises(ProjectionTimeout):
        model.wait_for_position(result.position, timeout=0.05, catch_up_here=False)
    assert model.lag() == 1, "the waiting caller caught up although told not to"

    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            model.catch_up()
            stop.wait(0.01)

    background = threading.Thread(target=worker)
    background.start()
    try:
        assert model.wait_for_position(result.position, catch_up_here=False) == 1
        assert model.get_user("ada") is not None
    finally:
        stop.set()
        background.join()


def test_wait_for_position_times_out_clearly(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"))
    model = UserQueryModel(store)
    with pytest.raises(ProjectionTimeout) as timeout:
        model.wait_for_position(5, timeout=0.05)
    assert isinstance(timeout.value, TimeoutError)
    message = str(timeout.value)
    assert "position 5" in message and "at 1" in message and "head is only 1" in message
    with pytest.raises(InvalidInput, match="position must be an int"):
        model.wait_for_position(-1)


def test_a_replay_twice_leaves_one_row_per_user(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    conn = duckdb.connect()
    # Two projections with their own checkpoints write the same users table: every event is
    # applied twice to it, and the upserts still leave one row per user.
    first = UserQueryModel(store, database=conn, name="users-a")
    second = UserQueryModel(store, database=conn, name="users-b")
    first.catch_up()
    second.catch_up()
    once = UserQueryModel(store)
    once.catch_up()

    assert [row[0] for row in table(first, "users")] == ["ada", "bob", "cy"]
    assert table(first, "users") == table(once, "users")
    first.rebuild()
    first.rebuild()
    assert table(first, "users") == table(once, "users")


def test_a_read_model_from_another_store_is_refused_until_rebuilt(tmp_path: Path) -> None:
    old = make_store("memory", tmp_path)
    create_users(CommandProcessor(old, User), ("ada", "ada@example.com", "Ada"))
    create_users(CommandProcessor(old, User), ("bob", "bob@example.com", "Bob"))
    path = tmp_path / "read-model.duckdb"
    with UserQueryModel(old, database=path) as model:
        model.catch_up()

    fresh = make_store("memory", tmp_path)
    create_users(CommandProcessor(fresh, User), ("cy", "cy@example.com", "Cy"))
    with UserQueryModel(fresh, database=path) as model:
        with pytest.raises(ProjectionError, match="another event store"):
            model.catch_up()
        assert model.rebuild() == 1
        assert [u.id for u in model.list_users()] == ["cy"]


def test_a_second_processor_with_one_name_continues_from_the_stored_checkpoint(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    # The database is the truth: each catch_up takes the checkpoint from it.
    a_small_history(users)
    conn = duckdb.connect()
    first = UserQueryModel(store, database=conn)
    second = UserQueryModel(store, database=conn)
    first.catch_up()

    assert second.catch_up() == 0  # nothing applied twice
    assert checkpoint_row(conn, "users") == [(6,)]
    assert second.position == 6


class MovesFirst:
    """A store whose next read lets another processor catch up first: two processors with one
    name paging at the same time."""

    def __init__(self, store: EventStore, other: UserQueryModel) -> None:
        self.store, self.other, self.done = store, other, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def read_all(self, *args: Any, **kwargs: Any) -> list[Any]:
        page = self.store.read_all(*args, **kwargs)
        if page and not self.done:
            self.done = True
            self.other.catch_up()
        return page


def test_two_processors_with_one_name_paging_at_once_cannot_both_move_the_checkpoint(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    conn = duckdb.connect()
    first = UserQueryModel(store, database=conn)
    second = UserQueryModel(MovesFirst(store, first), database=conn)  # type: ignore[arg-type]

    with pytest.raises(ProjectionError, match="same name"):
        second.catch_up()
    assert checkpoint_row(conn, "users") == [(6,)]


def test_the_read_model_can_live_in_the_event_store_database(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path, clock=StepClock(START), ids=SeededIds(3)) as store:
        a_small_history(CommandProcessor(store, User))
        with UserQueryModel(store, database=path) as model:
            assert model.catch_up() == 6
            joined = model.processor.query(
                "SELECT count(*) FROM users JOIN events ON events.aggregate_id = users.id"
            )
            assert joined == [(6,)]


def test_the_module_examples_run() -> None:
    assert doctest.testmod(esteach.projections).failed == 0


# --- the users read model: queries --------------------------------------------------------


def test_get_user_shows_the_latest_state_with_utc_timestamps(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    model = UserQueryModel(store)
    model.catch_up()

    events = store.read_all()
    assert model.get_user("ada") == UserView(
        id="ada",
        email="ada@analytical.engine",
        name="Ada Lovelace",
        status="active",
        created_at=events[0].timestamp,
        updated_at=events[3].timestamp,
    )
    cy = model.get_user("cy")
    assert cy is not None and (cy.status, cy.updated_at) == ("deactivated", events[5].timestamp)
    assert cy.created_at.tzinfo is UTC
    assert model.get_user("nobody") is None


def search_fixture(users: CommandProcessor[User]) -> None:
    create_users(
        users,
        ("pct", "pct@example.com", "100% Ada"),
        ("und", "und@example.com", "snake_case"),
        ("bsl", "bsl@example.com", "back\\slash"),
        ("plain", "plain@example.com", "Plain Bob"),
        ("shout", "SHOUT@EXAMPLE.COM", "ADA LOUD"),
        ("zoe", "zoe@example.com", "Zoë Ünïcode"),
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("%", {"pct"}),
        ("_", {"und"}),
        ("\\", {"bsl"}),
        ("0% a", {"pct"}),
        ("e_c", {"und"}),
        ("ada", {"pct", "shout"}),
        ("ADA", {"pct", "shout"}),
        ("shout@example", {"shout"}),
        ("ünï", {"zoe"}),
        ("ZOË", {"zoe"}),
        ("nobody", set()),
    ],
)
def test_search_matches_wildcard_characters_literally_and_ignores_case(
    store: EventStore, users: CommandProcessor[User], query: str, expected: set[str]
) -> None:
    search_fixture(users)
    model = UserQueryModel(store)
    model.catch_up()
    assert {u.id for u in model.search_users(query)} == expected


def test_search_pages_newest_first(store: EventStore, users: CommandProcessor[User]) -> None:
    create_users(users, *[(f"u{i}", f"u{i}@example.com", f"Ada {i}") for i in range(5)])
    create_users(users, ("bob", "bob@example.com", "Bob"))
    model = UserQueryModel(store)
    model.catch_up()
    pages = [model.search_users("ada", page, 2) for page in (1, 2, 3, 4)]
    assert [[u.id for u in page] for page in pages] == [["u4", "u3"], ["u2", "u1"], ["u0"], []]


@pytest.mark.parametrize("kind", STORES)
def test_list_users_pages_newest_first_with_ties_broken_by_position(
    kind: str, tmp_path: Path
) -> None:
    # A clock that never moves: every user is created at the same instant.
    store = make_store(kind, tmp_path, step=timedelta(0))
    ids = [f"user-{i:02d}" for i in range(7)]
    create_users(CommandProcessor(store, User), *[(i, f"{i}@example.com", i) for i in ids])
    model = UserQueryModel(store)
    model.catch_up()

    pages = [[u.id for u in model.list_users(page, 3)] for page in (1, 2, 3, 4)]
    assert pages == [ids[6:3:-1], ids[3:0:-1], ids[0:1], []]
    assert [u.id for u in model.list_users(1, 3)] == pages[0]  # the same on every call
    assert len({u.created_at for u in model.list_users(1, 7)}) == 1
    store.close()


def test_list_users_puts_the_newest_first_by_creation_time(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)  # later changes to ada and bob must not move them up
    model = UserQueryModel(store)
    model.catch_up()
    assert [u.id for u in model.list_users()] == ["cy", "bob", "ada"]


@pytest.mark.parametrize(
    ("page", "page_size", "message"),
    [
        (0, 20, "page must be an int >= 1.*got int 0"),
        (-1, 20, "page must be an int >= 1.*got int -1"),
        ("2", 20, "page must be an int >= 1.*got str '2'"),
        (True, 20, "page must be an int >= 1.*got bool True"),
        (1.0, 20, "page must be an int >= 1.*got float 1.0"),
        (1, 0, f"page_size must be an int from 1 to {MAX_PAGE_SIZE}, got int 0"),
        (1, 101, f"page_size must be an int from 1 to {MAX_PAGE_SIZE}, got int 101"),
        (1, None, "page_size must be an int from 1 to 100, got NoneType None"),
    ],
)
def test_bad_pages_are_refused_before_anything_is_read(
    store: EventStore,
    users: CommandProcessor[User],
    monkeypatch: pytest.MonkeyPatch,
    page: Any,
    page_size: Any,
    message: str,
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"))
    model = UserQueryModel(store)
    accounts = AccountBalances(store)
    queries: list[str] = []
    for processor in (model.processor, accounts.processor):
        monkeypatch.setattr(processor, "query", lambda sql, params=None: queries.append(sql))

    with pytest.raises(InvalidInput, match=message):
        model.list_users(page, page_size)
    with pytest.raises(InvalidInput, match=message):
        model.search_users("ada", page, page_size)
    with pytest.raises(InvalidInput, match=message):
        accounts.list_accounts(page, page_size)
    assert queries == []


def test_the_largest_page_size_and_a_far_page_are_fine(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"))
    model = UserQueryModel(store)
    model.catch_up()
    assert len(model.list_users(1, MAX_PAGE_SIZE)) == 1
    assert model.list_users(10**30, MAX_PAGE_SIZE) == []


def test_events_in_an_old_schema_are_projected_after_upcasting(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    # The log holds a v1 "UserSignedUp" from before the event was renamed and reshaped.
    old = NewEvent(
        "UserSignedUp",
        {"login": "grace", "mail": "grace@navy.mil", "full_name": "Grace Hopper"},
        aggregate_type="User",
        metadata=EventMetadata(schema_version=1),
    )
    store.append_events("grace", 0, [old])
    create_users(users, ("ada", "ada@example.com", "Ada"))
    store.append_events(
        "grace", 1, [NewEvent("UserEmailChanged", {"new_email": "grace@example.com"})]
    )

    events = EventRegistry()  # a throwaway registry: the global one is left alone

    @events.upcaster("UserSignedUp", from_version=1, to_event_type="UserCreated")
    def signed_up_is_created(data: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": data["login"], "email": data["mail"], "name": data["full_name"]}

    model = UserQueryModel(store, registry=events)
    model.catch_up()
    grace = model.get_user("grace")
    assert grace is not None
    assert (grace.email, grace.name, grace.status) == (
        "grace@example.com",
        "Grace Hopper",
        "active",
    )
    per_event = table(model, "users")
    model.rebuild(set_based=True)
    assert table(model, "users") == per_event

    plain = UserQueryModel(store)  # without the upcaster, UserSignedUp means nothing here
    plain.catch_up()
    assert plain.count_users() == 1


def grace_first_release() -> NewEvent:
    """Grace as the first release of the User domain recorded her: ``UserRegistered`` v1."""
    return NewEvent(
        "UserRegistered",
        {"id": "grace", "email": "grace@navy.mil", "full_name": "Grace Hopper"},
        aggregate_type="User",
    )


def test_user_registered_events_of_the_first_release_are_projected_as_user_created(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    # The User domain's own upcaster (on the global registry) reads them as UserCreated.
    store.append_events("grace", 0, [grace_first_release()])
    users.process_command(ChangeEmail("grace", "grace@example.com"))
    model = UserQueryModel(store)
    model.catch_up()
    grace = model.get_user("grace")
    assert grace is not None
    assert (grace.email, grace.name) == ("grace@example.com", "Grace Hopper")
    per_event = table(model, "users")
    model.rebuild(set_based=True)
    assert table(model, "users") == per_event


def test_a_failing_upcaster_is_named_in_the_error(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    create_users(users, ("ada", "ada@example.com", "Ada"))
    events = EventRegistry()

    @events.upcaster("UserCreated", from_version=UserCreated.schema_version)
    def broken(data: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("surname")

    model = UserQueryModel(store, registry=events)
    with pytest.raises(ProjectionError, match="upcasting failed on UserCreated at position 1"):
        model.catch_up()
    assert model.position == 0


# --- the account balances read model ---------------------------------------------------------


@pytest.fixture
def accounts(store: EventStore) -> CommandProcessor[BankAccount]:
    return CommandProcessor(store, BankAccount, ids=SeededIds(13))


def a_few_accounts(accounts: CommandProcessor[BankAccount]) -> None:
    accounts.process_command(OpenAccount("acc-ada", "Ada", overdraft_limit=5_000))
    accounts.process_command(OpenAccount("acc-bob", "Bob"))
    accounts.process_command(DepositMoney("acc-ada", 10_000))
    accounts.process_command(WithdrawMoney("acc-ada", 12_500))
    accounts.process_command(DepositMoney("acc-bob", 700))
    accounts.process_command(WithdrawMoney("acc-bob", 700))
    accounts.process_command(CloseAccount("acc-bob"))
    accounts.process_command(OpenAccount("acc-cy", "Cy"))


def test_account_balances_follow_deposits_and_withdrawals(
    store: EventStore, accounts: CommandProcessor[BankAccount], users: CommandProcessor[User]
) -> None:
    a_few_accounts(accounts)
    create_users(users, ("ada", "ada@example.com", "Ada"))  # other events are passed over
    balances = AccountBalances(store)
    assert balances.catch_up(batch_size=3) == 9

    assert balances.get_balance("acc-ada") == -2_500
    assert balances.get_balance("acc-bob") == 0
    assert balances.get_balance("acc-nobody") is None
    assert balances.get_account("acc-bob") == AccountView("acc-bob", "Bob", 0, "closed", 2)
    assert balances.total_deposits() == 10_700
    assert [a.account_id for a in balances.list_accounts()] == ["acc-cy", "acc-bob", "acc-ada"]
    assert [a.account_id for a in balances.list_accounts(2, 2)] == ["acc-ada"]


def test_account_balances_count_each_deposit_once_under_redelivery_and_rebuild(
    store: EventStore, accounts: CommandProcessor[BankAccount]
) -> None:
    a_few_accounts(accounts)
    balances = AccountBalances(store)
    balances.catch_up()
    before = table(balances, "accounts")

    for event in store.read_all():  # increments are not idempotent: the checkpoint is
        balances.processor.process_event(event)
    assert table(balances, "accounts") == before

    assert balances.rebuild() == 8
    assert table(balances, "accounts") == before
    assert balances.total_deposits() == 10_700


def test_two_read_models_can_share_one_database(
    store: EventStore, accounts: CommandProcessor[BankAccount], users: CommandProcessor[User]
) -> None:
    a_few_accounts(accounts)
    create_users(users, ("ada", "ada@example.com", "Ada"))
    conn = duckdb.connect()
    user_model, balances = (
        UserQueryModel(store, database=conn),
        AccountBalances(store, database=conn),
    )
    user_model.catch_up()
    balances.catch_up()

    owners = conn.execute(
        "SELECT users.id, accounts.balance FROM users JOIN accounts ON accounts.owner = users.name"
    ).fetchall()
    assert owners == [("ada", -2_500)]
    assert sorted(checkpoint_row(conn, "users") + checkpoint_row(conn, "account_balances")) == [
        (9,),
        (9,),
    ]


def test_a_connection_shared_with_a_new_projection_accepts_sql_at_once() -> None:
    conn = duckdb.connect()
    UserQueryModel(InMemoryEventStore(), database=conn)
    assert conn.sql("SELECT 1").fetchall() == [(1,)]


# --- the log as one table, for set-based loaders ------------------------------------------------


def a_log_with_an_old_shape(store: EventStore, users: CommandProcessor[User]) -> None:
    """A small history, one account, and one first-release ``UserRegistered`` to upcast."""
    a_small_history(users)
    CommandProcessor(store, BankAccount, ids=SeededIds(3)).process_command(
        OpenAccount("acc-1", "ada")
    )
    store.append_events("grace", 0, [grace_first_release()])
    users.process_command(ChangeName("grace", "Grace B. Hopper"))


def log_frame_rows(store: EventStore, types: list[str]) -> list[tuple[Any, ...]]:
    processor = EventProcessor(store, name="frame")
    reader = esteach.projections.LogReader(
        store, processor.registry, store.head_position(), processor._error
    )
    frame = reader.frame(types).sort_values("position")
    assert reader.position == store.head_position()
    return [tuple(row) for row in frame.itertuples(index=False)]


def test_the_log_as_a_table_is_the_same_from_every_store(tmp_path: Path) -> None:
    frames = []
    for kind in STORES:
        (tmp_path / kind).mkdir()
        store = make_store(kind, tmp_path / kind)
        a_log_with_an_old_shape(store, CommandProcessor(store, User, ids=SeededIds(11)))
        frames.append(log_frame_rows(store, ["UserCreated", "UserNameChanged"]))
    assert frames[0] == frames[1] == frames[2]
    memory = frames[0]
    assert [row[3] for row in memory].count("UserCreated") == 4  # grace's, lifted from v1
    assert {row[3] for row in memory} == {"UserCreated", "UserNameChanged"}
    grace = [row for row in memory if row[2] == "grace"]
    assert '"name":"Grace Hopper"' in grace[0][5]


def log_table_rows(
    store: EventStore, types: list[str], fields: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    processor = EventProcessor(store, name="table")
    reader = esteach.projections.LogReader(
        store, processor.registry, store.head_position(), processor._error
    )
    rows: list[dict[str, Any]] = reader.table(types, fields).to_pylist()
    return sorted(rows, key=lambda r: r["position"])


ODD_KEYS = {"plain": 1, "a.b": "dotted", 'q"uote': "quoted", "it's": 2.5, "flag": True,
            "nested": {"k": [1, None]}, "nothing": None}  # fmt: skip


def test_the_log_as_a_table_reads_fields_alike_from_every_store(tmp_path: Path) -> None:
    """``fields`` reads data keys as ``data->>`` does (a string as it is, other values as JSON
    text, null or absent as None) from SQL and from Python (the memory store, upcast rows)."""
    fields = {
        "name": {"UserCreated": "name", "UserNameChanged": "new_name"},
        "odd": {"Odd": "a.b", "Odder": 'q"uote'},
        "value": {"Odd": "plain", "Odder": "it's", "Oddest": "flag", "Nested": "nested"},
        "none": {"Odd": "nothing", "Odder": "missing"},
    }
    tables = []
    for kind in STORES:
        (tmp_path / kind).mkdir()
        store = make_store(kind, tmp_path / kind)
        a_log_with_an_old_shape(store, CommandProcessor(store, User, ids=SeededIds(11)))
        for n, event_type in enumerate(["Odd", "Odder", "Oddest", "Nested"]):
            store.append_events(f"odd-{n}", 0, [NewEvent(event_type, ODD_KEYS)])
        types = ["UserCreated", "UserNameChanged", "Odd", "Odder", "Oddest", "Nested"]
        tables.append(log_table_rows(store, types, fields))
    assert tables[0] == tables[1] == tables[2]
    by_type = {row["event_type"]: row for row in tables[0]}
    assert [by_type[t]["odd"] for t in ("Odd", "Odder", "Oddest")] == ["dotted", "quoted", None]
    assert [by_type[t]["value"] for t in ("Odd", "Odder", "Oddest", "Nested")] == [
        "1", "2.5", "true", '{"k":[1,null]}']  # fmt: skip
    assert by_type["Odd"]["none"] is None and by_type["Odder"]["none"] is None
    assert "data" not in by_type["Odd"]
    grace = [row for row in tables[0] if row["aggregate_id"] == "grace"]
    assert [row["name"] for row in grace] == ["Grace Hopper", "Grace B. Hopper"]  # lifted v1


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"email": "email"}, "must map a column name"),
        ({1: {"UserCreated": "email"}}, "must map a column name"),
        ({"email": {"UserCreated": 5}}, "both str"),
        ({"email": {7: "email"}}, "both str"),
    ],
)
@pytest.mark.parametrize("kind", STORES)
def test_the_log_as_a_table_refuses_fields_it_cannot_read(
    tmp_path: Path, kind: str, fields: Any, says: str
) -> None:
    store = make_store(kind, tmp_path)
    a_small_history(CommandProcessor(store, User, ids=SeededIds(11)))
    with pytest.raises(InvalidInput, match=says):
        log_table_rows(store, ["UserCreated"], fields)


def test_a_set_based_rebuild_from_duckdb_builds_events_only_for_the_rows_it_upcasts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store("duckdb-file", tmp_path)
    a_log_with_an_old_shape(store, CommandProcessor(store, User, ids=SeededIds(11)))
    model = UserQueryModel(store)
    model.catch_up()
    per_event = table(model, "users")
    built: list[Any] = []
    real = esteach.store.duckdb_sql.stored_event
    monkeypatch.setattr(  # where the store's reads build their events
        esteach.store.duckdb_sql, "stored_event", lambda *a: built.append(a[0]) or real(*a)
    )

    assert model.rebuild(set_based=True) == store.head_position() == 9
    assert table(model, "users") == per_event
    assert len(built) == 1, "only the UserRegistered event passes through Python"


def test_select_events_sql_df_and_sql_arrow_refuse_what_they_cannot_run() -> None:
    with DuckDBEventStore(":memory:") as store:
        store.append_events("s", 0, [NewEvent("ItemAdded", {"n": 1})])
        assert [e.version for e in store.select_events("data->>'n' = ?", ["1"])] == [1]
        with pytest.raises(InvalidInput, match="SQL condition"):
            store.select_events("  ")
        with pytest.raises(InvalidInput, match="queries"):
            store.sql_df("DELETE FROM events")
        assert store.sql_df("SELECT count(*) AS n FROM events")["n"].tolist() == [1]
        with pytest.raises(InvalidInput, match="queries"):
            store.sql_arrow("DELETE FROM events")
        assert store.sql_arrow(
            "SELECT count(*) AS n FROM events WHERE version = ?", [1]
        ).to_pylist() == [{"n": 1}]
        assert store.stream_version("s") == 1


# --- page handlers --------------------------------------------------------------------------


def test_a_page_handler_gets_the_runs_of_its_types_in_order_between_other_handlers(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)  # 1-3 created, 4 email, 5 name, 6 deactivated
    processor = EventProcessor(store, name="runs")
    runs: list[list[int]] = []
    singles = Recorder()

    def page(conn: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
        runs.append([e.global_position for e in events])

    processor.register_page_handler(["UserCreated", "UserNameChanged"], page)
    processor.register_event_handler("UserEmailChanged", singles)
    # UserDeactivated has no handler: it does not end a run.
    assert processor.catch_up(batch_size=10) == 6

    assert runs == [[1, 2, 3], [5]]  # the email change at 4 came between them
    assert singles.seen == [("UserEmailChanged", 4)]
    assert processor.position == 6
    processor.register_event_handler("UserCreated", singles)  # replaces the page handler
    assert sorted(processor.page_handlers) == ["UserNameChanged"]
    assert processor.rebuild() == 6
    assert runs[2:] == [[5]] and singles.seen[1:] == [
        ("UserCreated", 1), ("UserCreated", 2), ("UserCreated", 3), ("UserEmailChanged", 4)
    ]  # fmt: skip


def test_a_failing_page_handler_rolls_back_the_page_and_names_the_run(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    processor = noting_processor(store)

    def broken(conn: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
        for event in events:
            note(conn, event)  # writes first, then fails after the loop: the whole run
        raise RuntimeError("disk on fire")

    processor.register_page_handler(["UserCreated", "UserEmailChanged"], broken)
    with pytest.raises(ProjectionError) as failure:
        processor.catch_up(batch_size=10)

    message = str(failure.value)
    for expected in ("broken failed on the 4 events at positions 1..4", "disk on fire"):
        assert expected in message
    assert failure.value.position == 1 and str(failure.value.handler).endswith("broken")
    assert notes(processor) == [] and processor.position == 0
    assert checkpoint_row(processor.connection, "notes") == [(0,)]


def test_a_page_handler_that_fails_on_one_events_fields_names_that_event(
    store: EventStore, users: CommandProcessor[User]
) -> None:
    a_small_history(users)
    processor = EventProcessor(store, name="fields")

    def emails(conn: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
        [e.data["email"] for e in events]  # UserEmailChanged has new_email, not email

    processor.register_page_handler(["UserCreated", "UserEmailChanged"], emails)
    with pytest.raises(ProjectionError, match="KeyError") as failure:
        processor.catch_up()
    assert (failure.value.position, failure.value.event_type) == (4, "UserEmailChanged")
    assert "at position 4 (stream 'ada', version 2)" in str(failure.value)
    assert processor.position == 0


def test_register_page_handler_refuses_bad_input(store: EventStore) -> None:
    processor = EventProcessor(store, name="refusing")
    with pytest.raises(InvalidInput, match="at least one event type"):
        processor.register_page_handler([], lambda conn, events: None)
    with pytest.raises(InvalidInput, match=r"handler\(conn, events\)"):
        processor.register_page_handler("UserCreated", "not a function")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        processor.register_page_handler(["UserCreated", ""], lambda conn, events: None)
    assert processor.page_handlers == {}


@pytest.mark.parametrize("model_class", [UserQueryModel, AccountBalances])
def test_the_built_in_read_models_catch_up_by_page(
    model_class: type[UserQueryModel | AccountBalances], store: EventStore
) -> None:
    model = model_class(store)
    assert set(model.processor.page_handlers) == set(model_class.handlers)
    assert model.processor.handlers == {}
