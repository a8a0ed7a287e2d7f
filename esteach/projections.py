"""The read side of CQRS: projections that turn the event log into tables you can query.

A **projection** reads events in global order and writes a **read model**: here, DuckDB tables
shaped for the questions the application asks. :class:`EventProcessor` runs one projection:

* a **handler** per business event type, ``handler(conn, event)``, writes through the given
  DuckDB connection; events of other types are passed over;
* or a **page handler**, ``handler(conn, events)``, gets all the events of its types in a page
  at once (in global order) and writes them with a few set-based statements: the form that
  keeps up with a busy log (`EventProcessor.register_page_handler`);
* a **checkpoint**, the global position of the last event processed, is stored in the table
  ``projection_checkpoints`` of the *same* database and written in the *same* transaction as
  the read model, so a crash can neither apply an event twice nor skip one;
* :meth:`~EventProcessor.catch_up` applies the events after the checkpoint, one page per
  transaction; an event at or below the checkpoint is skipped, so redelivery changes nothing;
* :meth:`~EventProcessor.rebuild` wipes the read model and replays the whole log;
* ``follow()`` keeps it caught up live, from a background thread woken by each append
  (`esteach.subscriptions`).

`Projection` is the base of a read model: its tables, its handlers and a processor. The read
models esteach ships live beside their domains in `esteach.readmodels`.

>>> from esteach import CommandProcessor, InMemoryEventStore
>>> from esteach.domains.user import CreateUser, User
>>> store = InMemoryEventStore()
>>> _ = CommandProcessor(store, User).process_command(CreateUser("ada", "ada@example.com", "Ada"))
>>> from esteach.readmodels.users import UserQueryModel
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
from typing import TYPE_CHECKING, Any, ClassVar, Final

import duckdb

from esteach.checks import check_event_type, check_int
from esteach.collector import paused
from esteach.duck import (
    interrupt,
    is_interrupt,
    open_file,
    reraise,
    storage_error,
    transaction,
)
from esteach.errors import EsteachError, InvalidInput
from esteach.events import Event, EventRegistry
from esteach.events import registry as default_registry
from esteach.logreader import LogReader, _name_of
from esteach.store.base import EventStore

if TYPE_CHECKING:
    from esteach.subscriptions import Subscription

__all__ = [
    "BulkLoader",
    "EventProcessor",
    "Handler",
    "LogReader",
    "PageHandler",
    "Projection",
    "ProjectionError",
    "ProjectionTimeout",
]

Handler = Callable[[duckdb.DuckDBPyConnection, Event], None]
"""``handler(conn, event)``: apply one (upcast) event to the read model through ``conn``."""

PageHandler = Callable[[duckdb.DuckDBPyConnection, Sequence[Event]], None]
"""``handler(conn, events)``: apply a run of (upcast) events, in global order, through ``conn``.

The events are those of the handler's types in one page of a catch-up, in global order, so a
stream's events come in the order they happened (a rename after a creation in the same page).
Stage their fields in a DataFrame (``esteach.duck.registered``) and write them with one
``INSERT ... SELECT`` or ``UPDATE ... FROM`` per page instead of a statement per event."""

BulkLoader = Callable[[duckdb.DuckDBPyConnection, "LogReader"], None]
"""``loader(conn, log)``: fill an empty read model from the whole log in a few statements.

