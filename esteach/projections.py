"""The read side of CQRS: projections that turn the event log into tables you can query.

A **projection** reads events in global order and writes a **read model**: here, DuckDB tables
shaped for the questions the application asks. :class:`EventProcessor` runs one projection:

* a **handler** per business event type, ``handler(conn, event)``, writes through the given
  DuckDB connection; events of other types are passed over;
* a **checkpoint**, the global position of the last event processed, is stored in the table
  ``projection_checkpoints`` of the *same* database and written in the *same* transaction as
  the read model, so a crash can neither apply an event twice nor skip one (the reference
  design had no checkpoint and replayed by wall-clock time: flaw 7);
* :meth:`~EventProcessor.catch_up` applies the events after the checkpoint, one page per
  transaction; an event at or below the checkpoint is skipped, so redelivery changes nothing;
* :meth:`~EventProcessor.rebuild` wipes the read model and replays the whole log.

Two read models are built on it: :class:`UserQueryModel` (the reference design's ``users``
table, with safe pagination and literal search: flaws 5 and 6) and :class:`AccountBalances`.

>>> from esteach import CommandProcessor, InMemoryEventStore
>>> from esteach.domains.user import CreateUser, User
>>> store = InMemoryEventStore()
>>> _ = CommandProcessor(store, User).process_command(CreateUser("ada", "ada@example.com", "Ada"))
>>> model = UserQueryModel(store)
>>> model.catch_up()
1
>>> model.get_user("ada").email
'ada@example.com'
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

import duckdb

from esteach.domains.account import CLOSED, OPEN
from esteach.domains.user import ACTIVE, DEACTIVATED
from esteach.errors import EsteachError, InvalidEventData, InvalidInput
from esteach.events import Event, EventRegistry, check_event_type, check_text
from esteach.events import registry as default_registry
from esteach.store.base import EventStore
from esteach.store.duckdb import DuckDBEventStore, json_text, naive_utc

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_PAGE_SIZE",
    "AccountBalances",
    "AccountView",
    "BulkLoader",
    "EventProcessor",
    "Handler",
    "LogReader",
    "Projection",
    "ProjectionError",
    "ProjectionTimeout",
    "UserQueryModel",
    "UserView",
    "check_page",
]

Handler = Callable[[duckdb.DuckDBPyConnection, Event], None]
"""``handler(conn, event)``: apply one (upcast) event to the read model through ``conn``."""

BulkLoader = Callable[[duckdb.DuckDBPyConnection, "LogReader"], None]
"""``loader(conn, log)``: fill an empty read model from the whole log in a few statements.

``log`` is a :class:`LogReader`: iterate it for the (upcast) events, or take
``log.frame(event_types)`` as one table."""

MAX_PAGE_SIZE: Final = 100
"""The largest ``page_size`` a query accepts (the reference design had no bound: flaw 5)."""

_PAGE_SIZE_FOR_READING: Final = 10_000
_NO_ROWS: Final = 2**62  # an OFFSET past any table; keeps huge page numbers inside BIGINT


class ProjectionError(EsteachError):
    """A projection could not apply an event. The page was rolled back: nothing was written.

    ``position``, ``event_type`` and ``handler`` say which event and which handler failed.
    """

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        event_type: str | None = None,
        handler: str | None = None,
    ) -> None:
        super().__init__(message)
        self.position = position
        self.event_type = event_type
        self.handler = handler


class ProjectionTimeout(EsteachError, TimeoutError):
    """:meth:`EventProcessor.wait_for_position` gave up before the read model got there."""


# --- the checkpoint table: the one piece of SQL every projection shares ---------------------

CHECKPOINTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name     VARCHAR PRIMARY KEY,   -- the projection
    position BIGINT  NOT NULL       -- global position of the last event it processed
);
"""
ADD_CHECKPOINT = "INSERT INTO projection_checkpoints VALUES (?, 0) ON CONFLICT (name) DO NOTHING"
GET_CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = ?"
# Moves the checkpoint only from where this processor saw it: if another processor with the
# same name moved it meanwhile, no row matches and the page is rolled back.
MOVE_CHECKPOINT = "UPDATE projection_checkpoints SET position = ? WHERE name = ? AND position = ?"


