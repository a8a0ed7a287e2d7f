"""What only the DuckDB store must get right: files shared by store objects, and lifetimes."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from esteach import DuckDBEventStore, EventStoreError, NewEvent, SeededIds, StepClock


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
