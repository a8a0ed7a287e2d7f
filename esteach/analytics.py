"""The event log as tables to analyse: a pandas DataFrame, or SQL in DuckDB.

The log records *when* everything happened, so questions about the past ("how many users
changed their email in each week?") are queries over it, not new code in the write model.

>>> from esteach import InMemoryEventStore
>>> con = events_table(InMemoryEventStore())
>>> con.sql("SELECT count(*) FROM events_log").fetchall()
[(0,)]

`events_frame` gives one row per event in global order, with upcasters applied.
`events_table` gives the same columns to SQL, as stored (upcasters are Python and do not
run inside DuckDB): ``data`` is JSON (``data->>'new_email'``) and ``timestamp`` is UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import duckdb

import esteach.events as _events
from esteach.duck import connect, json_text
from esteach.errors import InvalidInput
from esteach.events import Event, EventRegistry
from esteach.jsondata import thaw
from esteach.store.base import EventStore, SQLEventLog

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EVENT_COLUMNS", "SupportsSQL", "events_frame", "events_table"]

EVENT_COLUMNS: Final = (
    "global_position",
    "id",
    "aggregate_id",
    "aggregate_type",
    "event_type",
    "version",
    "timestamp",
    "data",
    "correlation_id",
    "causation_id",
    "user_id",
    "source",
    "schema_version",
    "headers",
)
"""The columns of `events_frame` and of the SQL view `events_table` defines."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# The view over a DuckDB store's own table: the same columns, in the same order, as the frame.
# TEMP, so it lives in this connection only and is never written into the store's file.
_VIEW = 'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {columns} FROM events'
# A copy of a frame in another connection: data as JSON and timestamp as UTC TIMESTAMP, the
# types the DuckDB store's table has, so one query gives one answer on every store.
# Explicit casts, because a column that is all NULL (no user_id anywhere) has no type to infer.
_COPY = """
CREATE OR REPLACE TEMP TABLE "{name}" AS
SELECT
    CAST(global_position AS BIGINT)  AS global_position,
    CAST(id AS VARCHAR)              AS id,
    CAST(aggregate_id AS VARCHAR)    AS aggregate_id,
    CAST(aggregate_type AS VARCHAR)  AS aggregate_type,
    CAST(event_type AS VARCHAR)      AS event_type,
    CAST(version AS BIGINT)          AS version,
    CAST(timestamp AS TIMESTAMP)     AS timestamp,
    CAST(data AS JSON)               AS data,
    CAST(correlation_id AS VARCHAR)  AS correlation_id,
    CAST(causation_id AS VARCHAR)    AS causation_id,
    CAST(user_id AS VARCHAR)         AS user_id,
    CAST(source AS VARCHAR)          AS source,
    CAST(schema_version AS INTEGER)  AS schema_version,
    CAST(headers AS JSON)            AS headers
FROM esteach_events_frame
ORDER BY global_position
"""


