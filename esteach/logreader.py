"""The log as a bulk loader reads it: `LogReader`, what `EventProcessor.rebuild` hands a
set-based loader.

A loader iterates the reader for the (upcast) events one at a time, or asks for the events of
some types as one table (`LogReader.table`; `LogReader.frame` for pandas). A store whose log is
SQL (the `SQLEventLog` capability, such as the DuckDB store) answers that table in SQL; only the
events an upcaster must lift pass through Python, as on every other read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from esteach.duck import json_text, naive_utc
from esteach.errors import InvalidInput
from esteach.events import Event, EventRegistry
from esteach.store.base import EventStore, SQLEventLog

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from esteach.projections import ProjectionError

__all__ = ["LogReader"]

_PAGE_SIZE_FOR_READING: Final = 10_000


class LogReader:
    """What a bulk loader gets: the log up to the rebuild's head, upcast.

    Iterate it for the events one at a time, or call `table` for the events of some types as
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

    def table(
        self, event_types: Collection[str], fields: Mapping[str, Mapping[str, str]] | None = None
    ) -> pa.Table:
        """The events of ``event_types`` (as upcast) up to the head, as one pyarrow Table.

        Columns: ``position``, ``id``, ``aggregate_id``, ``event_type``, ``timestamp`` (UTC,
        without a zone, as DuckDB's ``TIMESTAMP`` holds it), then ``data`` (JSON text, so SQL
        reads a field with ``data->>'email'``), or, with ``fields``, one text column per entry
        instead of ``data``: ``fields={"email": {"UserCreated": "email", "UserEmailChanged":
        "new_email"}}`` gives a column ``email`` holding each event's field as ``data->>``
        reads it (a string as it is, another value as JSON text, null or absent as NULL).
        Rows are in no particular order. Register the table on a DuckDB connection
        (`esteach.duck.registered`) and SQL scans it in place.

        From an `SQLEventLog` store the rows come straight from SQL (the fields read there);
        only events that an upcaster must lift (or whose schema version is not their class's)
        pass through Python, as they would on any other read.
        """
        wanted = frozenset(event_types)
        _check_fields(fields)
        if isinstance(self._store, SQLEventLog):
            table = self._table_from_sql(self._store, wanted, fields)
        else:
            table = _log_table([e for e in self if e.event_type in wanted], fields)
        self.position = self._head
        return table

    def frame(
        self, event_types: Collection[str], fields: Mapping[str, Mapping[str, str]] | None = None
    ) -> pd.DataFrame:
        """`table` as a pandas DataFrame."""
        frame: pd.DataFrame = self.table(event_types, fields).to_pandas()
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

    def _table_from_sql(
        self,
        store: SQLEventLog,
        wanted: frozenset[str],
        fields: Mapping[str, Mapping[str, str]] | None,
    ) -> pa.Table:
        import pyarrow as pa

        registry = self._registry
        steps = registry.upcasters.steps()
        sources = set(wanted)  # the wanted types, and every type an upcaster renames into one
        while grown := {s.event_type for s in steps if s.target[0] in sources} - sources:
            sources |= grown
        # An event goes through Python when an upcaster lifts its (type, version), or when its
        # type's class is at another schema version (then upcasting names the missing step, as
        # on every read). Which (type, version) pairs the log holds is one cheap query; usually
        # none of them needs Python, and then SQL reads every row.
        lifted = {(s.event_type, s.from_version) for s in steps}
        kinds = store.sql_arrow(KINDS, [self._head, sorted(sources)]).to_pylist()
        routed = sorted(
            f"{kind['event_type']}:{kind['schema_version']}"
            for kind in kinds
            if (kind["event_type"], kind["schema_version"]) in lifted
            or (
                kind["event_type"] in registry
                and kind["schema_version"] != registry.schema_version(kind["event_type"])
            )
        )
        columns, not_routed = _columns_sql(fields), NOT_ROUTED if routed else ""
        query = LOG_ROWS.format(columns=columns, not_routed=not_routed)
        fast = store.sql_arrow(query, [self._head, sorted(wanted), *([routed] if routed else [])])
        if not routed:
            return fast
        slow = store.select_events(ROUTED_ROWS, [self._head, routed])
        upcast = [e for e in map(self._upcast, slow) if e.event_type in wanted]
        if not upcast:
            return fast
        return pa.concat_tables([fast, _log_table(upcast, fields).cast(fast.schema)])


