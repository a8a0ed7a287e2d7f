"""The ``EventStore`` protocol every store implements, and the checks they share.

Meanings fixed once for every store:

* ``expected_version`` is the stream's current version (``0`` = the stream does not exist yet),
  or `NO_STREAM` (the stream must not exist), `STREAM_EXISTS` (the stream must have at least
  one event) or `ANY` (no check). A mismatch raises `WrongExpectedVersion` and writes nothing.
* ``from_version`` and ``from_position`` are **inclusive**: ``get_events(id, 3)`` returns
  versions 3, 4, ...; a projection whose checkpoint is ``p`` continues with ``read_all(p + 1)``.
* The store assigns ``version``, ``global_position`` and the commit ``timestamp``; timestamps
  never decrease with position (a clock that steps back is held at the last commit time).
* **Clocks that jump ahead.** A clock reading more than ``max_clock_jump`` (30 days by default)
  ahead of the store's previous reading, beyond the time that really passed, raises
  `ClockJumped` and writes nothing, unless the clock's next reading confirms the jump
  (`esteach.store.rules.ClockGuard`). Without this rule one glitched reading would stamp every
  later event with a future time.
* **Event ids and retries.** An append whose events all carry ids already stored, in this
  stream, at consecutive versions, with the same types and data, is an idempotent retry: nothing
  is written and the stored events are returned, *whatever its expected version* (as in
  EventStoreDB and KurrentDB). So a caller who lost the reply to an append can send the very
  same append again, even after reading the stream's new version. Any other reuse of a stored
  id, or one id twice in a batch, raises `DuplicateEventId` and writes nothing.

This module is what a user of a store needs. The rules every store applies in the same way
(checking a batch, matching a retry, the commit time) are in `esteach.store.rules`, for
store authors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

from esteach.events import Event, NewEvent

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "EventStore",
    "ExpectedVersion",
    "LiveEventLog",
    "SQLEventLog",
]

ANY: Final = "any"
"""Expected-version mode: append whatever the stream's version is."""

NO_STREAM: Final = "no_stream"
"""Expected-version mode: the stream must not exist yet (same check as ``0``)."""

STREAM_EXISTS: Final = "stream_exists"
"""Expected-version mode: the stream must already have at least one event."""

ExpectedVersion = int | Literal["any", "no_stream", "stream_exists"]


@runtime_checkable
class EventStore(Protocol):
    """What every event store offers. See the module docstring for the shared meanings."""

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        """Check ``expected_version``, append ``events`` atomically, return them as recorded."""
        ...

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        """The stream's events with version >= ``from_version``, in version order."""
        ...

    def get_events_by_type(
        self, event_type: str, limit: int | None = None, from_position: int = 0
    ) -> list[Event]:
        """Up to ``limit`` events of one type from ``from_position`` on, in global order."""
        ...

    def get_events_since(self, timestamp: datetime) -> list[Event]:
        """Events committed at or after ``timestamp``, in global order."""
        ...

    def read_all(self, from_position: int = 0, limit: int | None = None) -> list[Event]:
        """All events with position >= ``from_position``, in global order, at most ``limit``."""
        ...

    def stream_version(self, aggregate_id: str) -> int:
        """The stream's current version; 0 when it has no events."""
        ...

    def head_position(self) -> int:
        """The global position of the last committed event; 0 when the store is empty."""
        ...

    def bulk_import(self, events: Iterable[Event]) -> int:
        """Load already-recorded events (a sample log) in one transaction; return the count.

        Ids, types, data, metadata, versions and timestamps are kept; global positions are
        reassigned after the store's head in the given order. Each stream's versions must
        continue its current version without gaps, and timestamps must not decrease.
        """
        ...

    def close(self) -> None:
        """Release the store's resources; a closed store refuses further use."""
        ...


@runtime_checkable
class SQLEventLog(Protocol):
    """A store whose log is an SQL table named ``events`` (the DuckDB store): generic code asks
    for this capability, not for a class, to let SQL do work it would do in Python."""

    def sql_df(self, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a query over the store's tables and fetch its result as a DataFrame."""
        ...

    def sql_arrow(self, query: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query over the store's tables and fetch its result as a pyarrow Table."""
        ...

    def select_events(self, where: str, params: Sequence[Any] = ()) -> list[Event]:
        """The events matching an SQL condition on ``events``, in global order."""
        ...

    def sql(self, query: str, params: Sequence[Any] | None = None) -> Any:
        """Run SQL on the store's own connection."""
        ...


@runtime_checkable
class LiveEventLog(Protocol):
    """A store that can wake a reader when events are appended: a live `EventProcessor.follow`
    waits on it instead of polling (as it polls a store without it, such as SQLite's). The
    in-memory and DuckDB stores signal through a condition variable, within the process;
    PostgreSQL through ``LISTEN``/``NOTIFY``, from any process."""

    def wait_for_append(self, after_position: int, timeout: float | None = None) -> bool:
        """Block until the head is past ``after_position``; ``False`` after ``timeout`` s."""
        ...