class SupportsSQL(Protocol):
    """What `events_table` returns: something to run SQL on, ``con.sql("SELECT ...")``."""

    def sql(self, query: str, *, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run ``query`` (``?`` placeholders filled from ``params``) and return its relation."""
        ...


def events_frame(
    store_or_events: EventStore | Iterable[Event],
    *,
    upcast: bool = True,
    registry: EventRegistry | None = None,
) -> pd.DataFrame:
    """Every event as one row, in global order: the log as a pandas DataFrame.

    Columns are `EVENT_COLUMNS`: the envelope, its metadata flattened, ``data`` as a dict
    and ``timestamp`` as a timezone-aware UTC datetime. With ``upcast=True`` (the default) each
    event is first lifted by ``registry`` (the default registry when ``None``) to its current
    shape, so ``event_type`` and ``data`` are what today's code sees; ``schema_version`` stays
    the version the event was *stored* at, so old rows can still be told apart. With
    ``upcast=False`` the rows are exactly as stored (and an event no upcaster can lift, which
    makes ``upcast=True`` raise `InvalidEventData`, can be inspected).

    >>> events_frame(store).groupby("event_type").size()  # doctest: +SKIP
    """
    import pandas as pd  # only the tables need pandas

    read_all = getattr(store_or_events, "read_all", None)
    if callable(read_all):  # any store, including one a learner writes
        recorded: Iterable[Event] = read_all()
    elif isinstance(store_or_events, Iterable):
        recorded = store_or_events
    else:
        raise InvalidInput(
            f"events_frame needs an event store or a list of Event, got "
            f"{type(store_or_events).__name__}"
        )
    chosen = _events.registry if registry is None else registry
    lift = chosen.upcast if upcast else None
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS}
    # One list per column, filled in one pass: far cheaper than one dict per row.
    (position, ids, aggregate_id, aggregate_type, event_type, version, timestamp, data,
     correlation_id, causation_id, user_id, source, schema_version,
     headers) = columns.values()  # fmt: skip
    for i, stored in enumerate(recorded):
        if not isinstance(stored, Event):
            raise InvalidInput(f"item {i} is a {type(stored).__name__}, not an Event")
        event = stored if lift is None else lift(stored)
        meta = stored.metadata
        position.append(stored.global_position)
        ids.append(stored.id)
        aggregate_id.append(stored.aggregate_id)
        aggregate_type.append(stored.aggregate_type)
        event_type.append(event.event_type)
        version.append(stored.version)
        timestamp.append(stored.timestamp)
        # A copy: a learner editing a cell's dict must not change the store's log.
        data.append(thaw(event.data))
        correlation_id.append(meta.correlation_id)
        causation_id.append(meta.causation_id)
        user_id.append(meta.user_id)
        source.append(meta.source)
        schema_version.append(meta.schema_version)
        headers.append(dict(meta.headers))
    return pd.DataFrame({name: _column(name, values) for name, values in columns.items()})


def _column(name: str, values: list[Any]) -> pd.Series[Any]:
    import pandas as pd

    if name == "timestamp":
        return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[us, UTC]")
    # object, not pandas' str dtype: ids stay Python str or None, data stays dicts.
    return pd.Series(values, dtype="int64" if name in _INTS else object)


_INTS = frozenset({"global_position", "version", "schema_version"})


def events_table(
    store: EventStore,
    con: duckdb.DuckDBPyConnection | None = None,
    name: str = "events_log",
) -> SupportsSQL:
    """The log as an SQL table named ``name``; returns what to run SQL on.

    The one way to use it::

        con = events_table(store)
        con.sql(
            "SELECT date_trunc('week', timestamp) AS week, count(DISTINCT aggregate_id) AS users "
            "FROM events_log WHERE event_type = 'UserEmailChanged' GROUP BY week ORDER BY week"
        )

    The columns are `EVENT_COLUMNS`, as stored (no upcasting): ``data`` is JSON, so
    ``data->>'new_email'`` reads a field, and ``timestamp`` is the UTC commit time.

    * A `DuckDBEventStore` already keeps the log in SQL: without
      ``con``, ``name`` becomes a view over its ``events`` table, in its own connection (the
      store is returned), and later appends show up in it.
    * Any other store, or any store with ``con`` given, is copied into ``con`` (a new in-memory
      DuckDB connection when ``None``), which is returned; call again to see later appends.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"name must be an SQL identifier such as 'events_log' (letters, digits and _, "
            f"not starting with a digit), got {name!r}"
        )
    if not callable(getattr(store, "read_all", None)):
        raise InvalidInput(f"events_table needs an event store, got {type(store).__name__}")
    if con is None and isinstance(store, SQLEventLog):
        if name.lower() == "events":
            raise InvalidInput(
                "this store already has a table named 'events' (the log itself); pick "
                "another name for the view, e.g. the default 'events_log'"
            )
        store.sql(_VIEW.format(name=name, columns=", ".join(EVENT_COLUMNS)))
        return store
    if con is None:
        con = connect(":memory:")
    frame = events_frame(store, upcast=False)
    frame["data"] = [json_text(data) for data in frame["data"]]
    frame["headers"] = [json_text(headers) if headers else None for headers in frame["headers"]]
    # The DuckDB store's column is TIMESTAMP (UTC, no zone); a zone-aware column would become
    # TIMESTAMPTZ, which date_trunc and friends read in the session's time zone instead.
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    con.register("esteach_events_frame", frame)
    try:
        con.execute(_COPY.format(name=name))
    finally:
        con.unregister("esteach_events_frame")
    return con
