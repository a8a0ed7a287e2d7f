"""The log as a bulk loader reads it: `LogReader`, what `EventProcessor.rebuild` hands a
set-based loader.

A loader iterates the reader for the (upcast) events one at a time, or asks for the events of
some types as one table (`LogReader.frame`). A store whose log is SQL (the `SQLEventLog`
capability, such as the DuckDB store) answers that table in SQL; only the events an upcaster
must lift pass through Python, as on every other read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from esteach.duck import json_text, naive_utc
from esteach.events import Event, EventRegistry
from esteach.store.base import EventStore, SQLEventLog

if TYPE_CHECKING:
    import pandas as pd

    from esteach.projections import ProjectionError

__all__ = ["LogReader"]

_PAGE_SIZE_FOR_READING: Final = 10_000


class LogReader:
    """What a bulk loader gets: the log up to the rebuild's head, upcast.

    Iterate it for the events one at a time, or call `frame` for the events of some types as
    one table: a store whose log is SQL (`SQLEventLog`, such as the DuckDB store) answers that
    in SQL, without an ``Event`` per row. ``error(event, what, exc)`` makes the error raised
    when an event cannot be read (the processor's, which names the projection).
    """

    def __init__(
        self,
        store: EventStore,
        registry: EventRegistry,
        head: int,
        error: Callable[[Event | None, str, Exception], ProjectionError],
    ) -> None:
        self._store = store
        self._registry = registry
        self._head = head
        self._error = error
        self.position = 0  # how far the loader has been given the log
        self.current: Event | None = None  # the event a loader's error is about, if known

    def __iter__(self) -> Iterator[Event]:
        while self.position < self._head:
            limit = min(_PAGE_SIZE_FOR_READING, self._head - self.position)
            page = self._store.read_all(self.position + 1, limit=limit)
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

        From an `SQLEventLog` store the rows come straight from SQL; only events that an
        upcaster must lift (or whose schema version is not their class's) pass through Python,
        as they would on any other read.
        """
        wanted = frozenset(event_types)
        if isinstance(self._store, SQLEventLog):
            frame = self._frame_from_sql(self._store, wanted)
        else:
            frame = _log_frame([e for e in self if e.event_type in wanted])
        self.position = self._head
        return frame

    def event_at(self, position: int) -> Event:
        """The (upcast) event at ``position``; it becomes `current`, for error messages."""
        [event] = self._store.read_all(position, limit=1)
        self.current = event
        return self._upcast(event)

    def error(self, loader: object, exc: Exception) -> ProjectionError:
        return self._error(self.current, _name_of(loader), exc)

    def _upcast(self, event: Event) -> Event:
        try:
            return self._registry.upcast(event)
        except Exception as exc:
            self.current = event
            raise self._error(event, "upcasting", exc) from exc

    def _frame_from_sql(self, store: SQLEventLog, wanted: frozenset[str]) -> pd.DataFrame:
        import pandas as pd

        registry = self._registry
        steps = registry.upcasters.steps()
        sources = set(wanted)  # the wanted types, and every type an upcaster renames into one
        while grown := {s.event_type for s in steps if s.target[0] in sources} - sources:
            sources |= grown
        lifted = [f"{s.event_type}:{s.from_version}" for s in steps]
        registered = sorted(t for t in sources if t in registry)
        current = [f"{t}:{registry.schema_version(t)}" for t in registered]
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


def _name_of(function: object) -> str:
    return str(getattr(function, "__qualname__", None) or repr(function))
