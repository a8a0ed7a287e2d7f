"""The DuckDB store's SQL text, the checks of a file's ``events`` table, and its row codec.

Kept apart from `esteach.store.duckdb` so the store class reads as what it does, and the SQL
reads as one place: every statement the store runs is here, as plain text with parameters.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

# DuckDB imports numpy lazily, at the first fetchnumpy; a SIGINT during that import leaves
# numpy half-imported and every later read fails with "cannot load module more than once per
# process" until the kernel restarts. Importing it here, with the store, closes that window
# (and the same for pyarrow, which DuckDB imports at the first Arrow fetch or scan).
import numpy as np
import pyarrow as pa

from esteach.duck import json_text, naive_utc
from esteach.errors import (
    IncompatibleFile,
)
from esteach.events import Event, EventMetadata
from esteach.jsondata import FrozenDict, freeze
from esteach.store.bulk import BulkColumns
from esteach.store.rules import (
    stored_event,
    stored_metadata,
)

if TYPE_CHECKING:
    pass

__all__ = ["COLUMNS", "SCHEMA"]

# --- all SQL of this store lives here ---------------------------------------------------------

COLUMNS = (
    "global_position, aggregate_id, version, id, aggregate_type, event_type, timestamp, data, "
    "correlation_id, causation_id, user_id, source, schema_version, headers"
)
_ROW = "(" + ", ".join("?" * 14) + ")"
# What reads select: the same columns, the commit time as microseconds since 1970, which
# becomes a UTC datetime in half the time a naive DuckDB timestamp does.
READ = COLUMNS.replace(" timestamp,", " epoch_us(timestamp),")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    global_position BIGINT    NOT NULL,   -- total order over all streams, from 1
    aggregate_id    VARCHAR   NOT NULL,   -- the stream
    version         BIGINT    NOT NULL,   -- order within the stream, from 1
    id              VARCHAR   NOT NULL UNIQUE,
    aggregate_type  VARCHAR   NOT NULL,
    event_type      VARCHAR   NOT NULL,   -- past-tense business name
    timestamp       TIMESTAMP NOT NULL,   -- commit time, UTC
    data            JSON      NOT NULL,
    correlation_id  VARCHAR,
    causation_id    VARCHAR,
    user_id         VARCHAR,
    source          VARCHAR   NOT NULL,
    schema_version  INTEGER   NOT NULL,
    headers         JSON,                 -- the caller's own metadata; NULL when there is none
    PRIMARY KEY (aggregate_id, version)
);
CREATE INDEX IF NOT EXISTS events_by_stream ON events (aggregate_id);
"""
# A global position is taken once, whatever happens: the index turns a reused position (a head
# left behind the file) into a refusal instead of a silent duplicate. Created on open, so a
# file from before it gets it too. Measured with benchmarks/position_index.py: appends with it
# were 3-19% slower in three of five runs and faster in one, i.e. within this machine's noise.
POSITION_KEY = "CREATE UNIQUE INDEX IF NOT EXISTS events_by_position ON events (global_position)"
REPEATED_POSITIONS = """
SELECT global_position FROM events GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 10
"""
# What an existing `events` table must have: these columns of these types, and the keys.
EXPECTED_COLUMNS = {
    "global_position": "BIGINT",
    "aggregate_id": "VARCHAR",
    "version": "BIGINT",
    "id": "VARCHAR",
    "aggregate_type": "VARCHAR",
    "event_type": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "data": "JSON",
    "correlation_id": "VARCHAR",
    "causation_id": "VARCHAR",
    "user_id": "VARCHAR",
    "source": "VARCHAR",
    "schema_version": "INTEGER",
    "headers": "JSON",  # added on open to files from before it (ADD_HEADERS)
}
TABLE_KIND = """
SELECT table_type FROM information_schema.tables
WHERE table_name = 'events' AND table_schema = current_schema()
"""
TABLE_COLUMNS = """
SELECT column_name, data_type FROM information_schema.columns
WHERE table_name = 'events' AND table_schema = current_schema()
"""
# Unique keys of the table, as sorted column lists: constraints and unique indexes alike.
TABLE_KEYS = """
SELECT constraint_column_names FROM duckdb_constraints()
WHERE table_name = 'events' AND schema_name = current_schema()
  AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')
"""
UNIQUE_INDEXES = """
SELECT expressions FROM duckdb_indexes()
WHERE table_name = 'events' AND schema_name = current_schema() AND is_unique
"""
KEYS = {
    ("aggregate_id", "version"): "CREATE UNIQUE INDEX events_stream_version ON events "
    "(aggregate_id, version)",
    ("id",): "CREATE UNIQUE INDEX events_id ON events (id)",
}