class EventProcessor:
    """Runs one projection: handlers by event type, a checkpoint, catch-up and rebuild.

    ``database`` is where the read model and its checkpoint live: ``":memory:"``, a file path,
    or an open ``duckdb`` connection (shared with other projections, or with your own SQL).
    ``schema`` is SQL that creates the read model's tables (``CREATE TABLE IF NOT EXISTS``),
    and ``tables`` names the tables :meth:`rebuild` drops before running ``schema`` again.
    Handlers should be upserts (``INSERT OR REPLACE``, ``UPDATE ... SET x = ?``), so that
    replaying events over existing rows still leaves one row per thing.

    >>> from esteach import InMemoryEventStore, NewEvent
    >>> store = InMemoryEventStore()
    >>> _ = store.append_events("order-1", 0, [NewEvent("OrderPlaced", {"total": 5})])
    >>> orders = EventProcessor(store, name="orders", tables=["orders"],
    ...     schema="CREATE TABLE IF NOT EXISTS orders (id VARCHAR PRIMARY KEY, total BIGINT)")
    >>> def order_placed(conn, event):
    ...     conn.execute("INSERT OR REPLACE INTO orders VALUES (?, ?)",
    ...                  [event.aggregate_id, event.data["total"]])
    >>> orders.register_event_handler("OrderPlaced", order_placed)
    >>> orders.catch_up(), orders.query("SELECT * FROM orders"), orders.lag()
    (1, [('order-1', 5)], 0)
    """

    def __init__(
        self,
        store: EventStore,
        *,
        name: str,
        database: str | os.PathLike[str] | duckdb.DuckDBPyConnection = ":memory:",
        schema: str = "",
        tables: Sequence[str] = (),
        registry: EventRegistry = default_registry,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"a projection needs a non-blank name, got {name!r}")
        if isinstance(tables, str):
            raise InvalidInput(f"tables must be a list of table names, got the str {tables!r}")
        self.store = store
        self.name = name
        self.registry = registry
        self.schema = schema
        self.tables = tuple(tables)
        # Counters since this object was made. An event without a handler counts as applied:
        # applying it means doing nothing, and the checkpoint moves past it all the same.
        self.applied = 0
        self.skipped = 0  # events given to process_event at or below the checkpoint
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.RLock()
        if isinstance(database, duckdb.DuckDBPyConnection):
            self._conn, self._owns_conn = database, False
        else:
            self._conn, self._owns_conn = duckdb.connect(str(database)), True
            self._conn.execute("SET TimeZone = 'UTC'")  # timestamps are UTC; so is every comparison
        self._closed = False
        try:
            with self._transaction():
                self._conn.execute(CHECKPOINTS_SCHEMA)
                if schema:
                    self._conn.execute(schema)
                self._conn.execute(ADD_CHECKPOINT, [name])
        except duckdb.Error as exc:
            self.close()
            raise ProjectionError(
                f"projection {name!r} could not create its tables: {exc}. Check its schema SQL."
            ) from exc
        self._position = self._stored_position()

    # --- wiring ----------------------------------------------------------------------------

    def register_event_handler(self, event_type: str, handler: Handler) -> None:
        """Call ``handler(conn, event)`` for each event of ``event_type`` (replacing any other).

        Events already processed are not revisited: call :meth:`rebuild` to apply a new
        handler to the whole log.
        """
        check_event_type(event_type)
        if not callable(handler):
            raise InvalidInput(
                f"a handler must be callable as handler(conn, event), got {handler!r}"
            )
        self._handlers[event_type] = handler

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return dict(self._handlers)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The read model's DuckDB connection, e.g. ``processor.connection.sql("...").df()``."""
        self._check_open()
        return self._conn

    # --- processing ------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The checkpoint: global position of the last event processed; 0 before the first."""
        return self._position

    def process_event(self, event: Event) -> bool:
        """Apply one recorded event and move the checkpoint to it, in one transaction.

        Returns ``False`` (and counts it in :attr:`skipped`) for an event at or below the
        checkpoint: redelivery changes nothing. An event further ahead than the next position
        is refused, since applying it would skip the events in between for good.
        """
        if not isinstance(event, Event) or event.global_position < 1:
            raise InvalidInput(
                f"process_event needs an event read from the store (global_position >= 1), "
                f"got {event!r:.80}"
            )
        with self._lock:
            self._check_open()
            if event.global_position <= self._position:
                self.skipped += 1
                return False
            if event.global_position != self._position + 1:
                raise ProjectionError(
                    f"projection {self.name!r} is at position {self._position}, so the next "
                    f"event is {self._position + 1}, not {event.global_position}: applying it "
                    f"would skip events {self._position + 1}..{event.global_position - 1} for "
                    f"good. Call catch_up() to read them in order.",
                    position=event.global_position,
                    event_type=event.event_type,
                )
            self._apply_page([event])
            return True

    def catch_up(self, batch_size: int = 1000) -> int:
        """Apply every event after the checkpoint, ``batch_size`` per transaction.

        Stops at the store's head as it was when called; returns how many events it applied.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInput(f"batch_size must be an int >= 1, got {batch_size!r}")
        with self._lock:
            self._check_open()
            head = self._head()
            start = self._position
            while self._position < head:
                page = self.store.read_all(self._position + 1, limit=batch_size)
                if not page:
                    break
                self._apply_page(page)
            return self._position - start

    def rebuild(self, bulk_load: BulkLoader | None = None) -> int:
        """Drop the read model's tables, create them again, and replay the log from position 1.

        The wipe and the checkpoint's return to 0 commit together; then the events are applied
        page by page as in :meth:`catch_up`, so readers may see a partly rebuilt model until it
        returns. With ``bulk_load``, ``bulk_load(conn, events)`` gets the whole log (upcast)
        and writes the final rows in a few statements, in the same transaction as the wipe and
        the checkpoint. Returns the number of events applied.
        """
        with self._lock:
            self._check_open()
            start_applied = self.applied
            head = self.store.head_position()
            with self._transaction():
                for table in self.tables:
                    self._conn.execute(f"DROP TABLE IF EXISTS {table}")
                if self.schema:
                    self._conn.execute(self.schema)
                self._move_checkpoint(0, self._position)
                reached = 0
                if bulk_load is not None:
                    reader = LogReader(self, head)
                    try:
                        bulk_load(self._conn, reader)
                    except ProjectionError:
                        raise
                    except Exception as exc:
                        raise reader.error(bulk_load, exc) from exc
                    reached = reader.position
                    self._move_checkpoint(reached, 0)
            self._position = reached
            self.applied += reached
            self.catch_up()
            return self.applied - start_applied

    def lag(self) -> int:
        """How many events the read model is behind the store: head position - checkpoint."""
        with self._lock:
            return self._head() - self._position

    def wait_for_position(
        self, position: int | None, timeout: float = 5.0, poll: float = 0.01
    ) -> int:
        """Catch up until the checkpoint reaches ``position`` (read your own writes).

        Pass the position of the event you just wrote, e.g. ``result.position`` of a
        :class:`~esteach.commands.CommandResult` (``None``, nothing written, returns at once).
        Raises :class:`ProjectionTimeout` after ``timeout`` seconds; returns the checkpoint.
        """
        if position is None:
            return self._position
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise InvalidInput(f"position must be an int >= 0 or None, got {position!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidInput(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        deadline = time.monotonic() + timeout
        while True:
            self.catch_up()
            if self._position >= position:
                return self._position
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                head = self.store.head_position()
                hint = (
                    f"; the store's head is only {head}: was that position written to another "
                    f"store?"
                    if position > head
                    else ""
                )
                raise ProjectionTimeout(
                    f"projection {self.name!r} did not reach position {position} within "
                    f"{timeout} s: it is at {self._position}{hint}"
                )
            time.sleep(min(poll, remaining))

    # --- reading the read model ------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query on the read model's database and return its rows."""
        with self._lock:
            self._check_open()
            return self._conn.execute(sql, params).fetchall()

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection if this processor opened it."""
        with self._lock:
            if not self._closed and self._owns_conn:
                self._conn.close()
            self._closed = True

    def __enter__(self) -> EventProcessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EventProcessor({self.name!r}, position={self._position}, applied={self.applied}, "
            f"skipped={self.skipped}, handlers={sorted(self._handlers)})"
        )

    # --- helpers ---------------------------------------------------------------------------

    def _apply_page(self, page: Sequence[Event]) -> None:
        """Apply ``page`` and move the checkpoint to its last event, all in one transaction."""
        with self._transaction():
            for event in page:
                self._apply(event)
            self._move_checkpoint(page[-1].global_position, self._position)
        self._position = page[-1].global_position
        self.applied += len(page)

    def _apply(self, event: Event) -> None:
        # Old shapes are lifted first, so a handler only ever sees today's shape of an event.
        try:
            event = self.registry.upcast(event)
        except Exception as exc:
            raise self._error(event, "upcasting", exc) from exc
        handler = self._handlers.get(event.event_type)
        if handler is None:
            return
        try:
            handler(self._conn, event)
        except Exception as exc:
            raise self._error(event, _name_of(handler), exc) from exc

    def _error(self, event: Event, handler: str, exc: Exception) -> ProjectionError:
        return ProjectionError(
            f"projection {self.name!r}: {handler} failed on {event.event_type} at position "
            f"{event.global_position} (stream {event.aggregate_id!r}, version {event.version}): "
            f"{type(exc).__name__}: {exc}{_aborted_hint(exc)}. The transaction was rolled "
            f"back: the read model and the checkpoint are still at position {self._position}. "
            f"Fix the cause and call catch_up() again.",
            position=event.global_position,
            event_type=event.event_type,
            handler=handler,
        )

    def _move_checkpoint(self, new: int, old: int) -> None:
        try:
            rows = self._conn.execute(MOVE_CHECKPOINT, [new, self.name, old]).fetchall()
            row = rows[0] if rows else None
        except duckdb.Error as exc:
            # A handler that caught a DuckDB error of its own leaves the transaction aborted;
            # COMMIT would then roll back without a word, so this last write must not pass.
            raise ProjectionError(
                f"projection {self.name!r} could not save its checkpoint {new}: "
                f"{exc}{_aborted_hint(exc)}. Nothing was written."
            ) from exc
        if row is None or row[0] != 1:
            raise ProjectionError(
                f"projection {self.name!r}: its stored checkpoint is no longer {old}; another "
                f"processor with the same name moved it. Run one processor per name and "
                f"database. Nothing was written."
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, with an explicit ROLLBACK on any error (then re-raise)."""
        self._conn.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:  # KeyboardInterrupt in a notebook too: leave nothing half-done
            with contextlib.suppress(duckdb.Error):  # keep the original error, not this one
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except duckdb.Error as exc:  # e.g. another connection wrote the same rows first
            with contextlib.suppress(duckdb.Error):  # DuckDB may have ended it already
                self._conn.execute("ROLLBACK")
            raise ProjectionError(
                f"projection {self.name!r} could not commit: {exc}. Nothing was written; "
                f"call catch_up() again."
            ) from exc

    def _head(self) -> int:
        head = self.store.head_position()
        if self._position > head:
            raise ProjectionError(
                f"projection {self.name!r} is at position {self._position}, but the store's "
                f"head is {head}: this read model was built from another event store (a file "
                f"from an earlier run?). Call rebuild() to build it from this store."
            )
        return head

    def _stored_position(self) -> int:
        # fetchall, not fetchone: an unfinished result would make DuckDB 2.0 refuse the
        # connection's next sql(), and learners share this connection for their own SQL.
        rows = self._conn.execute(GET_CHECKPOINT, [self.name]).fetchall()
        return int(rows[0][0]) if rows else 0

    def _check_open(self) -> None:
        if self._closed:
            raise ProjectionError(f"projection {self.name!r} is closed; open a new one")