``log`` is a :class:`LogReader`: iterate it for the (upcast) events, or take
``log.table(event_types, fields)`` as one pyarrow table to register on ``conn``."""

CATCH_UP_PAGE_SIZE: Final = 10_000
"""Events per transaction in `EventProcessor.catch_up` unless told. A page handler's statements
cost about the same for 1,000 rows as for 10,000 (DuckDB's fixed cost per statement is in
milliseconds), so big pages are what make the page form fast; a page is still one transaction,
so a failure rolls back at most this many events' work."""


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
        self._page_handlers: dict[str, PageHandler] = {}
        self._lock = threading.RLock()
        self._closed = False
        self._following: Subscription | None = None
        # Set when a page ended with its outcome unknown (an interrupt at COMMIT may come after
        # the commit): the checkpoint is then read from the database before it is trusted.
        self._unsure = False
        if isinstance(database, duckdb.DuckDBPyConnection):
            self._path = ""
            self._conn, self._owns_conn = database, False
            self._create_tables()
        else:
            self._path = str(database)
            self._owns_conn = True

            def setup(conn: duckdb.DuckDBPyConnection) -> None:
                self._conn = conn
                self._create_tables()

            # A failed open leaves no file behind and names the cause (esteach.duck).
            self._conn = open_file(
                self._path, doing=f"projection {name!r} cannot open {self._path!r}", setup=setup
            )
        self._position = self._stored_position()

    def _create_tables(self) -> None:
        try:
            with self._transaction():
                self._conn.execute(CHECKPOINTS_SCHEMA)
                if self.schema:
                    self._conn.execute(self.schema)
                self._conn.execute(ADD_CHECKPOINT, [self.name])
        except duckdb.Error as exc:
            if storage_error(exc, self._path, "") is not None:
                reraise(exc, self._path, f"projection {self.name!r} could not create its tables")
            raise ProjectionError(
                f"projection {self.name!r} could not create its tables: {exc}. Check its "
                f"schema SQL."
            ) from exc

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
        self._page_handlers.pop(event_type, None)
        self._handlers[event_type] = handler

    def register_page_handler(
        self, event_types: str | Collection[str], handler: PageHandler
    ) -> None:
        """Call ``handler(conn, events)`` with the events of ``event_types``, a page at a time.

        Within a page, the events one page handler takes come to it together and in global
        order; an event another handler takes ends the run, so handlers still see the log in
        order relative to each other. It replaces any handler of those types.
        """
        types = [event_types] if isinstance(event_types, str) else list(event_types)
        if not types:
            raise InvalidInput("register_page_handler needs at least one event type")
        for event_type in types:
            check_event_type(event_type)
        if not callable(handler):
            raise InvalidInput(
                f"a page handler must be callable as handler(conn, events), got {handler!r}"
            )
        for event_type in types:
            self._handlers.pop(event_type, None)
            self._page_handlers[event_type] = handler

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return dict(self._handlers)

    @property
    def page_handlers(self) -> Mapping[str, PageHandler]:
        return dict(self._page_handlers)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The read model's DuckDB connection, e.g. ``processor.connection.sql("...").df()``."""
        self._check_open()
        return self._conn

    # --- processing ------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The checkpoint: global position of the last event processed; 0 before the first."""
        with self._lock:
            if self._unsure and not self._closed:
                self._settle()
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
            if self._unsure:
                self._settle()
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

    def catch_up(self, batch_size: int = CATCH_UP_PAGE_SIZE) -> int:
        """Apply every event after the checkpoint, ``batch_size`` per transaction.

        Stops at the store's head as it was when called; returns how many events it applied.
        """
        check_int(batch_size, "batch_size", 1)
        with self._lock:
            self._check_open()
            # The database is the truth: one query per call (not per page) takes the checkpoint
            # from it, so a page whose outcome this object missed (the stop button between a
            # COMMIT and the line after it) can never leave the model stuck.
            self._settle()
            head = self._head()
            start = self._position
            while self._position < head:
                # A page's objects die with it, by reference counting: the collector, paused
                # meanwhile, need not sweep them (a quarter of the time; esteach.collector).
                with paused():
                    page = self.store.read_all(self._position + 1, limit=batch_size)
                    if not page:
                        break
                    self._apply_page(page)
                    # Freed while still paused: else the first collection after the pause
                    # would sweep the whole page once more before it dies.
                    del page
            return self._position - start

    def rebuild(
        self, bulk_load: BulkLoader | None = None, *, batch_size: int = CATCH_UP_PAGE_SIZE
    ) -> int:
        """Drop the read model's tables, create them again, and replay the log from position 1.

        The wipe and the checkpoint's return to 0 commit together; then the events are applied
        ``batch_size`` per page as in :meth:`catch_up`, so readers may see a partly rebuilt
        model until it returns. With ``bulk_load``, ``bulk_load(conn, events)`` gets the whole
        log (upcast) and writes the final rows in a few statements, in the same transaction as
        the wipe and the checkpoint. Returns the number of events applied.
        """
        check_int(batch_size, "batch_size", 1)
        with self._lock:
            self._check_open()
            if self._unsure:
                self._settle()
            start_applied = self.applied
            head = self.store.head_position()
            try:
                with self._transaction():
                    for table in self.tables:
                        self._conn.execute(f"DROP TABLE IF EXISTS {table}")
                    if self.schema:
                        self._conn.execute(self.schema)
                    self._move_checkpoint(0, self._position)
                    reached = 0
                    if bulk_load is not None:
                        reader = LogReader(self.store, self.registry, head, self._error)
                        try:
                            bulk_load(self._conn, reader)
                        except ProjectionError:
                            raise
                        except Exception as exc:
                            if is_interrupt(exc):
                                raise interrupt(exc) from exc
                            raise reader.error(bulk_load, exc) from exc
                        reached = reader.position
                        self._move_checkpoint(reached, 0)
                self._position = reached
                self.applied += reached
            except BaseException:
                self._unsettled()
                raise
            self.catch_up(batch_size)
            return self.applied - start_applied

    def lag(self) -> int:
        """How many events the read model is behind the store: head position - checkpoint."""
        with self._lock:
            self._check_open()
            return self._head() - self._position

    def wait_for_position(
        self,
        position: int | None,
        timeout: float = 5.0,
        poll: float = 0.01,
        *,
        catch_up_here: bool = True,
    ) -> int:
        """Wait until the checkpoint reaches ``position`` (read your own writes).

        Pass the position of the event you just wrote, e.g. ``result.position`` of a
        :class:`~esteach.commands.CommandResult` (``None``, nothing written, returns at once).
        By default the caller catches up itself while it waits. With ``catch_up_here=False`` it
        only watches the checkpoint: for a read model that a background worker keeps up to
        date (a thread running ``catch_up()`` in a loop), where the request must wait for the
        worker, not do its work; while the processor follows its store (`follow`), it waits
        for the following thread that way whatever ``catch_up_here`` says. Raises
        :class:`ProjectionTimeout` after ``timeout`` seconds; returns the checkpoint.
        """
        if position is None:
            return self._position
        check_int(position, "position", 0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidInput(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        deadline = time.monotonic() + timeout
        following = self._following
        if following is not None and following.running:
            # The subscription's thread applies the events; waiting for it is enough (and
            # catching up here too would only contend with it for the lock).
            following.wait_for(position, timeout)
            if following.running:  # it ran all along: reached, or the time is up
                deadline = time.monotonic()
        while True:
            if catch_up_here and (following is None or not following.running):
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

    def follow(self, *, batch_size: int = 1000, poll: float = 0.1) -> Subscription:
        """Keep this read model caught up from a background thread, woken by each append.

        Returns the running `Subscription` (``stop()`` it, or close the processor). While it
        runs, `wait_for_position` waits for it. Read the model with `query` then: the thread
        writes through the same DuckDB connection, under the processor's lock.
        """
        from esteach.subscriptions import Subscription

        self._check_open()
        if self._following is not None and self._following.running:
            return self._following
        self._following = Subscription(self, batch_size=batch_size, poll=poll)
        return self._following

    # --- reading the read model ------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query on the read model's database and return its rows."""
        with self._lock:
            self._check_open()
            try:
                return self._conn.execute(sql, params).fetchall()
            except BaseException as exc:
                # Interrupts and storage faults named; an SQL mistake as DuckDB tells it.
                reraise(exc, self._path, f"projection {self.name!r}: the query failed")

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop following (if it does) and close the database connection if this processor
        opened it."""
        if self._following is not None:
            self._following.stop()
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
        try:
            with self._transaction():
                if self._page_handlers:
                    self._apply_runs(page)
                else:
                    for event in page:
                        self._apply(event)
                self._move_checkpoint(page[-1].global_position, self._position)
            self._position = page[-1].global_position
            self.applied += len(page)
        except BaseException:
            self._unsettled()
            raise

    def _unsettled(self) -> None:
        """After a page that raised: an interrupted COMMIT may still have committed, so take
        the checkpoint from the database (now, or before it is next used if that fails)."""
        self._unsure = True
        with contextlib.suppress(Exception, KeyboardInterrupt):
            self._settle()

    def _settle(self) -> None:
        stored = self._stored_position()
        if stored > self._position:  # the page committed after all
            self.applied += stored - self._position
        self._position = stored
        self._unsure = False

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
            if is_interrupt(exc):  # DuckDB's "Query interrupted": the stop button, not a bug
                raise interrupt(exc) from exc
            raise self._error(event, _name_of(handler), exc) from exc

    def _apply_runs(self, page: Sequence[Event]) -> None:
        """The page as runs: consecutive events one page handler takes go to it together."""
        run: list[Event] = []
        run_handler: PageHandler | None = None
        for event in page:
            try:
                event = self.registry.upcast(event)
            except Exception as exc:
                raise self._error(event, "upcasting", exc) from exc
            page_handler = self._page_handlers.get(event.event_type)
            if page_handler is not None and page_handler is run_handler:
                run.append(event)
                continue
            if page_handler is None and event.event_type not in self._handlers:
                continue  # nobody takes it: it does not end a run
            if run_handler is not None:
                self._apply_run(run_handler, run)
            if page_handler is None:
                run, run_handler = [], None
                self._apply(event)  # upcast again: cheap, it is today's shape already
            else:
                run, run_handler = [event], page_handler
        if run_handler is not None:
            self._apply_run(run_handler, run)

    def _apply_run(self, handler: PageHandler, events: list[Event]) -> None:
        tracked = _TrackedEvents(events)
        try:
            handler(self._conn, tracked)
        except Exception as exc:
            if is_interrupt(exc):
                raise interrupt(exc) from exc
            if tracked.current is not None:  # it failed on the fields of this event
                raise self._error(tracked.current, _name_of(handler), exc) from exc
            raise self._page_error(events, _name_of(handler), exc) from exc

    def _page_error(self, events: list[Event], handler: str, exc: Exception) -> ProjectionError:
        first, last = events[0], events[-1]
        return ProjectionError(
            f"projection {self.name!r}: {handler} failed on the {len(events)} events at "
            f"positions {first.global_position}..{last.global_position} (first "
            f"{first.event_type} of stream {first.aggregate_id!r}): {type(exc).__name__}: "
            f"{exc}{_aborted_hint(exc)}. The transaction was rolled back: the read model and "
            f"the checkpoint are still at position {self._position}. Fix the cause and call "
            f"catch_up() again.",
            position=first.global_position,
            event_type=first.event_type,
            handler=handler,
        )

    def _error(self, event: Event | None, handler: str, exc: Exception) -> ProjectionError:
        if event is None:  # a bulk loader that failed before it read an event
            return ProjectionError(
                f"projection {self.name!r}: {handler} failed: {type(exc).__name__}: {exc}. "
                f"The rebuild was rolled back.",
                handler=handler,
            )
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

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return transaction(
            self._conn,
            self._commit_failed,
            path=self._path,
            doing=f"projection {self.name!r} could not write",
        )

    def _commit_failed(self, exc: duckdb.Error) -> ProjectionError:
        return ProjectionError(
            f"projection {self.name!r} could not commit: {exc}. Nothing was written; call "
            f"catch_up() again."
        )

    def _head(self) -> int:
        if self._unsure:
            self._settle()
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
        try:
            rows = self._conn.execute(GET_CHECKPOINT, [self.name]).fetchall()
        except BaseException as exc:
            reraise(exc, self._path, f"projection {self.name!r} could not read its checkpoint")
        return int(rows[0][0]) if rows else 0

    def _check_open(self) -> None:
        if self._closed:
            raise ProjectionError(f"projection {self.name!r} is closed; open a new one")


class _TrackedEvents(Sequence[Event]):
    """A page handler's events, remembering the event an unfinished iteration stopped at.

    A handler that fails while reading an event's fields (a missing key) fails inside a loop
    over the events: that event is then named in the error. A loop that ran to its end clears
    it, so a later failure (an SQL statement) is reported for the whole run.
    """

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self.current: Event | None = None

    def __iter__(self) -> Iterator[Event]:
        for event in self._events:
            self.current = event
            yield event
        self.current = None

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: Any) -> Any:
        return self._events[index]

    def __repr__(self) -> str:
        return f"<{len(self._events)} events>"


def _aborted_hint(exc: Exception) -> str:
    if "transaction is aborted" not in str(exc):
        return ""
    return (
        " (a statement earlier in this transaction failed and a handler caught its error, so "
        "the transaction was already aborted: let handler errors propagate)"
    )


class Projection:
    """A read model: its tables (``schema``, ``tables``), its ``handlers``, and a processor.

    Subclass it and fill in the class attributes (``handlers`` by event type, and optionally
    ``page_handlers``, which take a page's events at once); ``model.processor`` is the
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
    # Page handlers by event type (one function may take several types); for a type in both,
    # the page handler wins. A subclass with ``page_handlers = {}`` runs event by event.
    page_handlers: ClassVar[Mapping[str, PageHandler]] = {}

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
        for event_type, page_handler in self.page_handlers.items():
            self.processor.register_page_handler(event_type, page_handler)

    @property
    def position(self) -> int:
        return self.processor.position

    def catch_up(self, batch_size: int = CATCH_UP_PAGE_SIZE) -> int:
        return self.processor.catch_up(batch_size)

    def rebuild(self) -> int:
        return self.processor.rebuild()

    def lag(self) -> int:
        return self.processor.lag()

    def wait_for_position(
        self, position: int | None, timeout: float = 5.0, *, catch_up_here: bool = True
    ) -> int:
        return self.processor.wait_for_position(position, timeout, catch_up_here=catch_up_here)

    def close(self) -> None:
        self.processor.close()

    def __enter__(self) -> Projection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