def _log_table(events: Sequence[Event], fields: Mapping[str, Mapping[str, str]] | None) -> pa.Table:
    """`LogReader.table`'s columns, built from events in Python."""
    import pyarrow as pa

    columns = {
        "position": pa.array([e.global_position for e in events], pa.int64()),
        "id": pa.array([e.id for e in events], pa.string()),
        "aggregate_id": pa.array([e.aggregate_id for e in events], pa.string()),
        "event_type": pa.array([e.event_type for e in events], pa.string()),
        "timestamp": pa.array([naive_utc(e.timestamp) for e in events], pa.timestamp("us")),
    }
    if fields is None:
        columns["data"] = pa.array([json_text(e.data) for e in events], pa.string())
    else:
        for column, by_type in fields.items():
            values = [_as_text(e.data, by_type.get(e.event_type)) for e in events]
            columns[column] = pa.array(values, pa.string())
    return pa.table(columns)


def _as_text(data: Mapping[str, Any], key: str | None) -> str | None:
    """``data->>key`` in Python: a string as it is, another value as JSON text, null as None."""
    value = None if key is None else data.get(key)
    if value is None or isinstance(value, str):
        return value
    return json_text(value)


def _columns_sql(fields: Mapping[str, Mapping[str, str]] | None) -> str:
    """The SQL of `LogReader.table`'s last columns: ``data``, or one per field."""
    if fields is None:
        return "data::VARCHAR AS data"
    columns = []
    for column, by_type in fields.items():
        cases = " ".join(
            f"WHEN {_quoted(event_type)} THEN data->>{_quoted(_json_key(key))}"
            for event_type, key in by_type.items()
        )
        column_sql = '"' + column.replace('"', '""') + '"'
        columns.append(f"CASE event_type {cases} END AS {column_sql}" if cases else
                       f"NULL::VARCHAR AS {column_sql}")  # fmt: skip
    return ", ".join(columns)


def _check_fields(fields: object) -> None:
    if fields is None:
        return
    if not isinstance(fields, Mapping) or not all(
        isinstance(column, str) and isinstance(by_type, Mapping)
        for column, by_type in fields.items()
    ):
        raise InvalidInput(
            f"fields must map a column name to {{event type: data key}}, got {fields!r:.80}"
        )
    for by_type in fields.values():
        for event_type, key in by_type.items():
            if not isinstance(event_type, str) or not isinstance(key, str):
                raise InvalidInput(
                    f"fields must map a column name to {{event type: data key}}, both str, got "
                    f"{event_type!r:.40}: {key!r:.40}"
                )


def _json_key(key: str) -> str:
    """A JSON path to the top-level ``key``, whatever characters it holds."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The log's rows for LogReader.table, read in SQL: the (type, schema version) pairs it holds,
# the rows SQL reads (all but those routed through Python), and those routed through Python.
KINDS = """
SELECT DISTINCT event_type, schema_version FROM events
WHERE global_position <= ? AND list_contains(?, event_type)
"""
LOG_ROWS = """
SELECT global_position AS position, id, aggregate_id, event_type, timestamp, {columns}
FROM events
WHERE global_position <= ? AND list_contains(?, event_type) {not_routed}
"""
NOT_ROUTED = "AND NOT list_contains(?, event_type || ':' || schema_version)"
ROUTED_ROWS = "global_position <= ? AND list_contains(?, event_type || ':' || schema_version)"


def _name_of(function: object) -> str:
    return str(getattr(function, "__qualname__", None) or repr(function))