class LogReader:
    """What a bulk loader gets: the log up to the rebuild's head, upcast.

    Iterate it for the events one at a time, or call :meth:`frame` for the events of some
    types as one table: a DuckDB store answers that in SQL, without an ``Event`` per row.
    """

    def __init__(self, processor: EventProcessor, head: int) -> None:
        self._processor = processor
        self._head = head
        self.position = 0  # how far the loader has been given the log
        self.current: Event | None = None  # the event a loader's error is about, if known

    def __iter__(self) -> Iterator[Event]:
        store = self._processor.store
        while self.position < self._head:
            limit = min(_PAGE_SIZE_FOR_READING, self._head - self.position)
            page = store.read_all(self.position + 1, limit=limit)
            if not page:
                return
            for event in page:
                self.current = event
                lifted = self._upcast(event)
                self.position = event.global_position
                yield lifted

    def frame(self, event_types: Collection[str]) -> pd.DataFrame:
        """The events of ``event_types`` (as upcast) up to the head, as one DataFrame.

        Columns: ``position``, ``id``, ``aggregate_id``, ``event_type``, ``timestamp`` (UTC,
        without a zone, as DuckDB's ``TIMESTAMP`` holds it) and ``data`` (JSON text, so SQL
        reads a field with ``data->>'email'``). Rows are in no particular order.

        From a :class:`~esteach.store.duckdb.DuckDBEventStore` the rows come straight from
        SQL; only events that an upcaster must lift (or whose schema version is not their
        class's) pass through Python, as they would on any other read.
        """
        wanted = frozenset(event_types)
        store = self._processor.store
        if isinstance(store, DuckDBEventStore):
            frame = self._frame_from_sql(store, wanted)
        else:
            frame = _log_frame([e for e in self if e.event_type in wanted])
        self.position = self._head
        return frame

    def event_at(self, position: int) -> Event:
        """The (upcast) event at ``position``; it becomes :attr:`current`, for error messages."""
        [event] = self._processor.store.read_all(position, limit=1)
        self.current = event
        return self._upcast(event)

    def error(self, loader: object, exc: Exception) -> ProjectionError:
        if self.current is None:
            return ProjectionError(
                f"projection {self._processor.name!r}: {_name_of(loader)} failed: "
                f"{type(exc).__name__}: {exc}. The rebuild was rolled back.",
                handler=_name_of(loader),
            )
        return self._processor._error(self.current, _name_of(loader), exc)

    def _upcast(self, event: Event) -> Event:
        try:
            return self._processor.registry.upcast(event)
        except Exception as exc:
            self.current = event
            raise self._processor._error(event, "upcasting", exc) from exc

    def _frame_from_sql(self, store: DuckDBEventStore, wanted: frozenset[str]) -> pd.DataFrame:
        import pandas as pd

        registry = self._processor.registry
        steps = registry.upcasters.steps()
        sources = set(wanted)  # the wanted types, and every type an upcaster renames into one
        while grown := {s.event_type for s in steps if s.target[0] in sources} - sources:
            sources |= grown
        lifted = [f"{s.event_type}:{s.from_version}" for s in steps]
        registered = sorted(t for t in sources if t in registry)
        current = [f"{t}:{registry.get(t).schema_version}" for t in registered]
        params = [lifted, registered, current]
        fast = store.sql_df(LOG_ROWS, [self._head, sorted(wanted), *params])
        slow = store.select_events(LIFTED_ROWS, [self._head, sorted(sources), *params])
        upcast = [e for e in map(self._upcast, slow) if e.event_type in wanted]
        if not upcast:
            return fast
        return pd.concat([fast, _log_frame(upcast)], ignore_index=True)


