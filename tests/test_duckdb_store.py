"""What only the DuckDB store must get right: files shared by store objects, and lifetimes."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import esteach.store.duckdb as duckdb_store
from esteach import (
    DuckDBEventStore,
    DuplicateEventId,
    Event,
    EventMetadata,
    EventStoreError,
    InvalidInput,
    NewEvent,
    SeededIds,
    StepClock,
    WrongExpectedVersion,
)
from tests.test_collector import counted_collections


def created(n: int = 1) -> list[NewEvent]:
    return [NewEvent("ItemAdded", {"n": i}) for i in range(n)]


def test_a_store_dropped_without_close_leaves_no_head_behind_for_the_next_store() -> None:
    for _ in range(3):
        store = DuckDBEventStore(":memory:")
        [event] = store.append_events("s", 0, created())
        assert event.global_position == 1
        del store
        gc.collect()


def test_a_new_file_at_a_path_used_before_starts_at_position_one(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    first = DuckDBEventStore(path)
    first.append_events("s", 0, created(3))
    del first
    gc.collect()
    path.unlink()
    second = DuckDBEventStore(path)
    assert second.head_position() == 0
    assert [e.global_position for e in second.append_events("s", 0, created(2))] == [1, 2]
    second.close()


def test_two_store_objects_on_one_file_share_one_sequence_of_positions(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    a = DuckDBEventStore(path, clock=StepClock(), ids=SeededIds(1))
    b = DuckDBEventStore(path, clock=StepClock(), ids=SeededIds(2))
    for i in range(5):
        a.append_events(f"a-{i}", 0, created(2))
        b.append_events(f"b-{i}", 0, created(1))
    positions = [e.global_position for e in a.read_all()]
    assert positions == list(range(1, 16))
    assert [e.global_position for e in b.read_all()] == positions
    assert a.head_position() == b.head_position() == 15
    a.close()
    assert b.append_events("late", 0, created())[0].global_position == 16
    b.close()


def test_a_write_through_one_store_object_conflicts_with_a_stale_expectation_in_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    a, b = DuckDBEventStore(path), DuckDBEventStore(path)
    a.append_events("s", 0, created())
    with pytest.raises(EventStoreError, match="expected 0, but the stream is at version 1"):
        b.append_events("s", 0, created())
    assert len(b.get_events("s")) == 1
    a.close()
    b.close()


def test_a_read_only_store_reads_but_refuses_to_append(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as writer:
        writer.append_events("s", 0, created(2))
    with DuckDBEventStore(path, read_only=True) as reader:
        assert [e.version for e in reader.get_events("s")] == [1, 2]
        assert reader.head_position() == 2
        with pytest.raises(EventStoreError, match="read_only"):
            reader.append_events("s", 2, created())


def test_the_events_table_answers_sql(tmp_path: Path) -> None:
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        store.append_events("s", 0, created(3))
        rows = store.sql("SELECT version, data->>'n' FROM events ORDER BY version").fetchall()
    assert rows == [(1, "0"), (2, "1"), (3, "2")]


def test_sql_works_straight_after_opening_and_after_a_refused_append() -> None:
    with DuckDBEventStore(":memory:") as store:
        assert store.sql("SELECT 1").fetchall() == [(1,)]
        store.append_events("s", 0, created())
        with pytest.raises(EventStoreError):
            store.append_events("s", 0, created())
        assert store.stream_version("never-written") == 0
        assert store.sql("SELECT count(*) FROM events").fetchall() == [(1,)]


# --- what the store knows without asking the file ---------------------------------------------


class Counting:
    """A store's DuckDB connection that records each statement it runs."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, query: str, *args: Any) -> Any:
        self.statements.append(query)
        return self._conn.execute(query, *args)


def counting(store: DuckDBEventStore) -> Counting:
    conn = Counting(store._conn)
    store._conn = conn  # type: ignore[assignment]
    return conn