HEAD = "SELECT coalesce(max(global_position), 0), max(timestamp) FROM events"
HAS_HEADERS = """
SELECT 1 FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'headers'
"""
ADD_HEADERS = "ALTER TABLE events ADD COLUMN headers JSON"
STREAM_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE aggregate_id = ?"
# A stream's events. No ORDER BY: DuckDB keeps insertion order (preserve_insertion_order),
# which within a stream is version order, and _rows checks that and sorts if it ever is not;
# the ORDER BY cost more than the rest of a short stream's load (0.35 of 1.2 ms).
STREAM = f"SELECT {READ} FROM events WHERE aggregate_id = ?"
# From a version on: OFFSET 0 keeps the aggregate_id index lookup apart from the version
# filter, which would otherwise switch the index off.
STREAM_FROM = f"""
SELECT {READ} FROM (SELECT * FROM events WHERE aggregate_id = ? OFFSET 0) WHERE version >= ?
"""
BY_TYPE = f"""
SELECT {READ} FROM events WHERE event_type = ? AND global_position >= ?
ORDER BY global_position LIMIT ?
"""
SINCE = f"SELECT {READ} FROM events WHERE timestamp >= ? ORDER BY global_position"
ALL = f"SELECT {READ} FROM events WHERE global_position >= ? ORDER BY global_position LIMIT ?"
PAGE = f"""
SELECT {READ} FROM events WHERE global_position BETWEEN ? AND ? ORDER BY global_position
"""
BY_IDS = f"SELECT {READ} FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))"
STREAM_HEADS = """
SELECT aggregate_id, max(version) FROM events
WHERE aggregate_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY aggregate_id
"""
ALL_STREAM_HEADS = "SELECT aggregate_id, max(version) FROM events GROUP BY aggregate_id LIMIT ?"
GUARD = "WHERE EXISTS (SELECT 1 FROM events WHERE aggregate_id = ? AND version = ?)"
BULK = f"INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM esteach_bulk"
APPEND_FRAME = "esteach_append"
COLUMNAR = f"INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM {APPEND_FRAME}"
DEFAULT_COLUMNAR_THRESHOLD = 100  # measured: below it, VALUES is as fast or faster
NO_LIMIT = 2**62
MAX_KNOWN_STREAMS = 100_000  # stream heads kept in memory per file (about 10 MB at most)


def _insert(rows: int, guarded: bool) -> str:
    values = ", ".join([_ROW] * rows)
    if not guarded:  # the plain form: ~5% faster than selecting from VALUES
        return f"INSERT INTO events ({COLUMNS}) VALUES {values}"
    return f"INSERT INTO events ({COLUMNS}) SELECT * FROM (VALUES {values}) {GUARD}"


def _one(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    # fetchall, not fetchone: fetchone leaves the result open, and DuckDB 2.0 then refuses the
    # connection's next sql() with "connection has an unfinished result".
    rows = result.fetchall()
    return rows[0] if rows else None


_QUERIES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.PRAGMA}


