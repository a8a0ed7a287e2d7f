"""Damaged, foreign and old files, and backups: each ends in a clear ``EsteachError`` that names
the cause (or in a clean open), never in a raw DuckDB exception, and a failed open changes and
leaves nothing behind. ``docs/bad-input.md`` lists each case with its outcome.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from esteach import ANY, DuckDBEventStore, EsteachError, NewEvent, UserQueryModel
from esteach.errors import DamagedFile, IncompatibleFile, InvalidInput

BLOCK = 262144  # DuckDB's block size: a store of 20,000 events spans several blocks
HEADER = 3 * 4096


def build(path: Path, events: int = 20_000) -> None:
    """A store file of ``events`` events over 50 streams, checkpointed (no WAL beside it)."""
    with DuckDBEventStore(path) as store:
        for n in range(50):
            store.append_events(f"s{n}", 0, [NewEvent("ItemAdded", {"n": n})])
        store.sql(
            "INSERT INTO events SELECT 50 + i, 'bulk-' || (i % 7), i // 7 + 1, 'bulk-id-' || i, "
            "'Bulk', 'ItemImported', TIMESTAMP '2026-01-01', json_object('i', i, 'pad', "
            "repeat('x', 40)), NULL, NULL, NULL, 'test', 1, NULL FROM range(1, ?) t(i)",
            params=[events - 49],
        )
        store.sql("CHECKPOINT")
    assert not Path(f"{path}.wal").exists()


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "events.duckdb"
    build(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def use(path: Path, *, read_only: bool = False) -> list[str]:
    """Open the file and use it every way; return what happened at each step (an error class
    name or "ok"). Any exception that is not an EsteachError fails the test."""
    outcomes: list[str] = []

    def step(run: Callable[[], Any]) -> None:
        try:
            run()
        except EsteachError as exc:
            outcomes.append(type(exc).__name__)
        else:
            outcomes.append("ok")

    try:
        store = DuckDBEventStore(path, read_only=read_only)
    except EsteachError as exc:
        return [f"open: {type(exc).__name__}: {exc}"]
    try:
        step(lambda: store.read_all())
        for stream in ("s0", "bulk-3", "bulk-6"):
            step(lambda stream=stream: store.get_events(stream))  # type: ignore[misc]
        if not read_only:
            step(lambda: store.append_events("new", ANY, [NewEvent("ItemAdded", {})]))
            step(lambda: store.append_events("bulk-3", ANY, [NewEvent("ItemAdded", {})]))
    finally:
        try:
            store.close()
        except EsteachError as exc:
            outcomes.append(f"close: {type(exc).__name__}")
    return outcomes


def damaged_copy(good: Path, target: Path, damage: str) -> Path:
    data = bytearray(good.read_bytes())
    if damage == "empty":
        data = bytearray()
    elif damage == "truncated-half":
        data = data[: len(data) // 2]
    elif damage == "truncated-last-byte":
        data = data[:-1]
    elif damage.startswith("truncated-"):
        data = data[: int(damage.removeprefix("truncated-"))]
    elif damage == "flipped-blocks":  # 16 bytes in the middle of every block: bit rot
        for start in range(HEADER + BLOCK // 2, len(data) - 16, BLOCK):
            data[start : start + 16] = bytes(b ^ 0xFF for b in data[start : start + 16])
    elif damage == "zeroed-header":
        data[:4096] = bytes(4096)
    elif damage == "random":
        data = bytearray(random.Random(7).randbytes(1 << 20))
    target.write_bytes(bytes(data))
    return target


DAMAGES = [
    "empty",
    "truncated-100",
    "truncated-12288",
    f"truncated-{HEADER + BLOCK}",
    "truncated-half",
    "truncated-last-byte",
    "flipped-blocks",
    "zeroed-header",
    "random",
]


@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_file_gives_damaged_file_and_says_to_restore_it(
    good_file: Path, tmp_path: Path, damage: str, read_only: bool
) -> None:
    path = damaged_copy(good_file, tmp_path / "damaged.duckdb", damage)
    before = digest(path)

    outcomes = use(path, read_only=read_only)

    assert digest(path) == before, "a failed use must not change a damaged file"
    assert not Path(f"{path}.wal").exists() or not read_only
    failed = [o for o in outcomes if o != "ok"]
    assert failed, f"{damage}: every use succeeded: {outcomes}"
    assert all("DamagedFile" in o for o in failed), outcomes
    with pytest.raises(DamagedFile) as refused:
        store = DuckDBEventStore(path, read_only=read_only)
        try:
            store.read_all()
            for stream in ("bulk-3", "bulk-6"):
                store.get_events(stream)
            if not read_only:
                store.append_events("bulk-3", ANY, [NewEvent("ItemAdded", {})])
        finally:
            store.close()
    message = str(refused.value)
    assert "backup" in message
    if damage == "empty":
        assert "empty" in message and "delete it" in message.lower()


def test_a_truncated_file_is_refused_at_open_not_after_some_reads(
    good_file: Path, tmp_path: Path
) -> None:
    path = damaged_copy(good_file, tmp_path / "short.duckdb", "truncated-half")
    with pytest.raises(DamagedFile, match="shorter than"):
        DuckDBEventStore(path)
    with pytest.raises(DamagedFile, match="shorter than"):
        DuckDBEventStore(path, read_only=True)


# --- foreign and keyless tables ------------------------------------------------------------


def foreign(path: Path, sql: str) -> Path:
    conn = duckdb.connect(str(path))
    conn.execute(sql)
    conn.close()
    return path


FOREIGN = {
    "other-columns": (
        "CREATE TABLE events (id INTEGER, name VARCHAR, happened TIMESTAMP)",
        "aggregate_id",
    ),
    "a-view": (
        "CREATE VIEW events AS SELECT 1 AS global_position",
        "view",
    ),
    "wrong-type": (
        "CREATE TABLE events (global_position VARCHAR NOT NULL, aggregate_id VARCHAR NOT NULL, "
        "version BIGINT NOT NULL, id VARCHAR NOT NULL UNIQUE, aggregate_type VARCHAR NOT NULL, "
        "event_type VARCHAR NOT NULL, timestamp TIMESTAMP NOT NULL, data JSON NOT NULL, "
        "correlation_id VARCHAR, causation_id VARCHAR, user_id VARCHAR, source VARCHAR NOT "
        "NULL, schema_version INTEGER NOT NULL, PRIMARY KEY (aggregate_id, version))",
        "global_position",
    ),
}


@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
@pytest.mark.parametrize("case", list(FOREIGN))
def test_an_events_table_of_another_shape_is_refused_at_open_saying_what_differs(
    tmp_path: Path, case: str, read_only: bool
) -> None:
    sql, named = FOREIGN[case]
    path = foreign(tmp_path / "foreign.duckdb", sql)
    before = digest(path)
    with pytest.raises(IncompatibleFile, match=named):
        DuckDBEventStore(path, read_only=read_only)
    assert digest(path) == before


def keyless(good: Path, target: Path) -> Path:
    """The natural restore from Parquet: CREATE TABLE AS keeps the columns, drops the keys."""
    parquet = target.with_suffix(".parquet")
    conn = duckdb.connect(str(good), read_only=True)
    conn.execute(f"COPY events TO '{parquet}'")
    conn.close()
    return foreign(target, f"CREATE TABLE events AS SELECT * FROM '{parquet}'")


def test_an_events_table_without_its_keys_is_refused_naming_the_missing_keys(
    good_file: Path, tmp_path: Path
) -> None:
    path = keyless(good_file, tmp_path / "restored.duckdb")
    with pytest.raises(IncompatibleFile) as refused:
        DuckDBEventStore(path)
    message = str(refused.value)
    assert "(aggregate_id, version)" in message and "id" in message
    assert "CREATE UNIQUE INDEX" in message  # it says how to add them
    # Following the advice makes it a store that refuses a duplicate id again.
    conn = duckdb.connect(str(path))
    for statement in message.split("`"):
        if statement.startswith("CREATE UNIQUE INDEX"):
            conn.execute(statement)
    conn.close()
    with DuckDBEventStore(path) as store:
        batch = [NewEvent("ItemAdded", {"sku": "A"}, id="evt-retry-1")]
        store.append_events("order-1", ANY, batch)
        store.append_events("order-1", ANY, batch)  # an idempotent retry: written once
        ids = store.sql("SELECT count(*) FROM events WHERE id = 'evt-retry-1'").fetchall()
        assert ids == [(1,)]


def test_a_file_from_before_the_position_key_is_migrated_when_opened_for_writing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.duckdb"
    build(path, events=200)
    conn = duckdb.connect(str(path))
    conn.execute("DROP INDEX events_by_position")
    conn.close()
    with DuckDBEventStore(path, read_only=True) as reader:  # read-only: left as it is
        assert len(reader.read_all()) == 200
    with DuckDBEventStore(path) as store:
        unique = store.sql(
            "SELECT expressions FROM duckdb_indexes() WHERE table_name = 'events' AND is_unique"
        ).fetchall()
        assert any("global_position" in str(row[0]) for row in unique)
        store.append_events("s0", 1, [NewEvent("ItemAdded", {})])
        assert store.head_position() == 201


def test_a_file_with_repeated_positions_is_refused_for_writing_and_readable_read_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "repeated.duckdb"
    build(path, events=200)
    conn = duckdb.connect(str(path))
    conn.execute("DROP INDEX events_by_position")
    # What an interrupted append of an older esteach could leave: position 21 taken twice.
    conn.execute(
        "INSERT INTO events SELECT 21, 'dup', 1, 'dup-1', aggregate_type, event_type, "
        "timestamp, data, NULL, NULL, NULL, source, schema_version, NULL FROM events "
        "WHERE global_position = 21"
    )
    conn.close()
    with pytest.raises(IncompatibleFile, match="21"):
        DuckDBEventStore(path)
    with DuckDBEventStore(path, read_only=True) as reader:
        assert len(reader.read_all()) == 201


# --- failed opens leave nothing behind --------------------------------------------------------


def test_a_failed_open_of_a_new_file_leaves_no_file_behind(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with pytest.raises(EsteachError):
        DuckDBEventStore(path, threads=-1)  # refused by DuckDB after the file was created
    assert not path.exists()
    assert not Path(f"{path}.wal").exists()
    with DuckDBEventStore(path) as store:  # the path is free
        assert store.head_position() == 0


def test_a_read_model_open_failure_is_an_esteach_error(tmp_path: Path) -> None:
    with DuckDBEventStore(":memory:") as store:
        model_path = damaged_copy(
            Path(__file__), tmp_path / "model.duckdb", "random"
        )  # not a DuckDB file
        with pytest.raises(DamagedFile):
            UserQueryModel(store, database=model_path)


# --- backup ----------------------------------------------------------------------------------


def test_backup_holds_every_acknowledged_event_including_those_only_in_the_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.duckdb"
    store = DuckDBEventStore(path)
    for n in range(60):
        store.append_events(f"s{n % 7}", ANY, [NewEvent("ItemAdded", {"n": n})])
    assert Path(f"{path}.wal").exists()  # the events are in the WAL, not yet in the file

    copy = tmp_path / "copy.duckdb"
    store.backup(copy)
    store.append_events("after", 0, [NewEvent("ItemAdded", {})])  # the live store goes on

    with DuckDBEventStore(copy) as restored:
        assert restored.read_all() == store.read_all()[:60]
        # ...with its keys: a restored copy is a store like any other.
        restored.append_events("s0", ANY, [NewEvent("ItemAdded", {})])
        assert restored.head_position() == 61
    store.close()


def test_backup_of_an_in_memory_store_is_a_file_store(tmp_path: Path) -> None:
    with DuckDBEventStore(":memory:") as store:
        store.append_events("a", 0, [NewEvent("ItemAdded", {"x": 1})])
        store.backup(tmp_path / "mem.duckdb")
        with DuckDBEventStore(tmp_path / "mem.duckdb") as restored:
            assert restored.read_all() == store.read_all()


def test_backup_refuses_to_overwrite_a_file(tmp_path: Path) -> None:
    target = tmp_path / "taken.duckdb"
    target.write_bytes(b"precious")
    with DuckDBEventStore(":memory:") as store, pytest.raises(InvalidInput, match="exists"):
        store.backup(target)
    assert target.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["taken.duckdb"]


# --- what each engine message is called -------------------------------------------------------

ENGINE_MESSAGES = [
    (
        duckdb.TransactionException,
        'TransactionContext Error: Failed to commit: Could not write file "x.duckdb.wal": No '
        "space left on device",
        "DiskFull",
    ),
    (duckdb.IOException, 'IO Error: Could not write file "x": File too large', "DiskFull"),
    (
        duckdb.TransactionException,
        'TransactionContext Error: Failed to commit: Cannot open file "x.duckdb.wal": '
        "Permission denied",
        "FileNotWritable",
    ),
    (
        duckdb.IOException,
        'IO Error: Cannot open file "x.duckdb": Read-only file system',
        "FileNotWritable",
    ),
    (
        duckdb.IOException,
        'IO Error: Could not set lock on file "x.duckdb": Conflicting lock is held in python '
        "(PID 1)",
        "FileInUse",
    ),
    (
        duckdb.ConnectionException,
        "Connection Error: Can't open a connection to same database file with a different "
        "configuration than existing connections",
        "FileInUse",
    ),
    (
        duckdb.FatalException,
        "FATAL Error: Failed: database has been invalidated because of a previous fatal error",
        "DatabaseInvalidated",
    ),
    (
        duckdb.Error,
        "Corrupt database file: computed checksum 1 does not match stored checksum 2",
        "DamagedFile",
    ),
    (
        duckdb.IOException,
        'IO Error: Failure while replaying WAL file "x.duckdb.wal": WAL does not match database',
        "DamagedFile",
    ),
    (duckdb.CatalogException, "Catalog Error: Table with name nope does not exist!", None),
]


@pytest.mark.parametrize(("kind", "message", "expected"), ENGINE_MESSAGES)
def test_each_engine_failure_is_named_for_its_cause(
    kind: type[Exception], message: str, expected: str | None
) -> None:
    from esteach.duck import storage_error, translated

    error = storage_error(kind(message), "x.duckdb", "the append failed")
    if expected is None:  # not a storage fault: the caller's SQL error stays DuckDB's
        assert error is None
        return
    assert type(error).__name__ == expected
    assert isinstance(error, EsteachError)
    assert error.engine_message == message and message in str(error)
    assert str(error).startswith("the append failed")
    raised = translated(kind(message), "x.duckdb", "the append failed")
    assert raised.__cause__ is not None


def test_duckdbs_interrupt_error_becomes_keyboard_interrupt() -> None:
    from esteach.duck import translated

    assert isinstance(translated(RuntimeError("Query interrupted"), "", ""), KeyboardInterrupt)
    other = RuntimeError("something else")
    assert translated(other, "", "") is other