def test_loading_a_stream_before_its_first_event_costs_no_statement(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as writer:
        writer.append_events("old", 0, created(2))
    with DuckDBEventStore(path) as store:  # reopened: it learns the streams from the file
        conn = counting(store)
        assert store.get_events("new") == []
        assert store.stream_version("new") == 0
        assert store.get_events("old", 3) == []
        assert conn.statements == []
        assert [e.version for e in store.get_events("old")] == [1, 2]
        assert len(conn.statements) == 1
        assert [e.version for e in store.append_events("new", 0, created())] == [1]


def test_with_more_streams_than_it_keeps_the_store_asks_the_file_and_stays_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duckdb_store, "MAX_KNOWN_STREAMS", 3)
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as writer:
        for i in range(5):
            writer.append_events(f"s{i}", 0, created(i + 1))
    with DuckDBEventStore(path) as store:
        conn = counting(store)
        assert store.get_events("new") == []
        assert conn.statements, "an unknown stream may exist: the file must be asked"
        for i in range(5):
            assert store.stream_version(f"s{i}") == i + 1
            assert len(store.get_events(f"s{i}")) == i + 1
        with pytest.raises(WrongExpectedVersion):
            store.append_events("s0", 0, created())
        assert store.append_events("s0", 1, created())[0].version == 2


