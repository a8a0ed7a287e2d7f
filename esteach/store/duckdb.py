"""``DuckDBEventStore``: the event log in a DuckDB table, on a file or in memory.

How it stays fast and correct (each choice was measured when it was made):

* One command's append is **one INSERT statement**, so one transaction: its rows carry the
  versions ``expected + 1 ...``; the primary key ``(aggregate_id, version)`` rejects them if
  another writer got there first, and a guard on the row ``(aggregate_id, expected)`` (a point
  lookup in that key's index) rejects an expected version that is ahead of the stream. No
  version is read before writing.
* Global positions and commit timestamps are assigned under one lock per database file, shared
  by every store object of this process on that file, so positions commit in order and a
  catch-up reader never skips one. (DuckDB lets only one process write a file.)
* A second index on ``aggregate_id`` serves stream loads (the composite key cannot), and the
  loads filter ``version`` outside that lookup so the index stays in use.
* An append of ``columnar_threshold`` events or more (100 unless told) goes in as a pandas
  DataFrame registered on the connection, still in one ``INSERT ... SELECT`` statement with
  the same key, guard and retry rule: a long ``VALUES`` list with a parameter per field is
  parsed and bound value by value (about 4,000 events/s for one 10,000-event append).
* ``bulk_import`` checks a sample log over columns and inserts it from Arrow tables in one
  transaction, in chunks: DuckDB inserts one on a thread of its own while the next is checked
  (`esteach.store.duckdb_bulk`).
* The file is the truth. A unique index on ``global_position`` refuses a position twice, and
  after any failure whose outcome is unknown (an interrupt: DuckDB may raise *after* the
  INSERT committed), the store reads its head and stream versions from the file again before
  its next write or head-based read. Opening checks that an existing ``events`` table has
  esteach's columns and keys, and adds the position index to a file made before it existed.
* :meth:`DuckDBEventStore.backup` copies the log, with what is still in the write-ahead log,
  into a new file.

The table is plain SQL: ``store.sql("SELECT event_type, count(*) FROM events GROUP BY 1")``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

# DuckDB imports numpy lazily, at the first fetchnumpy; a SIGINT during that import leaves
# numpy half-imported and every later read fails with "cannot load module more than once per
# process" until the kernel restarts. Importing it here, with the store, closes that window.
import numpy  # noqa: F401

# The same for pyarrow, which DuckDB imports at the first Arrow fetch (`sql_arrow`).
import pyarrow as pa

from esteach import duck
from esteach.checks import (
    check_aggregate_id,
    check_aware,
    check_event_type,
    check_int,
    check_limit,
    check_position,
    check_version,
)
from esteach.determinism import Clock, IdFactory, system_clock, uuid4_ids
from esteach.duck import naive_utc, utc
from esteach.errors import (
    DuplicateEventId,
    EsteachError,
    EventStoreError,
    IncompatibleFile,
    InvalidInput,
    StorageError,
)
from esteach.events import Event, NewEvent
from esteach.store.base import ANY, NO_STREAM, STREAM_EXISTS, ExpectedVersion
from esteach.store.bulk import checked_columns, columns_of
from esteach.store.duckdb_bulk import DEFAULT_BULK_CHUNK, insert_in_chunks
from esteach.store.duckdb_sql import (
    ADD_HEADERS,
    ALL,
    ALL_STREAM_HEADS,
    APPEND_FRAME,
    BY_IDS,
    BY_TYPE,
    COLUMNAR,
    DEFAULT_COLUMNAR_THRESHOLD,
    GUARD,
    HAS_HEADERS,
    HEAD,
    MAX_KNOWN_STREAMS,
    NO_LIMIT,
    PAGE,
    READ,
    SCHEMA,
    SINCE,
    STREAM,
    STREAM_FROM,
    STREAM_HEADS,
    STREAM_VERSION,
    _add_position_key,
    _check_events_table,
    _events,
    _insert,
    _limit,
    _one,
    _params,
    _table,
    _writes,
)
from esteach.store.rules import (
    DEFAULT_MAX_CLOCK_JUMP,
    AppendSignal,
    ClockGuard,
    check_expected_version,
    check_stream_expectation,
    ensure_new_events,
    match_retry,
    next_timestamp,
    stored_event,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DuckDBEventStore"]

# --- one lock, head and last timestamp per database file ---------------------------------------


class _StreamHeads:
    """The latest version of the file's streams, bounded, least recently used dropped.

    DuckDB lets one process write a file, and every store object of this process on that file
    appends through the same :class:`_Database`, so a head recorded here is the truth: the
    version check needs no query, and a cache hit in a Repository costs no statement at all.

    While every stream of the file is here (``complete``: true from opening until more than
    ``maxsize`` streams exist), a stream that is not here has no events, so loading a new
    aggregate before its first command costs no query either.
    """

    def __init__(self, maxsize: int) -> None:
        self._heads: OrderedDict[str, int] = OrderedDict()
        self._maxsize = maxsize
        self._complete = False
        self._doubtful: set[str] = set()  # refused appends: ask the file, even when complete

    def get(self, aggregate_id: str) -> int | None:
        """The stream's version (0: no such stream), or None when only the file knows."""
        head = self._heads.get(aggregate_id)
        if head is None and self._complete and aggregate_id not in self._doubtful:
            return 0
        return head

    def get_many(self, streams: list[str]) -> dict[str, int] | None:
        """The versions of those of ``streams`` that exist, or None when only the file knows
        (`get` for many streams at once: a bulk import's)."""
        if not self._complete or not self._doubtful.isdisjoint(streams):
            return None
        heads = self._heads
        return {stream: heads[stream] for stream in heads.keys() & set(streams)}

    def remember(self, aggregate_id: str, version: int) -> None:
        self._heads[aggregate_id] = version
        self._heads.move_to_end(aggregate_id)
        self._doubtful.discard(aggregate_id)
        if len(self._heads) > self._maxsize:
            self._heads.popitem(last=False)
            self._complete = False
            self._doubtful.clear()

    def remember_all(self, heads: dict[str, int]) -> None:
        """`remember` for many streams at once (a bulk import's), in their order."""
        known = self._heads
        for stream in heads.keys() & known.keys():  # moved to the end, as remember does
            del known[stream]
        # One by one: OrderedDict.update(dict) first lists the items as new tuples, 25,000 of
        # them for the sample import, and those allocations alone set off ~35 collections of
        # the garbage collector, now and then a full one (90 ms in a process holding the log).
        for stream, version in heads.items():
            known[stream] = version
        self._doubtful.difference_update(heads)
        if len(known) > self._maxsize:
            for _ in range(len(known) - self._maxsize):
                known.popitem(last=False)
            self._complete = False
            self._doubtful.clear()

    def forget(self, aggregate_id: str) -> None:
        self._heads.pop(aggregate_id, None)
        if self._complete:
            self._doubtful.add(aggregate_id)

    def load(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Learn every stream's head from the file, if there are at most ``maxsize`` streams."""
        rows = conn.execute(ALL_STREAM_HEADS, [self._maxsize + 1]).fetchall()
        self._heads.clear()
        self._doubtful.clear()
        self._complete = len(rows) <= self._maxsize
        for aggregate_id, version in rows[: self._maxsize]:
            self._heads[aggregate_id] = version


@dataclass
class _Database:
    lock: threading.Lock = field(default_factory=threading.Lock)
    head: int = 0
    last_timestamp: datetime | None = None
    users: int = 0
    streams: _StreamHeads = field(default_factory=lambda: _StreamHeads(MAX_KNOWN_STREAMS))
    # Set when a write ended in a way that leaves its outcome unknown (an interrupt, an engine
    # error): head and stream heads may be behind the file until read from it again.
    dirty: bool = False
    signal: AppendSignal = field(default_factory=AppendSignal)  # wakes wait_for_append

    def read_file(self, conn: duckdb.DuckDBPyConnection, *, streams: bool) -> None:
        """Take head, last commit time and (with ``streams``) the stream heads from the file."""
        [(head, last)] = conn.execute(HEAD).fetchall()
        self.head, self.last_timestamp = head, None if last is None else utc(last)
        if streams:
            self.streams.load(conn)
            self.dirty = False


_databases: dict[str, _Database] = {}
_databases_lock = threading.Lock()
_memory_databases = itertools.count(1)


def _release(key: str, database: _Database) -> None:
    with _databases_lock:
        database.users -= 1
        if database.users == 0 and _databases.get(key) is database:
            del _databases[key]


def _duplicate_id(exc: duckdb.Error) -> Exception:
    """What a bulk import raises when DuckDB refused its rows: an id stored already."""
    if not _conflict(exc):
        return exc
    return DuplicateEventId(
        f"bulk_import: an event id is already stored ({exc}); nothing was imported"
    )


def _conflict(exc: duckdb.Error) -> bool:
    """Whether a refused INSERT clashed with stored rows (a concurrency conflict, a reused id):
    a constraint violation, at the INSERT or (from another cursor's transaction) at its commit.
    Any other commit failure (a full disk, an unwritable folder) is a storage fault."""
    if isinstance(exc, duckdb.ConstraintException):
        return True
    text = str(exc).lower()
    return isinstance(exc, duckdb.TransactionException) and (
        "constraint" in text or "conflict" in text
    )


class DuckDBEventStore:
    """An event store in DuckDB: ``DuckDBEventStore("events.duckdb")`` or ``(":memory:")``.

    >>> from esteach import DuckDBEventStore, NewEvent
    >>> with DuckDBEventStore(":memory:") as store:
    ...     [e.version for e in store.append_events("u1", 0, [NewEvent("UserCreated", {})])]
    [1]
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        clock: Clock = system_clock,
        ids: IdFactory = uuid4_ids,
        read_only: bool = False,
        threads: int | None = None,
        max_clock_jump: timedelta | None = DEFAULT_MAX_CLOCK_JUMP,
        columnar_threshold: int = DEFAULT_COLUMNAR_THRESHOLD,
        bulk_chunk: int = DEFAULT_BULK_CHUNK,
    ) -> None:
        self.path = str(path)
        # Appends of at least this many events go in through a DataFrame (see the module doc).
        self.columnar_threshold = check_int(columnar_threshold, "columnar_threshold", 1)
        # A bulk import goes in chunks of this many events (see esteach.store.duckdb_bulk).
        self.bulk_chunk = check_int(bulk_chunk, "bulk_chunk", 1)
        self._clock = clock
        self._clock_guard = ClockGuard(max_clock_jump)  # the rule for clocks that jump ahead
        self._ids = ids
        self.read_only = read_only
        # Every ":memory:" connection is a database of its own; files are shared by path.
        key = (
            f":memory:{next(_memory_databases)}"
            if self.path == ":memory:"
            else os.path.realpath(self.path)
        )

        def setup(conn: duckdb.DuckDBPyConnection) -> None:
            if threads is not None:
                conn.execute(f"SET threads = {int(threads)}")
            _check_events_table(conn, self.path, read_only)
            if not read_only:
                conn.execute(SCHEMA)
                if not conn.execute(HAS_HEADERS).fetchall():  # a file from before headers
                    conn.execute(ADD_HEADERS)
                _add_position_key(conn, self.path)
            elif not conn.execute(HAS_HEADERS).fetchall():
                raise IncompatibleFile(
                    f"{self.path!r} was written by an older esteach (its events table has no "
                    f"headers column): open it once without read_only, which adds the column."
                )

        self._conn = duck.open_file(self.path, read_only=read_only, setup=setup)
        self._conn_lock = threading.RLock()
        with _databases_lock:
            database = _databases.get(key)
            if database is None:
                database = _Database()
                try:
                    with duck.engine_errors(self.path, f"cannot open DuckDB file {self.path!r}"):
                        database.read_file(self._conn, streams=not read_only)
                except BaseException:
                    self._conn.close()
                    raise
                _databases[key] = database
            database.users += 1
        self._database = database
        # Released on close(), or when the store is garbage-collected unclosed (a notebook
        # that rebinds `store = ...`), so a later store on a new file never inherits its head.
        self._release = weakref.finalize(self, _release, key, database)
        self._closed = False

    # --- writing ---------------------------------------------------------------------------

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        expected_version = check_expected_version(expected_version)
        batch = ensure_new_events(aggregate_id, events, self._ids)
        self._check_writable()
        database = self._database
        with database.lock, self._conn_lock:
            self._check_open()
            try:
                return self._append(aggregate_id, expected_version, batch)
            except EsteachError as exc:  # an answer: what happened is known...
                if isinstance(exc, StorageError):  # ...except what a failing engine did
                    database.dirty = True
                raise
            except BaseException as exc:
                # An interrupt, or an engine error: the INSERT may have committed (DuckDB
                # raises KeyboardInterrupt after the commit, too). Ask the file before the
                # next write instead of guessing.
                database.dirty = True
                duck.reraise(exc, self.path, f"the append to stream {aggregate_id!r} failed")

    def _append(
        self,
        aggregate_id: str,
        expected_version: ExpectedVersion,
        batch: list[tuple[str, NewEvent]],
    ) -> list[Event]:
        database = self._database
        if database.dirty:
            database.read_file(self._conn, streams=True)
        known = database.streams.get(aggregate_id)
        if not batch or expected_version in (ANY, STREAM_EXISTS):
            actual = known if known is not None else self._stream_version(aggregate_id)
            version = check_stream_expectation(aggregate_id, expected_version, actual)
            if not batch:
                return []
        else:
            version = 0 if expected_version == NO_STREAM else int(expected_version)
            if known is not None and known != version:
                # Decided in Python, but an exact retry of stored events must still win.
                return self._explain_refusal(aggregate_id, expected_version, batch)
        timestamp = next_timestamp(self._clock(), database.last_timestamp, self._clock_guard)
        # Built without Event()'s frozen-dataclass __init__: every field was checked on its way
        # in (a NewEvent's) or is the store's own, and a 10,000-event append builds 10,000.
        head = database.head
        recorded = [
            stored_event(
                event_id,
                aggregate_id,
                new.aggregate_type,
                new.event_type,
                version + i,
                timestamp,
                new.data,  # a NewEvent's data: checked and frozen
                new.metadata,
                head + i,
            )
            for i, (event_id, new) in enumerate(batch, start=1)
        ]
        # With the stream's head known the key alone guards the append; otherwise the row
        # at `version` must exist, or a too-high expected version would leave a gap.
        guarded = version > 0 and known is None
        try:
            if len(recorded) >= self.columnar_threshold:
                inserted = self._insert_frame(recorded, guarded, aggregate_id, version)
            else:
                params: list[Any] = [p for event in recorded for p in _params(event)]
                if guarded:
                    params += [aggregate_id, version]
                inserted = _one(self._conn.execute(_insert(len(recorded), guarded), params))
        except duckdb.Error as exc:
            if not _conflict(exc):
                raise
            inserted = None
        if inserted is None or inserted[0] != len(recorded):
            database.streams.forget(aggregate_id)
            return self._explain_refusal(aggregate_id, expected_version, batch)
        database.head += len(recorded)
        database.last_timestamp = timestamp
        database.streams.remember(aggregate_id, recorded[-1].version)
        database.signal.appended(database.head)
        return recorded

    def _insert_frame(
        self, recorded: list[Event], guarded: bool, aggregate_id: str, version: int
    ) -> tuple[Any, ...] | None:
        """The columnar append: the events as a DataFrame, inserted by one statement.

        One statement is one transaction, as with ``VALUES``: the key refuses a taken version
        (a ``ConstraintException``, as before) and the guard refuses an expected version ahead
        of the stream (no rows inserted), so the caller explains a refusal the same way.
        """
        frame = _table(columns_of(recorded), recorded[0].global_position)
        query, params = COLUMNAR, []
        if guarded:
            query, params = f"{COLUMNAR} {GUARD}", [aggregate_id, version]
        with duck.registered(self._conn, APPEND_FRAME, frame):
            return _one(self._conn.execute(query, params))

    def _explain_refusal(
        self,
        aggregate_id: str,
        expected_version: ExpectedVersion,
        batch: list[tuple[str, NewEvent]],
    ) -> list[Event]:
        """Say why an INSERT wrote nothing: an exact retry, a reused id, or a version conflict."""
        by_id = {e.id: e for e in self._rows(BY_IDS, [[event_id for event_id, _ in batch]])}
        retry = match_retry(aggregate_id, batch, [by_id.get(event_id) for event_id, _ in batch])
        if retry is not None:
            return retry
        actual = self._stream_version(aggregate_id)
        check_stream_expectation(aggregate_id, expected_version, actual)
        # Neither a retry nor a version conflict: the store's head was behind the file (rows
        # written by hand?). Read it again before the next write.
        self._database.dirty = True
        raise EventStoreError(  # pragma: no cover - a refusal none of the above explains
            f"DuckDB refused the append to stream {aggregate_id!r}: a global position it took "
            f"was already stored (rows written by hand without sql()?). The store reads its "
            f"head from the file again before its next write: run the append again. Nothing "
            f"was written."
        )

    def bulk_import(self, events: Iterable[Event]) -> int:
        events = list(events)
        self._check_writable()
        database = self._database
        with database.lock, self._conn_lock:
            self._check_open()
            try:
                return self._bulk_import(events)
            except EsteachError as exc:
                if isinstance(exc, StorageError):
                    database.dirty = True
                raise
            except BaseException as exc:  # outcome unknown (see append_events): ask the file
                database.dirty = True
                duck.reraise(exc, self.path, "bulk_import failed")

    def _bulk_import(self, events: list[Event]) -> int:
        database = self._database
        if database.dirty:
            database.read_file(self._conn, streams=True)
        if not events:
            return 0
        conn = self._conn
        try:
            # One DuckDB thread: into the indexed table, two insert slower (benchmarks/README.md).
            with (
                duck.one_thread(conn),
                duck.transaction(conn, _duplicate_id, path=self.path, doing="bulk_import failed"),
            ):
                last_versions = insert_in_chunks(
                    conn,
                    events,
                    size=self.bulk_chunk,
                    first_position=database.head + 1,
                    last_timestamp=database.last_timestamp,
                    known_heads=database.streams.get_many,
                    file_heads=self._file_heads,
                )
        except (EsteachError, duckdb.Error) as exc:
            refused = _duplicate_id(exc) if isinstance(exc, duckdb.Error) else exc
            if isinstance(refused, (StorageError, duckdb.Error)):
                raise
            # Refused, nothing written. A chunk counts its items from its own start: the
            # whole batch, checked again, names the item in the batch (a repeated id too).
            checked_columns(events, self._stream_heads, database.last_timestamp)
            if refused is exc:
                raise
            raise refused from None
        database.head += len(events)
        database.last_timestamp = events[-1].timestamp
        # Each stream's last version, remembered under the lock, so these heads are the truth.
        database.streams.remember_all(last_versions)
        database.signal.appended(database.head)
        return len(events)

    def _stream_heads(self, streams: list[str]) -> dict[str, int]:
        """The versions of those of ``streams`` that exist: from memory if it knows them all
        (a new store's, say), else from the file."""
        heads = self._database.streams.get_many(streams)
        if heads is not None:
            return heads
        return self._file_heads(streams)

    def _file_heads(self, streams: list[str]) -> dict[str, int]:
        return dict(self._conn.execute(STREAM_HEADS, [streams]).fetchall())

    # --- reading ---------------------------------------------------------------------------

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        check_aggregate_id(aggregate_id)
        from_version = check_version(from_version)
        known = self._known_version(aggregate_id)
        if known is not None and max(from_version, 1) > known:
            return []  # nothing there yet (a new aggregate's first load, say): no query
        if from_version <= 1:
            return self._rows(STREAM, [aggregate_id], in_order="version")
        return self._rows(STREAM_FROM, [aggregate_id, from_version], in_order="version")

    def get_events_by_type(
        self, event_type: str, limit: int | None = None, from_position: int = 0
    ) -> list[Event]:
        check_event_type(event_type)
        limit = check_limit(limit)
        params = [event_type, check_position(from_position), _limit(limit)]
        return self._rows(BY_TYPE, params)

    def get_events_since(self, timestamp: datetime) -> list[Event]:
        return self._rows(SINCE, [naive_utc(check_aware(timestamp))])

    def read_all(self, from_position: int = 0, limit: int | None = None) -> list[Event]:
        limit = check_limit(limit)
        start = max(check_position(from_position), 1)
        if limit is None:
            return self._rows(ALL, [start, NO_LIMIT])
        # A page by its range of positions: "position >= start ... LIMIT n" makes DuckDB read
        # every later row to pick the first n, so paging a million events took quadratic time.
        # Positions are dense (the store assigns them one after another), so the range
        # [start, start + limit - 1] holds the page; a short answer where more rows were due
        # means a gap (rows removed by hand): then ask the slow way.
        self._check_open()
        self._reread_if_dirty()
        due = limit if self.read_only else min(limit, max(self._database.head - start + 1, 0))
        if due == 0:
            return []  # past the head of a store this process writes: no query
        page = self._rows(PAGE, [start, min(start + limit - 1, NO_LIMIT)])
        if len(page) < due:
            page = self._rows(ALL, [start, _limit(limit)])
        return page

    def select_events(self, where: str, params: Sequence[Any] = ()) -> list[Event]:
        """The events matching an SQL condition on the ``events`` table, in global order.

        >>> with DuckDBEventStore(":memory:") as store:
        ...     _ = store.append_events("u1", 0, [NewEvent("UserCreated", {"name": "Ada"})])
        ...     [e.data for e in store.select_events("data->>'name' = ?", ["Ada"])]
        [{'name': 'Ada'}]
        """
        if not isinstance(where, str) or not where.strip():
            raise InvalidInput(f"where must be an SQL condition, got {where!r}")
        return self._rows(f"SELECT {READ} FROM events WHERE {where} ORDER BY global_position",
                          list(params))  # fmt: skip

    def sql_df(self, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run ``query`` and fetch its whole result as a pandas DataFrame, under the store's
        lock (unlike :meth:`sql`, whose relation runs when you fetch it). Queries only."""
        if _writes(query):
            raise InvalidInput("sql_df runs queries; run statements that write with sql()")
        with self._conn_lock:
            self._check_open()
            try:
                return self._conn.execute(query, list(params)).df()
            except BaseException as exc:
                duck.reraise(exc, self.path, "the query failed")

    def sql_arrow(self, query: str, params: Sequence[Any] = ()) -> pa.Table:
        """`sql_df`, fetched as a pyarrow Table: columns without a Python object per value, which
        another DuckDB connection scans in place (what set-based rebuilds hand a read model)."""
        if _writes(query):
            raise InvalidInput("sql_arrow runs queries; run statements that write with sql()")
        with self._conn_lock:
            self._check_open()
            try:
                return self._conn.sql(query, params=list(params)).to_arrow_table()
            except BaseException as exc:
                duck.reraise(exc, self.path, "the query failed")

    def stream_version(self, aggregate_id: str) -> int:
        check_aggregate_id(aggregate_id)
        known = self._known_version(aggregate_id)
        if known is not None:
            return known
        with self._conn_lock:
            self._check_open()
            return self._stream_version(aggregate_id)

    def head_position(self) -> int:
        self._check_open()
        if self.read_only:  # another process may be writing: ask the file
            with self._conn_lock:
                try:
                    row = _one(self._conn.execute(HEAD))
                except BaseException as exc:
                    duck.reraise(exc, self.path, "reading the store's head failed")
            return int(row[0]) if row else 0
        self._reread_if_dirty()
        return self._database.head

    def sql(self, query: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL against the store's connection, e.g. over the ``events`` table.

        Queries are what it is for. A statement that writes (an ``INSERT`` by hand, say) works
        too, and the store then reads its head and stream versions from the file again, since
        it cannot tell what changed.
        """
        writes = _writes(query)
        with self._database.lock if writes else contextlib.nullcontext(), self._conn_lock:
            self._check_open()
            try:
                relation = self._conn.sql(query, params=params)
                if writes and not self.read_only:
                    self._database.read_file(self._conn, streams=True)
            except BaseException as exc:
                if writes:
                    self._database.dirty = True  # what the statement did is unknown
                duck.reraise(exc, self.path, "the SQL statement failed")
            return relation

    def backup(self, path: str | os.PathLike[str]) -> None:
        """Copy the whole log into a new DuckDB file at ``path``: a backup that works while the
        store is open.

        Copying ``events.duckdb`` with ``cp`` is not a backup: DuckDB keeps the latest commits
        in ``events.duckdb.wal`` (up to 16 MiB of them) until it checkpoints, and a copy of the
        file alone silently lacks them. This runs DuckDB's ``COPY FROM DATABASE`` into a new
        file instead: one consistent snapshot, WAL included, with the table's keys and indexes,
        under the store's write lock so no append lands halfway. Open the copy with
        ``DuckDBEventStore(path)``. Refuses a ``path`` that exists; a failed backup leaves no
        file behind.
        """
        target = os.fspath(path)
        if not isinstance(target, str) or not target or target == ":memory:":
            raise InvalidInput(f"backup needs a file path, got {path!r}")
        if os.path.exists(target) or os.path.exists(f"{target}.wal"):
            raise InvalidInput(
                f"backup target {target!r} exists; choose a new path (a backup never "
                f"overwrites a file)"
            )
        with self._database.lock, self._conn_lock:
            self._check_open()
            try:
                [(name,)] = self._conn.execute("SELECT current_database()").fetchall()
                quoted = target.replace("'", "''")
                self._conn.execute(f"ATTACH '{quoted}' AS esteach_backup")
                try:
                    self._conn.execute(f'COPY FROM DATABASE "{name}" TO esteach_backup')
                finally:
                    self._conn.execute("DETACH esteach_backup")
            except BaseException as exc:
                for leftover in (target, f"{target}.wal"):
                    with contextlib.suppress(OSError):
                        os.remove(leftover)
                duck.reraise(exc, target, f"backup to {target!r} failed")

    def wait_for_append(self, after_position: int, timeout: float | None = None) -> bool:
        """Block until the head is past ``after_position``; False after ``timeout`` seconds.
        Woken by appends through this process's stores on the file."""
        return self._database.signal.wait(
            check_position(after_position), timeout, self.head_position
        )

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._conn_lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
        self._release()

    def __enter__(self) -> DuckDBEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"head={self._database.head}"
        return f"DuckDBEventStore({self.path!r}, {state})"

    # --- helpers ---------------------------------------------------------------------------

    def _known_version(self, aggregate_id: str) -> int | None:
        """The stream's version if known without a query; None for a read-only store, which
        another process may be writing, or a stream only the file knows."""
        self._check_open()
        if self.read_only:
            return None
        self._reread_if_dirty()
        return self._database.streams.get(aggregate_id)

    def _stream_version(self, aggregate_id: str) -> int:
        try:
            row = _one(self._conn.execute(STREAM_VERSION, [aggregate_id]))
        except BaseException as exc:
            duck.reraise(exc, self.path, f"reading the version of stream {aggregate_id!r} failed")
        return int(row[0]) if row else 0

    def _rows(self, query: str, params: list[Any], in_order: str | None = None) -> list[Event]:
        """The events ``query`` selects; sorted by the column ``in_order`` if not already."""
        with self._conn_lock:
            self._check_open()
            # Columns, not rows: numpy hands DuckDB's columns over faster than fetchall
            # builds row tuples (a fifth of a 10,000-event load), and tolist() makes them
            # plain Python values again (None where the column is NULL).
            try:
                result = self._conn.execute(query, params).fetchnumpy()
            except BaseException as exc:
                duck.reraise(exc, self.path, "reading events failed")
        columns = list(result.values())
        if in_order is not None:
            key = result[in_order]
            if len(key) > 1 and not (key[1:] > key[:-1]).all():
                order = key.argsort(kind="stable")
                columns = [column[order] for column in columns]
        return _events([column.tolist() for column in columns])

    def _reread_if_dirty(self) -> None:
        """Before an answer that trusts the in-memory head: read it from the file again if a
        write ended with its outcome unknown."""
        database = self._database
        if database.dirty and not self.read_only:
            with database.lock, self._conn_lock:
                if database.dirty:
                    try:
                        database.read_file(self._conn, streams=True)
                    except BaseException as exc:
                        duck.reraise(exc, self.path, "reading the store's head failed")

    def _check_open(self) -> None:
        if self._closed:
            raise EventStoreError("this event store is closed; open a new one")

    def _check_writable(self) -> None:
        if self.read_only:
            raise EventStoreError(
                f"this store was opened read_only on {self.path!r}; open it without "
                f"read_only to append"
            )