def _log_frame(events: Sequence[Event]) -> pd.DataFrame:
    """:meth:`LogReader.frame`'s columns, built from events in Python."""
    import pandas as pd

    return pd.DataFrame(
        {
            "position": pd.Series([e.global_position for e in events], dtype="int64"),
            "id": pd.Series([e.id for e in events], dtype=object),
            "aggregate_id": pd.Series([e.aggregate_id for e in events], dtype=object),
            "event_type": pd.Series([e.event_type for e in events], dtype=object),
            "timestamp": pd.Series(
                [naive_utc(e.timestamp) for e in events], dtype="datetime64[us]"
            ),
            "data": pd.Series([json_text(e.data) for e in events], dtype=object),
        }
    )


# The log's rows for LogReader.frame, read in SQL. An event goes through Python instead when an
# upcaster lifts its (type, version), or when its type's class is at another schema version
# (then upcasting names the missing step, as on every read).
PYTHON_ROUTE = """(
    list_contains(?, event_type || ':' || schema_version)
    OR (list_contains(?, event_type)
        AND NOT list_contains(?, event_type || ':' || schema_version))
)"""
LOG_ROWS = f"""
SELECT global_position AS position, id, aggregate_id, event_type, timestamp, data::VARCHAR AS data
FROM events
WHERE global_position <= ? AND list_contains(?, event_type) AND NOT {PYTHON_ROUTE}
"""
LIFTED_ROWS = f"global_position <= ? AND list_contains(?, event_type) AND {PYTHON_ROUTE}"