def _writes(query: str) -> bool:
    """Whether ``query`` may change the file: any statement that is not a query."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error:
        return False  # DuckDB will refuse to run it, and say why
    return any(statement.type not in _QUERIES for statement in statements)


def _check_events_table(conn: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
    """Refuse a file whose ``events`` table is not an esteach log: another table's columns, a
    view, or the right columns without the keys (``CREATE TABLE AS`` from a Parquet backup
    drops them, and then a retried append is written twice). Says what is missing."""
    kind = conn.execute(TABLE_KIND).fetchall()
    doing = f"cannot open {path!r} as an event store"
    if not kind:
        if read_only:
            raise IncompatibleFile(
                f"{doing}: it has no events table, so it is not an event store (a read "
                f"model's or a snapshot file, perhaps). Open the file your DuckDBEventStore "
                f"writes."
            )
        return  # a new or foreign-but-eventless file: SCHEMA creates the table
    if kind[0][0] != "BASE TABLE":
        raise IncompatibleFile(
            f"{doing}: its 'events' is a {kind[0][0].lower()}, not a table (a view cannot "
            f"hold an event log). Open another file, or rename that view."
        )
    columns = {name: kind for name, kind in conn.execute(TABLE_COLUMNS).fetchall()}
    problems = [
        f"no column {name} {kind}"
        if name not in columns
        else f"column {name} is {columns[name]}, not {kind}"
        for name, kind in EXPECTED_COLUMNS.items()
        if columns.get(name) != kind and not (name == "headers" and name not in columns)
    ]
    if problems:
        raise IncompatibleFile(
            f"{doing}: its events table is not an esteach event log ({'; '.join(problems)}). "
            f"It belongs to something else: open another file."
        )
    keys = {tuple(sorted(names)) for (names,) in conn.execute(TABLE_KEYS).fetchall()}
    for (expressions,) in conn.execute(UNIQUE_INDEXES).fetchall():
        keys.add(tuple(sorted(_index_columns(expressions))))
    missing = [sql for columns_, sql in KEYS.items() if tuple(sorted(columns_)) not in keys]
    if missing:
        named = " and ".join(
            f"({', '.join(columns_)})" for columns_, sql in KEYS.items() if sql in missing
        )
        statements = "; ".join(f"`{sql}`" for sql in missing)
        raise IncompatibleFile(
            f"{doing}: its events table has the right columns but no unique key on {named} "
            f"(a restore with CREATE TABLE AS, say, drops keys). Without them a retried "
            f"append would be written twice and reused ids would pass. Add them with "
            f"{statements} (DuckDB refuses if rows already repeat), or restore from a backup "
            f"made with DuckDBEventStore.backup."
        )


def _index_columns(expressions: object) -> list[str]:
    # duckdb_indexes() lists an index's expressions (a list in 2.0.1, text in older releases),
    # quoting names that are keywords: ['aggregate_id', '"version"'].
    parts = (
        expressions
        if isinstance(expressions, (list, tuple))
        else str(expressions).strip("[]").split(",")
    )
    return [str(part).strip().strip("'\"") for part in parts if str(part).strip()]


def _add_position_key(conn: duckdb.DuckDBPyConnection, path: str) -> None:
    """Give the events table its unique global position, refusing a file that repeats one."""
    try:
        conn.execute(POSITION_KEY)
    except duckdb.ConstraintException as exc:
        repeated = [position for (position,) in conn.execute(REPEATED_POSITIONS).fetchall()]
        raise IncompatibleFile(
            f"cannot open {path!r} for writing: global positions repeat in its events table "
            f"(at {', '.join(map(str, repeated))}), as an interrupted append of an earlier "
            f"esteach could leave them; read models built by position would apply "
            f"the wrong events. Open it with read_only=True to read it, and repair it by "
            f"renumbering the positions in commit order, or restore from a backup.",
            str(exc),
        ) from exc


def _limit(limit: int | None) -> int:
    # DuckDB's LIMIT is a BIGINT: a bigger Python int would not convert, and means "all" anyway.
    return NO_LIMIT if limit is None else min(limit, NO_LIMIT)


def _params(event: Event) -> tuple[Any, ...]:
    meta = event.metadata
    return (
        event.global_position,
        event.aggregate_id,
        event.version,
        event.id,
        event.aggregate_type,
        event.event_type,
        naive_utc(event.timestamp),
        json_text(event.data),
        meta.correlation_id,
        meta.causation_id,
        meta.user_id,
        meta.source,
        meta.schema_version,
        json_text(meta.headers) if meta.headers else None,
    )


def _table(columns: BulkColumns, start: int) -> pa.Table:
    """The events as the ``events`` table's columns (an Arrow table DuckDB inserts from in
    place), positions from ``start``; the data is already JSON text."""
    events, string = columns.events, pa.string()
    n = len(events)
    metadata = [e.metadata for e in events]
    headers = [m.headers for m in metadata]
    return pa.table(
        {
            "global_position": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "aggregate_id": columns.aggregate_ids,
            "version": pa.array(columns.versions, pa.int64()),
            "id": columns.ids,
            "aggregate_type": pa.array([e.aggregate_type for e in events], string),
            "event_type": columns.event_types,
            "timestamp": columns.timestamps.cast(_MICROS),  # UTC, without a zone
            "data": columns.data,
            "correlation_id": pa.array([m.correlation_id for m in metadata], string),
            "causation_id": pa.array([m.causation_id for m in metadata], string),
            "user_id": pa.array([m.user_id for m in metadata], string),
            "source": pa.array([m.source for m in metadata], string),
            "schema_version": pa.array([m.schema_version for m in metadata], pa.int32()),
            "headers": pa.array(
                [json_text(h) if h else None for h in headers] if any(headers) else [None] * n,
                string,
            ),
        }
    )


_MICROS = pa.timestamp("us")


# --- reading rows back: built for speed, since a replay reads every one ----------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_HEADERS = FrozenDict()


def _metadata(*columns: list[Any]) -> list[EventMetadata]:
    """The rows' metadata; a row whose metadata equals the row before's shares its object (they
    are frozen): the events of one command do, and so do those of an imported log."""
    out: list[EventMetadata] = []
    append = out.append
    last: tuple[Any, ...] | None = None
    metadata = None
    for row in zip(*columns, strict=True):
        if row != last:
            correlation_id, causation_id, user_id, source, schema_version, headers = row
            metadata = stored_metadata(
                correlation_id, causation_id, user_id, source, schema_version,
                _NO_HEADERS if headers is None else freeze(json.loads(headers)),
            )  # fmt: skip
            last = row
        append(metadata)  # type: ignore[arg-type]
    return out


def _events(columns: list[list[Any]]) -> list[Event]:
    """The columns of ``READ`` as events, built for speed: a replay reads every one.

    The data of all rows is parsed in one ``json.loads`` (DuckDB's JSON column refused anything
    malformed on the way in, so each row holds one JSON value), and the metadata is not checked
    again: it was checked before it was written.
    """
    (positions, aggregate_ids, versions, ids, aggregate_types, event_types, timestamps, texts,
     correlation_ids, causation_ids, user_ids, sources, schema_versions,
     header_texts) = columns  # fmt: skip
    if not positions:
        return []
    data = json.loads("[" + ",".join(texts) + "]")
    return [
        stored_event(
            event_id,
            aggregate_id,
            aggregate_type,
            event_type,
            version,
            _EPOCH + timedelta(0, 0, microseconds),
            event_data,
            metadata,
            position,
        )
        for (
            position, aggregate_id, version, event_id, aggregate_type, event_type, microseconds,
            event_data, metadata,
        ) in zip(
            positions, aggregate_ids, versions, ids, aggregate_types, event_types, timestamps,
            data, _metadata(correlation_ids, causation_ids, user_ids, sources, schema_versions,
                            header_texts),
            strict=True,
        )
    ]  # fmt: skip
