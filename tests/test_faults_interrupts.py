"""An interrupt (the notebook's stop button) at every statement of an append, a bulk import, a
catch-up page and a rebuild: the same object stays usable and consistent, no global position
is written twice, and the interrupt reaches the caller as ``KeyboardInterrupt``.

Each operation first runs once on a counting :class:`tests.faulty.Faulty` connection, to learn
its statements; then once per statement, per fault (``KeyboardInterrupt`` or DuckDB's
``RuntimeError: Query interrupted``), raised before the engine runs the statement or after it
ran (and maybe committed). ``test_faults_signals.py`` sends real SIGINTs to a child process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from esteach import (
    ANY,
    CommandProcessor,
    DuckDBEventStore,
    Event,
    InMemoryEventStore,
    NewEvent,
    SQLiteEventStore,
    StepClock,
    UserQueryModel,
)
from esteach.domains.user import CreateUser, User
from tests.faulty import FAULTS, Faulty

START = datetime(2025, 1, 1, tzinfo=UTC)


def check_log(store: DuckDBEventStore) -> None:
    """Positions unique and dense from 1, versions dense per stream, heads as in the file."""
    rows = store.sql(
        "SELECT count(*), count(DISTINCT global_position), coalesce(max(global_position), 0) "
        "FROM events"
    ).fetchall()
    count, distinct, top = rows[0]
    assert count == distinct == top, f"positions: {count} rows, {distinct} distinct, max {top}"
    assert store.head_position() == top
    gaps = store.sql(
        "SELECT aggregate_id, count(*), max(version) FROM events GROUP BY 1 "
        "HAVING count(*) <> max(version) OR count(DISTINCT version) <> count(*)"
    ).fetchall()
    assert gaps == []
    for stream, version in store.sql(
        "SELECT aggregate_id, max(version) FROM events GROUP BY 1"
    ).fetchall():
        assert store.stream_version(stream) == version
        assert [e.version for e in store.get_events(stream)] == list(range(1, version + 1))


def interrupted(run: Callable[[], Any]) -> None:
    """Run ``run`` and require that it ends in KeyboardInterrupt (a raw DuckDB
    ``RuntimeError: Query interrupted`` must be translated)."""
    with pytest.raises(KeyboardInterrupt):
        run()


def statements(conn_owner: Any, attribute: str, run: Callable[[], Any]) -> list[str]:
    real = getattr(conn_owner, attribute)
    counter = Faulty(real)
    setattr(conn_owner, attribute, counter)
    try:
        run()
    finally:
        setattr(conn_owner, attribute, real)
    return counter.statements


def with_fault(
    conn_owner: Any, attribute: str, at: int, fault: str, after: bool, run: Callable[[], Any]
) -> Faulty:
    real = getattr(conn_owner, attribute)
    faulty = Faulty(real, at, FAULTS[fault], after=after)
    setattr(conn_owner, attribute, faulty)
    try:
        interrupted(run)
    finally:
        setattr(conn_owner, attribute, real)
    assert faulty.fired
    return faulty


# --- appends -----------------------------------------------------------------------------------

APPENDS: dict[str, Callable[[DuckDBEventStore], Any]] = {
    "known-version": lambda s: s.append_events("a", 1, [NewEvent("ItemAdded", {}, id="a-2")]),
    "any": lambda s: s.append_events("a", ANY, [NewEvent("ItemAdded", {}, id="a-2")]),
    "new-stream": lambda s: s.append_events("c", 0, [NewEvent("ItemAdded", {}, id="c-1")]),
    "two-events": lambda s: s.append_events(
        "a", 1, [NewEvent("ItemAdded", {}, id="a-2"), NewEvent("ItemAdded", {}, id="a-3")]
    ),
}


def seeded(path: Path, **options: Any) -> DuckDBEventStore:
    store = DuckDBEventStore(path, clock=StepClock(START - timedelta(days=1)), **options)
    store.append_events("a", 0, [NewEvent("ItemAdded", {}, id="a-1")])
    store.append_events("b", 0, [NewEvent("ItemAdded", {}, id="b-1")])
    return store


def append_cases() -> list[Any]:
    cases = []
    for name in APPENDS:
        for fault in FAULTS:
            for after in (False, True):
                cases.append(pytest.param(name, fault, after, id=f"{name}-{fault}-after{after}"))
    return cases


@pytest.mark.parametrize(("name", "fault", "after"), append_cases())
def test_an_interrupt_at_any_statement_of_an_append_leaves_the_store_usable(
    tmp_path: Path, name: str, fault: str, after: bool
) -> None:
    append = APPENDS[name]
    with seeded(tmp_path / "count.duckdb") as store:
        count = len(statements(store, "_conn", lambda: append(store)))
    assert count >= 1
    for at in range(1, count + 1):
        path = tmp_path / f"{at}.duckdb"
        store = seeded(path)
        with_fault(store, "_conn", at, fault, after, lambda s=store: append(s))  # type: ignore[misc]
        # The same object: the log and its heads agree with the file...
        check_log(store)
        # ...a retry with the same ids either writes the events or returns the stored ones...
        retried = append(store)
        assert all(isinstance(e, Event) for e in retried)
        # ...and the next appends take the next positions, never one already taken.
        more = store.append_events("b", ANY, [NewEvent("ItemAdded", {})])
        assert (
            more[0].global_position
            == store.sql("SELECT max(global_position) FROM events").fetchall()[0][0]
        )
        check_log(store)
        store.close()
        with DuckDBEventStore(path) as again:
            check_log(again)


def sample(count: int) -> list[Event]:
    return [
        Event(
            id=f"imp-{n}",
            aggregate_id=f"imp-{n % 3}",
            aggregate_type="Imported",
            event_type="ItemImported",
            version=n // 3 + 1,
            timestamp=START + timedelta(seconds=n),
            data={"n": n},
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("chunk", [25_000, 5])  # one INSERT; three, two of them on a thread
def test_an_interrupt_at_any_statement_of_a_bulk_import_imports_all_or_nothing(
    tmp_path: Path, fault: str, after: bool, chunk: int
) -> None:
    events = sample(12)
    with seeded(tmp_path / "count.duckdb", bulk_chunk=chunk) as store:
        count = len(statements(store, "_conn", lambda: store.bulk_import(events)))
    assert count >= (8 if chunk == 5 else 6)  # threads, BEGIN, INSERTs, COMMIT, threads
    for at in range(1, count + 1):
        store = seeded(tmp_path / f"{at}.duckdb", bulk_chunk=chunk)
        with_fault(store, "_conn", at, fault, after, lambda s=store: s.bulk_import(events))  # type: ignore[misc]
        check_log(store)
        imported = store.sql("SELECT count(*) FROM events WHERE id LIKE 'imp-%'").fetchall()[0][0]
        assert imported in (0, len(events))
        if imported == 0:  # nothing went in: running the cell again imports everything
            assert store.bulk_import(events) == len(events)
        store.append_events("b", 1, [NewEvent("ItemAdded", {})])
        check_log(store)
        store.close()


# --- read models -------------------------------------------------------------------------------


def user_log(path: Path, users: int = 4) -> DuckDBEventStore:
    store = DuckDBEventStore(path)
    processor = CommandProcessor(store, User)
    for n in range(users):
        processor.process_command(CreateUser(f"u{n}", f"u{n}@example.com", f"User {n}"))
    return store


def stored_checkpoint(model: Any) -> int:
    rows = model.processor.query("SELECT position FROM projection_checkpoints")
    return int(rows[0][0])


def user_rows(model: Any) -> list[tuple[Any, ...]]:
    return model.processor.query("SELECT * FROM users ORDER BY id")


PAGES: dict[str, Callable[[Any], Any]] = {
    "catch-up": lambda m: m.catch_up(batch_size=2),
    "rebuild": lambda m: m.rebuild(),
    "rebuild-set-based": lambda m: m.rebuild(set_based=True),
}


@pytest.mark.parametrize("operation", list(PAGES))
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("after", [False, True])
def test_an_interrupt_at_any_statement_of_a_read_model_page_leaves_it_consistent_and_usable(
    tmp_path: Path, operation: str, fault: str, after: bool
) -> None:
    run = PAGES[operation]
    store = user_log(tmp_path / "events.duckdb")
    expected_model = UserQueryModel(store)
    expected_model.catch_up()
    expected = user_rows(expected_model)
    counting = UserQueryModel(store)
    if operation != "catch-up":
        counting.catch_up(batch_size=2)
    count = len(statements(counting.processor, "_conn", lambda: run(counting)))
    for at in range(1, count + 1):
        model = UserQueryModel(store, database=tmp_path / f"users-{operation}-{at}.duckdb")
        if operation != "catch-up":
            model.catch_up(batch_size=2)
        with_fault(model.processor, "_conn", at, fault, after, lambda m=model: run(m))  # type: ignore[misc]
        # What the object believes is what its file holds...
        assert model.position == stored_checkpoint(model)
        # ...and the same object goes on to the head, with the rows a fresh model has.
        model.catch_up()
        assert model.position == store.head_position() == stored_checkpoint(model)
        assert user_rows(model) == expected
        assert model.lag() == 0
        model.processor.close()
    store.close()


# --- the in-memory store ------------------------------------------------------------------------


class InterruptOnStore(dict):  # type: ignore[type-arg]
    """An id index that raises KeyboardInterrupt at its ``at``-th store: the stop button landing
    between the lines that record one event."""

    def __init__(self, items: dict[str, Event], at: int) -> None:
        super().__init__(items)
        self.at = at

    def __setitem__(self, key: str, value: Event) -> None:
        self.at -= 1
        if self.at == 0:
            raise KeyboardInterrupt
        super().__setitem__(key, value)

    def update(self, items: Any = (), **more: Event) -> None:
        for key, value in dict(items, **more).items():
            self[key] = value


@pytest.mark.parametrize("at", [1, 2])
def test_an_interrupt_while_the_in_memory_store_records_leaves_it_whole(at: int) -> None:
    store = InMemoryEventStore(clock=StepClock(START))
    store.append_events("a", 0, [NewEvent("ItemAdded", {})])
    store._by_id = InterruptOnStore(store._by_id, at)  # type: ignore[assignment]
    batch = [NewEvent("ItemAdded", {}, id="a-2"), NewEvent("ItemAdded", {}, id="a-3")]
    with pytest.raises(KeyboardInterrupt):
        store.append_events("a", 1, batch)
    assert store.head_position() == 1 == store.stream_version("a")
    assert [e.version for e in store.read_all()] == [1]
    written = store.append_events("a", 1, batch)  # the retry goes in whole
    assert [(e.version, e.global_position) for e in written] == [(2, 2), (3, 3)]


# --- the SQLite store ---------------------------------------------------------------------------


@pytest.mark.parametrize("after", [False, True])
def test_an_interrupt_at_any_statement_of_a_sqlite_append_leaves_the_store_usable(
    tmp_path: Path, after: bool
) -> None:
    def seeded_sqlite(path: Path) -> SQLiteEventStore:
        store = SQLiteEventStore(path, clock=StepClock(START))
        store.append_events("a", 0, [NewEvent("ItemAdded", {}, id="a-1")])
        return store

    def append(store: SQLiteEventStore) -> list[Event]:
        return store.append_events("a", 1, [NewEvent("ItemAdded", {}, id="a-2")])

    counting = seeded_sqlite(tmp_path / "count.sqlite")
    count = len(statements(counting, "_conn", lambda: append(counting)))
    counting.close()
    for at in range(1, count + 1):
        store = seeded_sqlite(tmp_path / f"{at}.sqlite")
        with_fault(store, "_conn", at, "KeyboardInterrupt", after, lambda s=store: append(s))  # type: ignore[misc]
        assert [e.version for e in append(store)] == [2]  # written now, or the stored retry
        more = store.append_events("b", ANY, [NewEvent("ItemAdded", {})])
        assert [e.global_position for e in store.read_all()] == [1, 2, 3]
        assert more[0].global_position == 3 == store.head_position()
        store.close()


def test_an_interrupt_duckdb_caught_in_python_code_it_called_is_still_the_stop_button() -> None:
    """DuckDB turns a KeyboardInterrupt raised in Python it calls (pyarrow, pandas) into an
    error of its own; `is_interrupt` knows each form and `interrupt` gives it back."""
    import duckdb
    import pyarrow as pa

    from esteach.duck import interrupt, is_interrupt

    schema = pa.schema([("x", pa.int64())])

    def batches(error: BaseException) -> Any:
        yield pa.record_batch([pa.array([1])], schema=schema)
        raise error

    conn = duckdb.connect()
    caught = []
    for name, error in (("stopped", KeyboardInterrupt()), ("broken", ValueError("boom"))):
        conn.register(name, pa.RecordBatchReader.from_batches(schema, batches(error)))
        with pytest.raises(duckdb.Error) as raised:
            conn.sql(f"SELECT sum(x) FROM {name}").fetchall()
        caught.append(raised.value)
    assert [is_interrupt(exc) for exc in caught] == [True, False]
    assert isinstance(interrupt(caught[0]), KeyboardInterrupt)
    # The form a SIGINT gives while DuckDB counts or reads a registered Arrow table (seen in
    # tests/test_faults_signals.py), and a failure that only mentions the word.
    for text, stop in [
        ("Invalid Input Error: counting the rows of the object registered as 'p' failed: "
         "KeyboardInterrupt: ", True),
        ("Invalid Input Error: reading the object registered as 'p' as Arrow data failed: "
         "KeyboardInterrupt: ", True),
        ("Invalid Input Error: no column named KeyboardInterrupt", False),
    ]:  # fmt: skip
        assert is_interrupt(duckdb.InvalidInputException(text)) is stop