def _aborted_hint(exc: Exception) -> str:
    if "transaction is aborted" not in str(exc):
        return ""
    return (
        " (a statement earlier in this transaction failed and a handler caught its error, so "
        "the transaction was already aborted: let handler errors propagate)"
    )


def _name_of(function: object) -> str:
    return str(getattr(function, "__qualname__", None) or repr(function))


# --- read models -------------------------------------------------------------------------------


def check_page(page: object, page_size: object) -> tuple[int, int]:
    """Return ``(limit, offset)`` for a 1-based page, or raise :class:`InvalidInput`.

    >>> check_page(3, 20)
    (20, 40)
    """
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInput(
            f"page must be an int >= 1 (pages start at 1), got {type(page).__name__} {page!r:.40}"
        )
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise InvalidInput(
            f"page_size must be an int from 1 to {MAX_PAGE_SIZE}, got "
            f"{type(page_size).__name__} {page_size!r:.40}"
        )
    return page_size, min((page - 1) * page_size, _NO_ROWS)


class Projection:
    """A read model: its tables (``schema``, ``tables``), its ``handlers``, and a processor.

    Subclass it and fill in the class attributes; ``model.processor`` is the
    :class:`EventProcessor` that runs it, and the model offers its ``catch_up``, ``rebuild``,
    ``lag`` and ``wait_for_position``. Several read models can share one ``database``.

    >>> def user_created(conn, event):
    ...     conn.execute("INSERT OR REPLACE INTO emails VALUES (?, ?)",
    ...                  [event.aggregate_id, event.data["email"]])
    >>> class Emails(Projection):
    ...     name = "emails"
    ...     schema = "CREATE TABLE IF NOT EXISTS emails (id VARCHAR PRIMARY KEY, email VARCHAR)"
    ...     tables = ("emails",)
    ...     handlers = {"UserCreated": user_created}
    >>> from esteach import InMemoryEventStore
    >>> emails = Emails(InMemoryEventStore())
    >>> emails.catch_up(), emails.processor.query("SELECT count(*) FROM emails")
    (0, [(0,)])
    """

    name: ClassVar[str]
    schema: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()
    handlers: ClassVar[Mapping[str, Handler]] = {}

    def __init__(
        self,
        store: EventStore,
        *,
        database: str | os.PathLike[str] | duckdb.DuckDBPyConnection = ":memory:",
        name: str | None = None,
        registry: EventRegistry = default_registry,
    ) -> None:
        self.processor = EventProcessor(
            store,
            name=name or str(getattr(type(self), "name", "")),
            database=database,
            schema=self.schema,
            tables=self.tables,
            registry=registry,
        )
        for event_type, handler in self.handlers.items():
            self.processor.register_event_handler(event_type, handler)

    @property
    def position(self) -> int:
        return self.processor.position

    def catch_up(self, batch_size: int = 1000) -> int:
        return self.processor.catch_up(batch_size)

    def rebuild(self) -> int:
        return self.processor.rebuild()

    def lag(self) -> int:
        return self.processor.lag()

    def wait_for_position(self, position: int | None, timeout: float = 5.0) -> int:
        return self.processor.wait_for_position(position, timeout)

    def close(self) -> None:
        self.processor.close()

    def __enter__(self) -> Projection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _utc(timestamp: datetime) -> datetime:
    return timestamp.replace(tzinfo=UTC)


