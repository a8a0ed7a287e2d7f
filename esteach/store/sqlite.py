"""``SQLiteEventStore``: the event log in SQLite, for many small durable appends.

DuckDB is built for analytics: a single-row transaction costs it about 1.3 ms on a file.
SQLite is built for exactly that kind of write, and ships with Python (`sqlite3`), so the
command path of an application is faster here, while DuckDB stays the engine for bulk loads
and SQL over millions of events. The contract suite runs unchanged against both.

How it stays correct with several connections and processes on one file:

* The file is in **WAL** mode: readers never block the writer, and a crash never corrupts it.
* ``synchronous=NORMAL`` (the default here; pass ``synchronous="FULL"`` to change it): in WAL
  mode a commit is safe against the *application* crashing, but the last commits before a
  *power loss or operating-system crash* may be lost (never half of one: each append stays
  all or nothing). ``FULL`` syncs the log on every commit and closes that window, at the cost
  of one fsync per append.
* Every append runs in ``BEGIN IMMEDIATE``, which takes the file's write lock before reading
  anything, so the stream's version, the head and the last commit time it reads are the
  truth until it commits: positions are handed out in commit order, and a catch-up reader
  never skips one. ``global_position`` is the table's ``INTEGER PRIMARY KEY`` and
  ``(aggregate_id, version)`` and ``id`` are unique, so the file itself refuses a reused
  position, version or id.
* What this object knows without a query (the head and the versions of the streams it wrote)
  is trusted only while SQLite's ``PRAGMA data_version`` says no other connection committed.

>>> from esteach import NewEvent
>>> with SQLiteEventStore(":memory:") as store:
...     [e.version for e in store.append_events("u1", 0, [NewEvent("UserCreated", {})])]
[1]
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from esteach.checks import (
    check_aggregate_id,
    check_aware,
    check_event_type,
    check_limit,
    check_position,
    check_version,
)
from esteach.determinism import Clock, IdFactory, system_clock, uuid4_ids
from esteach.errors import DuplicateEventId, EventStoreError, InvalidInput
from esteach.events import Event, NewEvent
from esteach.jsondata import FrozenDict, freeze
from esteach.store.base import ExpectedVersion
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

__all__ = ["SQLiteEventStore"]

# --- all SQL of this store lives here ---------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    global_position INTEGER PRIMARY KEY,  -- total order over all streams, from 1
    aggregate_id    TEXT    NOT NULL,     -- the stream
    version         INTEGER NOT NULL,     -- order within the stream, from 1
    id              TEXT    NOT NULL UNIQUE,
    aggregate_type  TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,     -- past-tense business name
    timestamp       INTEGER NOT NULL,     -- commit time, microseconds since 1970 (UTC)
    data            TEXT    NOT NULL,     -- JSON
    correlation_id  TEXT,
    causation_id    TEXT,
    user_id         TEXT,
    source          TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    headers         TEXT,                 -- JSON; NULL when there are none
    UNIQUE (aggregate_id, version)
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type, global_position);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
"""
COLUMNS = (
    "global_position, aggregate_id, version, id, aggregate_type, event_type, timestamp, data, "
    "correlation_id, causation_id, user_id, source, schema_version, headers"
)
INSERT = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * 14)})"
HEAD = "SELECT global_position, timestamp FROM events ORDER BY global_position DESC LIMIT 1"
STREAM_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE aggregate_id = ?"
STREAM = f"SELECT {COLUMNS} FROM events WHERE aggregate_id = ? AND version >= ? ORDER BY version"
BY_TYPE = f"""
SELECT {COLUMNS} FROM events WHERE event_type = ? AND global_position >= ?
ORDER BY global_position LIMIT ?
"""
SINCE = f"SELECT {COLUMNS} FROM events WHERE timestamp >= ? ORDER BY global_position"
ALL = f"SELECT {COLUMNS} FROM events WHERE global_position >= ? ORDER BY global_position LIMIT ?"
BY_IDS = f"SELECT {COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?))"
STREAM_HEADS = """
SELECT aggregate_id, max(version) FROM events
WHERE aggregate_id IN (SELECT value FROM json_each(?)) GROUP BY aggregate_id
"""
NO_LIMIT: Final = -1  # SQLite's LIMIT -1: no limit

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_HEADERS = FrozenDict()