def test_a_bulk_import_of_more_streams_than_it_keeps_leaves_the_store_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The heads a bulk import remembers: the newest streams when there are too many."""
    monkeypatch.setattr(duckdb_store, "MAX_KNOWN_STREAMS", 3)
    with DuckDBEventStore(":memory:") as store:
        store.append_events("s0", 0, created())  # known, then imported again: moves to the end
        at = store.read_all()[-1].timestamp
        versions = {"s0": 1}
        events = []
        for i in range(8):
            stream = f"s{i % 5}"
            versions[stream] = versions.get(stream, 0) + 1
            events.append(Event(f"b{i}", stream, "T", "UserCreated", versions[stream], at, {}))
        assert store.bulk_import(events) == 8
        conn = counting(store)
        assert [store.stream_version(f"s{i}") for i in range(5)] == [3, 2, 2, 1, 1]
        assert len(conn.statements) >= 2, "the streams it forgot are asked of the file"
        assert store.append_events("s2", 2, created())[0].version == 3
        with pytest.raises(WrongExpectedVersion):
            store.append_events("s4", 0, created())


def imported(stream: str, first: int, n: int, at: Any) -> list[Event]:
    return [
        Event(f"{stream}-{first + i}", stream, "T", "ItemAdded", first + i, at, {"n": i})
        for i in range(n)
    ]


def test_a_bulk_import_asks_the_file_for_heads_only_when_memory_does_not_know_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as store:  # new: every stream is known, so none is asked for
        store.append_events("a", 0, created(2))
        at = store.read_all()[-1].timestamp
        conn = counting(store)
        assert store.bulk_import(imported("a", 3, 2, at) + imported("b", 1, 3, at)) == 5
        assert not [q for q in conn.statements if "max(version)" in q]
        with pytest.raises(DuplicateEventId):  # refused by the file: "c" is now in doubt
            store.append_events("c", 0, [NewEvent("ItemAdded", {}, id="b-1")])
        conn.statements.clear()
        assert store.bulk_import(imported("c", 1, 2, at)) == 2
        assert [q for q in conn.statements if "max(version)" in q], "a stream in doubt is asked"
    with DuckDBEventStore(path) as store:
        assert [store.stream_version(s) for s in "abc"] == [4, 3, 2]
        with pytest.raises(InvalidInput, match="next version there is 5"):
            store.bulk_import(imported("a", 6, 1, at))


def test_remembering_a_bulk_imports_streams_sets_off_no_garbage_collection() -> None:
    """OrderedDict.update(dict) lists the items as new tuples first: 25,000 streams set off
    ~35 collections, now and then a full one (90 ms in a process holding a large log)."""
    heads = duckdb_store._StreamHeads(100_000)
    heads.remember("s1", 7)
    with counted_collections() as collections:
        heads.remember_all({f"s{i}": i for i in range(25_000)})
    assert collections == []
    assert heads.get("s1") == 1 and heads.get("s24999") == 24999


def ten_events(at: Any) -> list[Event]:
    return [
        Event(f"i-{n}", f"s-{n % 3}", "T", "ItemAdded", n // 3 + 1, at + timedelta(seconds=n),
              {"n": n})
        for n in range(10)
    ]  # fmt: skip


def changed(events: list[Event], i: int, **changes: Any) -> list[Any]:
    return [replace(e, **changes) if n == i else e for n, e in enumerate(events)]


# Each: what is wrong with item 7 (in the third chunk of three events), or between chunks.
CHUNK_DEFECTS: dict[str, Any] = {
    "a version gap": lambda e: changed(e, 7, version=9),
    "an id from an earlier chunk": lambda e: changed(e, 7, id="i-1"),
    "an id stored already": lambda e: changed(e, 7, id="stored-1"),
    "a naive timestamp": lambda e: changed(e, 7, timestamp=datetime(2030, 1, 1)),
    "time going back between chunks": lambda e: changed(
        e, 6, timestamp=e[5].timestamp - timedelta(seconds=9)
    ),
    "not an event": lambda e: [*e[:7], "i-7", *e[8:]],
    "a tuple in the data": lambda e: changed(e, 7, data={"x": (1,)}),
}


@pytest.mark.parametrize("defect", list(CHUNK_DEFECTS))
def test_a_bulk_import_in_chunks_is_refused_as_in_one_naming_the_item(defect: str) -> None:
    """A chunk's check counts from its own start: the error must still name the item in the
    batch, exactly as an import in one chunk does, and nothing is written."""
    verdicts = []
    for chunk in (3, 25_000):
        with DuckDBEventStore(":memory:", bulk_chunk=chunk, clock=StepClock()) as store:
            store.append_events("x", 0, [NewEvent("ItemAdded", {}, id="stored-1")])
            events = CHUNK_DEFECTS[defect](ten_events(store.read_all()[-1].timestamp))
            with pytest.raises((InvalidInput, DuplicateEventId)) as refused:
                store.bulk_import(events)
            assert store.head_position() == 1
            assert store.bulk_import(ten_events(store.read_all()[-1].timestamp)) == 10
            verdicts.append((type(refused.value).__name__, str(refused.value)))
    assert verdicts[0] == verdicts[1]
    assert (
        "item 7" in verdicts[0][1]
        or "already stored" in verdicts[0][1]
        or "item 6" in verdicts[0][1]
    )


def test_a_bulk_import_in_chunks_asks_the_file_for_streams_memory_does_not_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duckdb_store, "MAX_KNOWN_STREAMS", 2)
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as writer:
        for i in range(3):
            writer.append_events(f"s-{i}", 0, created(i + 1))  # heads 1, 2, 3
        at = writer.read_all()[-1].timestamp
    with DuckDBEventStore(path, bulk_chunk=2) as store:
        conn = counting(store)
        events = [
            Event(f"i-{n}", f"s-{n % 3}", "T", "ItemAdded", n % 3 + 1 + n // 3 + 1, at, {})
            for n in range(9)
        ]
        assert store.bulk_import(events) == 9
        assert len([q for q in conn.statements if "max(version)" in q]) >= 2
    with DuckDBEventStore(path) as store:
        assert [store.stream_version(f"s-{i}") for i in range(3)] == [4, 5, 6]
        check = store.sql("SELECT count(*), max(global_position) FROM events").fetchall()
        assert check == [(15, 15)]


class StartedThenInterrupted(threading.Thread):
    """A thread whose start() is hit by the stop button just after it launched the thread:
    the race the SIGINT stress test found (is_alive() was still False, and the ROLLBACK raced
    the insert the thread then ran)."""

    def start(self) -> None:
        super().start()
        raise KeyboardInterrupt


def test_the_stop_button_as_a_chunk_thread_starts_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path, bulk_chunk=3, clock=StepClock()) as store:
        store.append_events("x", 0, created())
        events = ten_events(store.read_all()[-1].timestamp)
        # (The threading module itself: only the import's own thread starts meanwhile.)
        monkeypatch.setattr("esteach.store.duckdb_bulk.threading.Thread", StartedThenInterrupted)
        with pytest.raises(KeyboardInterrupt):
            store.bulk_import(events)
        monkeypatch.undo()
        assert store.head_position() == 1
        assert store.sql("SELECT count(*) FROM events").fetchall() == [(1,)]
        assert store.bulk_import(events) == 10
    with DuckDBEventStore(path) as store:
        assert store.head_position() == 11


def test_a_bulk_import_leaves_duckdbs_thread_setting_as_it_found_it() -> None:
    """It inserts on one thread (faster into the indexed table), and puts the setting back,
    also when the insert fails."""
    with DuckDBEventStore(":memory:") as store:
        store.sql("SET threads = 3")
        store.append_events("a", 0, created())
        at = store.read_all()[-1].timestamp
        assert store.bulk_import(imported("b", 1, 200, at)) == 200
        assert store.sql("SELECT current_setting('threads')").fetchall() == [(3,)]
        clash = imported("c", 1, 1, at)[0]
        with pytest.raises(DuplicateEventId):  # the file's unique key refuses it
            store.bulk_import([Event("b-1", *[getattr(clash, f) for f in FIELDS[1:]])])
        assert store.sql("SELECT current_setting('threads')").fetchall() == [(3,)]
        assert store.head_position() == 201


FIELDS = ("id", "aggregate_id", "aggregate_type", "event_type", "version", "timestamp", "data")


def test_after_an_append_the_file_refused_the_store_asks_the_file_again() -> None:
    with DuckDBEventStore(":memory:") as store:
        store.append_events("a", 0, [NewEvent("ItemAdded", {}, id="shared-id")])
        with pytest.raises(DuplicateEventId):
            store.append_events("b", 0, [NewEvent("ItemAdded", {}, id="shared-id")])
        conn = counting(store)
        assert store.stream_version("b") == 0
        assert conn.statements, "the refused stream's head is asked of the file"
        assert [e.version for e in store.append_events("b", 0, created())] == [1]


def test_a_row_inserted_by_hand_through_sql_is_seen_by_the_store() -> None:
    with DuckDBEventStore(":memory:") as store:
        store.append_events("s", 0, created())
        store.sql(
            "INSERT INTO events SELECT global_position + 1, 'by-hand', 1, 'hand-1', "
            "aggregate_type, event_type, timestamp, data, NULL, NULL, NULL, 'sql', 1, NULL "
            "FROM events"
        )
        assert store.stream_version("by-hand") == 1
        assert [e.id for e in store.get_events("by-hand")] == ["hand-1"]
        assert store.head_position() == 2
        with pytest.raises(WrongExpectedVersion):
            store.append_events("by-hand", 0, created())
        assert store.append_events("t", 0, created())[0].global_position == 3


def test_a_stream_stored_out_of_order_by_hand_still_loads_in_version_order() -> None:
    with DuckDBEventStore(":memory:") as store:
        for position, version in ((1, 3), (2, 1), (3, 2)):  # rows written by hand, shuffled
            store.sql(
                "INSERT INTO events VALUES (?, 's', ?, ?, 'T', 'ItemAdded', "
                "TIMESTAMP '2024-01-01', '{}', NULL, NULL, NULL, 'sql', 1, NULL)",
                [position, version, f"e{version}"],
            )
        assert [e.version for e in store.get_events("s")] == [1, 2, 3]
        assert [e.id for e in store.get_events("s", 2)] == ["e2", "e3"]
        assert [e.version for e in store.get_events("s", 3)] == [3]


@pytest.mark.parametrize("threshold", [0, -1, 1.5, "10"])
def test_columnar_threshold_must_be_a_positive_int(threshold: object) -> None:
    with pytest.raises(InvalidInput, match="columnar_threshold"):
        DuckDBEventStore(":memory:", columnar_threshold=threshold)  # type: ignore[arg-type]


def test_a_big_append_goes_in_as_a_frame_with_the_same_rows_as_by_values() -> None:
    batch = [NewEvent("ThingHappened", {"n": i, "é": [i, None]}, id=f"e-{i}") for i in range(150)]
    tables = []
    for threshold in (100, 10**9):  # 150 events: columnar, then VALUES
        with DuckDBEventStore(":memory:", columnar_threshold=threshold) as store:
            store.append_events("s", 0, batch[:1])
            recorded = store.append_events("s", 1, batch[1:])
            assert [e.version for e in recorded] == list(range(2, 151))
            assert store.read_all(2) == recorded
            rows = store.sql("SELECT * EXCLUDE (timestamp) FROM events ORDER BY 1").fetchall()
            tables.append(rows)
    assert tables[0] == tables[1]


def test_events_read_back_share_equal_metadata_and_keep_different_metadata_apart() -> None:
    same = EventMetadata(correlation_id="c-1", headers={"tenant": "a"})
    other = EventMetadata(correlation_id="c-1", headers={"tenant": "b"})
    with DuckDBEventStore(":memory:") as store:
        kinds = [same, same, other, same]
        store.append_events("s", 0, [NewEvent("ItemAdded", {}, metadata=m) for m in kinds])
        events = store.read_all()
    metadata = [e.metadata for e in events]
    assert metadata == [same, same, other, same]
    assert metadata[0] is metadata[1], "a row with the row before's metadata shares its object"
    assert metadata[2] is not metadata[1] and metadata[3] is not metadata[1]
    assert metadata[0].headers == {"tenant": "a"} and metadata[2].headers == {"tenant": "b"}