# --- the users read model (the reference design's query model) ------------------------------

USERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id               VARCHAR   PRIMARY KEY,  -- the user's stream id
    email            VARCHAR   NOT NULL,
    name             VARCHAR   NOT NULL,
    status           VARCHAR   NOT NULL,     -- 'active' or 'deactivated'
    created_at       TIMESTAMP NOT NULL,     -- UTC commit time of UserCreated
    updated_at       TIMESTAMP NOT NULL,     -- UTC commit time of the last event applied
    created_position BIGINT    NOT NULL      -- global position of UserCreated: breaks ties
);
"""
# UserCreated is an upsert, so replaying it leaves one row however often it comes (flaw 7).
# It takes two statements: an UPDATE that a replay finds a row for, else an INSERT. This does
# what INSERT OR REPLACE does (see AccountBalances), at half its cost in DuckDB 2.0.
RESET_USER = """
UPDATE users SET email = ?, name = ?, status = ?, created_at = ?, updated_at = ?,
                 created_position = ?
WHERE id = ?
"""
INSERT_USER = """
INSERT INTO users (email, name, status, created_at, updated_at, created_position, id)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
SET_EMAIL = "UPDATE users SET email = ?, updated_at = ? WHERE id = ?"
SET_NAME = "UPDATE users SET name = ?, updated_at = ? WHERE id = ?"
SET_STATUS = "UPDATE users SET status = ?, updated_at = ? WHERE id = ?"

USER_COLUMNS = "id, email, name, status, created_at, updated_at"
NEWEST_FIRST = "ORDER BY created_at DESC, created_position DESC"
GET_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = ?"
LIST_USERS = f"SELECT {USER_COLUMNS} FROM users {NEWEST_FIRST} LIMIT ? OFFSET ?"
# contains() compares plain text: a user's %, _ or \ is just a character, never a wildcard
# (the reference design put raw input into a LIKE pattern: flaw 6).
SEARCH_USERS = f"""
SELECT {USER_COLUMNS} FROM users
WHERE contains(lower(name), lower(?)) OR contains(lower(email), lower(?))
{NEWEST_FIRST} LIMIT ? OFFSET ?
"""
COUNT_USERS = "SELECT count(*) FROM users"