class SQLiteEventStore:
    """An event store in SQLite: ``SQLiteEventStore("events.sqlite")`` or ``(":memory:")``."""

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        clock: Clock = system_clock,
        ids: IdFactory = uuid4_ids,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        max_clock_jump: timedelta | None = DEFAULT_MAX_CLOCK_JUMP,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidInput(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        self.path = str(path)
        self._clock = clock
        self._clock_guard = ClockGuard(max_clock_jump)  # the rule for clocks that jump ahead
        self._ids = ids
        try:
            # Autocommit (isolation_level=None): transactions are begun and ended explicitly.
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise EventStoreError(f"cannot open SQLite file {self.path!r}: {exc}") from exc
        self._lock = threading.RLock()
        self._closed = False
        # What this connection knows, valid while no other connection has committed.
        self._seen_data_version = -1
        self._head = 0
        self._last: datetime | None = None
        self._streams: dict[str, int] = {}

    # --- writing ---------------------------------------------------------------------------

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        expected_version = check_expected_version(expected_version)
        batch = ensure_new_events(aggregate_id, events, self._ids)
        with self._writing() as conn:
            actual = self._version_of(aggregate_id)
            try:
                version = check_stream_expectation(aggregate_id, expected_version, actual)
            except EventStoreError:
                retry = self._retry_of(aggregate_id, batch)  # a retry wins over a conflict
                conn.execute("ROLLBACK")
                if retry is not None:
                    return retry
                raise
            if not batch:
                conn.execute("ROLLBACK")
                return []
            timestamp = next_timestamp(self._clock(), self._last, self._clock_guard)
            recorded = [
                stored_event(  # Event(...) without checking again what was checked on the way in
                    event_id,
                    aggregate_id,
                    new.aggregate_type,
                    new.event_type,
                    version + i,
                    timestamp,
                    new.data,  # read-only since it was made: nobody can change it
                    new.metadata,
                    self._head + i,
                )
                for i, (event_id, new) in enumerate(batch, start=1)
            ]
            conn.execute("SAVEPOINT rows")
            try:
                conn.executemany(INSERT, [_row(event) for event in recorded])
            except sqlite3.IntegrityError:
                # An id that is stored already: the retry rule says what it means, once the
                # rows this batch did insert are gone again.
                conn.execute("ROLLBACK TO rows")
                retry = self._retry_of(aggregate_id, batch)
                conn.execute("ROLLBACK")
                if retry is not None:
                    return retry
                raise EventStoreError(  # pragma: no cover - a refusal nothing above explains
                    f"SQLite refused the append to {aggregate_id!r} (a position or version "
                    f"already taken); nothing was written, try again"
                ) from None
            conn.execute("COMMIT")
            # _refresh read data_version under the write lock, and this connection's own commit
            # leaves it as it was: what is remembered here stays true until another commits.
            self._head = recorded[-1].global_position
            self._last = timestamp
            self._streams[aggregate_id] = recorded[-1].version
            return recorded

    def bulk_import(self, events: Iterable[Event]) -> int:
        events = list(events)
        with self._writing() as conn:
            streams = sorted(
                {
                    e.aggregate_id
                    for e in events
                    if isinstance(e, Event) and isinstance(e.aggregate_id, str)
                }
            )
            heads = dict(conn.execute(STREAM_HEADS, [json.dumps(streams)]).fetchall())
            checked = check_bulk(events, lambda s: heads.get(s, 0), self._last)
            start = self._head + 1
            rows = [_row(event, position) for position, event in enumerate(checked, start=start)]
            try:
                conn.executemany(INSERT, rows)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                ids = json.dumps([event.id for event in checked])
                taken = [e.id for e in _events(conn.execute(BY_IDS, [ids]).fetchall())]
                raise DuplicateEventId(
                    f"bulk_import: event id {taken[0] if taken else '?'!r} is already "
                    f"stored; nothing was imported"
                ) from None
            conn.execute("COMMIT")
            self._seen_data_version = -1  # many streams moved: read them from the file
            return len(checked)

    # --- reading ---------------------------------------------------------------------------

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        check_aggregate_id(aggregate_id)
        return self._rows(STREAM, [aggregate_id, check_version(from_version)])

    def get_events_by_type(
        self, event_type: str, limit: int | None = None, from_position: int = 0
    ) -> list[Event]:
        check_event_type(event_type)
        limit = check_limit(limit)
        params = [event_type, check_position(from_position), NO_LIMIT if limit is None else limit]
        return self._rows(BY_TYPE, params)

    def get_events_since(self, timestamp: datetime) -> list[Event]:
        return self._rows(SINCE, [_micros(check_aware(timestamp))])

    def read_all(self, from_position: int = 0, limit: int | None = None) -> list[Event]:
        limit = check_limit(limit)
        params = [check_position(from_position), NO_LIMIT if limit is None else limit]
        return self._rows(ALL, params)

    def stream_version(self, aggregate_id: str) -> int:
        check_aggregate_id(aggregate_id)
        with self._lock:
            self._check_open()
            self._refresh()
            return self._version_of(aggregate_id)

    def head_position(self) -> int:
        with self._lock:
            self._check_open()
            self._refresh()
            return self._head

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> SQLiteEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"head={self._head}"
        return f"SQLiteEventStore({self.path!r}, {state})"

    # --- helpers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The file's write lock (``BEGIN IMMEDIATE``): what is read inside is the truth until
        the body commits or rolls back; on any error, the rollback and a fresh look next time."""
        with self._lock:
            self._check_open()
            conn = self._conn
            try:
                # Inside the try: the stop button can land just after BEGIN began, and the
                # transaction must not stay open for the next call to trip over.
                conn.execute("BEGIN IMMEDIATE")
                self._refresh()
                yield conn
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # keep the original error
                        conn.execute("ROLLBACK")
                self._seen_data_version = -1  # ask the file again before trusting memory
                raise

    def _data_version(self) -> int:
        [(version,)] = self._conn.execute("PRAGMA data_version").fetchall()
        return int(version)

    def _refresh(self) -> None:
        """Forget what this object knew if another connection committed since (one PRAGMA)."""
        current = self._data_version()
        if current == self._seen_data_version:
            return
        rows = self._conn.execute(HEAD).fetchall()
        self._head, micros = rows[0] if rows else (0, None)
        self._last = None if micros is None else _EPOCH + timedelta(microseconds=micros)
        self._streams.clear()
        self._seen_data_version = current

    def _version_of(self, aggregate_id: str) -> int:
        known = self._streams.get(aggregate_id)
        if known is None:
            [(known,)] = self._conn.execute(STREAM_VERSION, [aggregate_id]).fetchall()
            self._streams[aggregate_id] = known
        return known

    def _retry_of(self, aggregate_id: str, batch: list[tuple[str, NewEvent]]) -> list[Event] | None:
        ids = json.dumps([event_id for event_id, _ in batch])
        by_id = {e.id: e for e in _events(self._conn.execute(BY_IDS, [ids]).fetchall())}
        return match_retry(aggregate_id, batch, [by_id.get(event_id) for event_id, _ in batch])

    def _rows(self, query: str, params: list[Any]) -> list[Event]:
        with self._lock:
            self._check_open()
            rows = self._conn.execute(query, params).fetchall()
        return _events(rows)

    def _check_open(self) -> None:
        if self._closed:
            raise EventStoreError("this event store is closed; open a new one")


def _micros(timestamp: datetime) -> int:
    delta = timestamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _row(event: Event, position: int | None = None) -> tuple[Any, ...]:
    meta = event.metadata
    return (
        event.global_position if position is None else position,
        event.aggregate_id,
        event.version,
        event.id,
        event.aggregate_type,
        event.event_type,
        _micros(event.timestamp),
        _json(event.data),
        meta.correlation_id,
        meta.causation_id,
        meta.user_id,
        meta.source,
        meta.schema_version,
        json.dumps(meta.headers, ensure_ascii=False, separators=(",", ":"))
        if meta.headers
        else None,
    )


def _events(rows: list[tuple[Any, ...]]) -> list[Event]:
    """Rows of ``COLUMNS`` as events; the data of all rows parsed by one ``json.loads``."""
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
            _EPOCH + timedelta(microseconds=micros),
            event_data,  # parsed for this read: a fresh copy nobody else holds
            stored_metadata(
                correlation_id,
                causation_id,
                user_id,
                source,
                schema_version,
                _NO_HEADERS if headers is None else freeze(json.loads(headers)),
            ),
            position,
        )
        for (
            position, aggregate_id, version, event_id, aggregate_type, event_type, micros, _,
            correlation_id, causation_id, user_id, source, schema_version, headers,
        ), event_data in zip(rows, data, strict=True)
    ]  # fmt: skip