# The set-based rebuild reads each user event's fields out of its JSON data in SQL ...
USER_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "UserCreated": ("email", "name"),
    "UserEmailChanged": ("new_email",),
    "UserNameChanged": ("new_name",),
    "UserDeactivated": (),
}
USER_EVENTS = """
SELECT position, aggregate_id AS user_id, event_type, timestamp,
       CASE event_type WHEN 'UserCreated' THEN data->>'email'
                       WHEN 'UserEmailChanged' THEN data->>'new_email' END AS email,
       CASE event_type WHEN 'UserCreated' THEN data->>'name'
                       WHEN 'UserNameChanged' THEN data->>'new_name' END AS name
FROM user_log
"""
# ... refuses an event that lacks a field its handler would need (the first, by position) ...
FIRST_WITHOUT_FIELDS = f"""
WITH user_events AS ({USER_EVENTS})
SELECT min(position) FROM user_events
WHERE (event_type = 'UserCreated' AND (email IS NULL OR name IS NULL))
   OR (event_type = 'UserEmailChanged' AND email IS NULL)
   OR (event_type = 'UserNameChanged' AND name IS NULL)
"""
# ... and folds them: every user's final row from their events in one statement. A row
# starts at the user's (last) UserCreated, as the upsert does; later events overwrite fields.
USERS_FROM_EVENTS = f"""
INSERT INTO users
WITH user_events AS ({USER_EVENTS}), created AS (
    SELECT user_id, max(position) AS created_position
    FROM user_events WHERE event_type = 'UserCreated' GROUP BY user_id
), applied AS (
    SELECT e.* FROM user_events e JOIN created c USING (user_id)
    WHERE e.position >= c.created_position
)
SELECT user_id,
       arg_max(email, position) FILTER (WHERE email IS NOT NULL),
       arg_max(name, position) FILTER (WHERE name IS NOT NULL),
       CASE WHEN bool_or(event_type = 'UserDeactivated') THEN ? ELSE ? END,
       arg_min(timestamp, position),
       arg_max(timestamp, position),
       min(position)
FROM applied GROUP BY user_id
"""


def on_user_created(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    at = naive_utc(event.timestamp)
    row = [
        event.data["email"],
        event.data["name"],
        ACTIVE,
        at,
        at,
        event.global_position,
        event.aggregate_id,
    ]
    if conn.execute(RESET_USER, row).fetchall() == [(0,)]:  # no row yet: the usual case
        conn.execute(INSERT_USER, row)


def on_user_email_changed(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(
        SET_EMAIL, [event.data["new_email"], naive_utc(event.timestamp), event.aggregate_id]
    )


def on_user_name_changed(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(SET_NAME, [event.data["new_name"], naive_utc(event.timestamp), event.aggregate_id])


def on_user_deactivated(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(SET_STATUS, [DEACTIVATED, naive_utc(event.timestamp), event.aggregate_id])


def load_users_in_bulk(conn: duckdb.DuckDBPyConnection, log: LogReader) -> None:
    """The set-based rebuild: the user events as one table, folded by SQL into the final rows.

    From a DuckDB store the events never become Python objects (bar the few an upcaster lifts);
    SQL reads their fields out of the JSON and ``USERS_FROM_EVENTS`` folds them.
    """
    conn.register("user_log", log.frame(USER_FIELDS))
    try:
        [(missing,)] = conn.execute(FIRST_WITHOUT_FIELDS).fetchall()
        if missing is not None:
            event = log.event_at(missing)
            needed = [f for f in USER_FIELDS[event.event_type] if f not in event.data]
            raise InvalidEventData(
                f"{event.event_type} data {dict(event.data)!r:.80} has no {needed or 'value'} "
                f"(the users table needs {list(USER_FIELDS[event.event_type])})"
            )
        conn.execute(USERS_FROM_EVENTS, [DEACTIVATED, ACTIVE])
    finally:
        conn.unregister("user_log")


@dataclass(frozen=True, slots=True)
class UserView:
    """One row of the users read model. Timestamps are UTC."""

    id: str
    email: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime


def _user(row: tuple[Any, ...]) -> UserView:
    user_id, email, name, status, created_at, updated_at = row
    return UserView(user_id, email, name, status, _utc(created_at), _utc(updated_at))


class UserQueryModel(Projection):
    """The ``users`` table, projected from the ``User`` events, and the queries it answers.

    ``model = UserQueryModel(store)``, then ``model.catch_up()`` whenever you want it current
    (or ``model.wait_for_position(result.position)`` after a command).
    """

    name = "users"
    schema = USERS_SCHEMA
    tables = ("users",)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "UserCreated": on_user_created,
        "UserEmailChanged": on_user_email_changed,
        "UserNameChanged": on_user_name_changed,
        "UserDeactivated": on_user_deactivated,
    }

    def rebuild(self, *, set_based: bool = False) -> int:
        """Rebuild from position 1: event by event, or ``set_based`` in one SQL statement."""
        return self.processor.rebuild(load_users_in_bulk if set_based else None)

    def get_user(self, user_id: str) -> UserView | None:
        if not isinstance(user_id, str):
            raise InvalidInput(f"user_id must be a str, got {type(user_id).__name__} {user_id!r}")
        rows = self.processor.query(GET_USER, [check_text(user_id, "user_id")])
        return _user(rows[0]) if rows else None

    def list_users(self, page: int = 1, page_size: int = 20) -> list[UserView]:
        """One page of users, newest first (ties on ``created_at`` broken by position)."""
        limit, offset = check_page(page, page_size)
        return [_user(row) for row in self.processor.query(LIST_USERS, [limit, offset])]

    def search_users(self, query: str, page: int = 1, page_size: int = 20) -> list[UserView]:
        """Users whose name or email contains ``query``, ignoring case; newest first."""
        if not isinstance(query, str):
            raise InvalidInput(f"query must be a str, got {type(query).__name__} {query!r:.40}")
        check_text(query, "query")
        limit, offset = check_page(page, page_size)
        rows = self.processor.query(SEARCH_USERS, [query, query, limit, offset])
        return [_user(row) for row in rows]

    def count_users(self) -> int:
        return int(self.processor.query(COUNT_USERS)[0][0])


# --- the account balances read model (the second domain) ------------------------------------

ACCOUNTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id      VARCHAR PRIMARY KEY,
    owner           VARCHAR NOT NULL,
    balance         BIGINT  NOT NULL,   -- cents; negative while overdrawn
    status          VARCHAR NOT NULL,   -- 'open' or 'closed'
    transactions    BIGINT  NOT NULL,   -- deposits and withdrawals
    deposited       BIGINT  NOT NULL,   -- cents deposited, in total
    opened_position BIGINT  NOT NULL    -- global position of AccountOpened: newest first
);
"""
UPSERT_ACCOUNT = "INSERT OR REPLACE INTO accounts VALUES (?, ?, 0, ?, 0, 0, ?)"
# Increments are not idempotent on their own: applied twice, a deposit counts twice. The
# checkpoint, written in the same transaction, is what guarantees each event is applied once.
DEPOSIT = """
UPDATE accounts SET balance = balance + ?, deposited = deposited + ?,
                    transactions = transactions + 1
WHERE account_id = ?
"""
WITHDRAW = """
UPDATE accounts SET balance = balance - ?, transactions = transactions + 1 WHERE account_id = ?
"""
CLOSE_ACCOUNT = "UPDATE accounts SET status = ? WHERE account_id = ?"

ACCOUNT_COLUMNS = "account_id, owner, balance, status, transactions"
GET_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?"
LIST_ACCOUNTS = (
    f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY opened_position DESC LIMIT ? OFFSET ?"
)
TOTAL_DEPOSITS = "SELECT CAST(coalesce(sum(deposited), 0) AS BIGINT) FROM accounts"


def on_account_opened(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(
        UPSERT_ACCOUNT, [event.aggregate_id, event.data["owner"], OPEN, event.global_position]
    )


def on_money_deposited(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    amount = event.data["amount"]
    conn.execute(DEPOSIT, [amount, amount, event.aggregate_id])


def on_money_withdrawn(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(WITHDRAW, [event.data["amount"], event.aggregate_id])


def on_account_closed(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(CLOSE_ACCOUNT, [CLOSED, event.aggregate_id])


@dataclass(frozen=True, slots=True)
class AccountView:
    """One row of the account balances read model. Amounts are integer cents."""

    account_id: str
    owner: str
    balance: int
    status: str
    transactions: int


class AccountBalances(Projection):
    """Balances of the ``BankAccount`` domain: ``get_balance``, ``total_deposits``, a list."""

    name = "account_balances"
    schema = ACCOUNTS_SCHEMA
    tables = ("accounts",)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "AccountOpened": on_account_opened,
        "MoneyDeposited": on_money_deposited,
        "MoneyWithdrawn": on_money_withdrawn,
        "AccountClosed": on_account_closed,
    }

    def get_account(self, account_id: str) -> AccountView | None:
        if not isinstance(account_id, str):
            raise InvalidInput(f"account_id must be a str, got {account_id!r:.40}")
        rows = self.processor.query(GET_ACCOUNT, [account_id])
        return AccountView(*rows[0]) if rows else None

    def get_balance(self, account_id: str) -> int | None:
        """The balance in cents; ``None`` for an account this model has not seen opened."""
        account = self.get_account(account_id)
        return None if account is None else account.balance

    def total_deposits(self) -> int:
        """Cents deposited into all accounts, ever (withdrawals not subtracted)."""
        return int(self.processor.query(TOTAL_DEPOSITS)[0][0])

    def list_accounts(self, page: int = 1, page_size: int = 20) -> list[AccountView]:
        """One page of accounts, most recently opened first."""
        limit, offset = check_page(page, page_size)
        return [AccountView(*row) for row in self.processor.query(LIST_ACCOUNTS, [limit, offset])]
