"""esteach: event sourcing and CQRS you can read in an evening and run in a notebook.

The public API, all importable from ``esteach``:

* events: `Event`, `EventMetadata`, `NewEvent`, `DomainEvent`,
  `registry`
* aggregates and commands: `Aggregate`, `Command`
* stores: `EventStore` (protocol), `InMemoryEventStore`, `DuckDBEventStore`,
  `SQLiteEventStore`, `PostgresEventStore`, `ANY`, `NO_STREAM`, `STREAM_EXISTS`
* the write side: `CommandProcessor`, `CommandResult`, `AggregateLocks`; `Decider` (an
  aggregate as three functions); `ProcessManager`, `ProcessRunner`, `Step` (processes that
  span aggregates)
* loading: `Repository`, `LoadReport`, `AggregateCache`
* snapshots: `Snapshot`, `SnapshotStore`, `InMemorySnapshotStore`,
  `DuckDBSnapshotStore`, `PostgresSnapshotStore`, `SnapshotManager`
* determinism: `StepClock`, `SeededIds`, `system_clock`, `uuid4_ids`
* the read side: `EventProcessor` (``follow()`` for a live `Subscription`), `Projection`,
  `UserQueryModel`,
  `UserView`, `AccountBalances`, `AccountView`
* time travel: `state_at`, `history`, `describe_version`, `diff`
* the log for analysis: `events_frame` (pandas), `events_table` (DuckDB SQL),
  `load_sample`, `read_jsonl`, `write_jsonl`
* errors: `EsteachError` and its family in `esteach.errors`
* testing: `given`, `given_process`
"""

from typing import TYPE_CHECKING, Any

from esteach.aggregate import Aggregate
from esteach.analytics import events_frame, events_table
from esteach.caching import AggregateCache
from esteach.checks import MAX_PAGE_SIZE
from esteach.commands import Command
from esteach.decider import Decider
from esteach.determinism import Clock, IdFactory, SeededIds, StepClock, system_clock, uuid4_ids
from esteach.errors import (
    AggregateNotFound,
    ClockJumped,
    ConcurrencyConflict,
    DamagedFile,
    DatabaseInvalidated,
    DiskFull,
    DomainError,
    DuplicateEventId,
    EsteachError,
    EventsOutOfOrder,
    EventStoreError,
    FileInUse,
    FileNotWritable,
    IncompatibleFile,
    InvalidCommand,
    InvalidEventData,
    InvalidInput,
    ReadOnlyEventData,
    StorageError,
    UnknownEventType,
    WrongExpectedVersion,
)
from esteach.eventlog import load_sample, read_jsonl, write_jsonl
from esteach.events import DomainEvent, Event, EventMetadata, EventRegistry, NewEvent, registry
from esteach.processes import ProcessManager, ProcessRunner, Step
from esteach.processor import AggregateLocks, CommandProcessor, CommandResult
from esteach.projections import EventProcessor, Projection, ProjectionError, ProjectionTimeout
from esteach.readmodels import AccountBalances, AccountView, UserQueryModel, UserView
from esteach.repository import LoadReport, Repository
from esteach.snapshots import (
    DuckDBSnapshotStore,
    InMemorySnapshotStore,
    Snapshot,
    SnapshotManager,
    SnapshotStore,
)
from esteach.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    EventStore,
    ExpectedVersion,
    InMemoryEventStore,
    LiveEventLog,
)
from esteach.store.duckdb import DuckDBEventStore
from esteach.store.sqlite import SQLiteEventStore
from esteach.subscriptions import Subscription
from esteach.testing import given, given_process
from esteach.timetravel import describe_version, diff, history, state_at

if TYPE_CHECKING:
    from esteach.store.postgres import PostgresEventStore, PostgresSnapshotStore

__version__ = "0.1.0"

# Imported on first use: psycopg takes about 90 ms to import, half as long again as the rest of
# esteach, and most notebooks never touch PostgreSQL.
_LAZY = {
    "PostgresEventStore": "esteach.store.postgres",
    "PostgresSnapshotStore": "esteach.store.postgres",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'esteach' has no attribute {name!r}")


__all__ = [
    "ANY",
    "MAX_PAGE_SIZE",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AccountBalances",
    "AccountView",
    "Aggregate",
    "AggregateCache",
    "AggregateLocks",
    "AggregateNotFound",
    "Clock",
    "ClockJumped",
    "Command",
    "CommandProcessor",
    "CommandResult",
    "ConcurrencyConflict",
    "DamagedFile",
    "DatabaseInvalidated",
    "Decider",
    "DiskFull",
    "DomainError",
    "DomainEvent",
    "DuckDBEventStore",
    "DuckDBSnapshotStore",
    "DuplicateEventId",
    "EsteachError",
    "Event",
    "EventMetadata",
    "EventProcessor",
    "EventRegistry",
    "EventStore",
    "EventStoreError",
    "EventsOutOfOrder",
    "ExpectedVersion",
    "FileInUse",
    "FileNotWritable",
    "IdFactory",
    "InMemoryEventStore",
    "InMemorySnapshotStore",
    "IncompatibleFile",
    "InvalidCommand",
    "InvalidEventData",
    "InvalidInput",
    "LiveEventLog",
    "LoadReport",
    "NewEvent",
    "PostgresEventStore",
    "PostgresSnapshotStore",
    "ProcessManager",
    "ProcessRunner",
    "Projection",
    "ProjectionError",
    "ProjectionTimeout",
    "ReadOnlyEventData",
    "Repository",
    "SQLiteEventStore",
    "SeededIds",
    "Snapshot",
    "SnapshotManager",
    "SnapshotStore",
    "Step",
    "StepClock",
    "StorageError",
    "Subscription",
    "UnknownEventType",
    "UserQueryModel",
    "UserView",
    "WrongExpectedVersion",
    "describe_version",
    "diff",
    "events_frame",
    "events_table",
    "given",
    "given_process",
    "history",
    "load_sample",
    "read_jsonl",
    "registry",
    "state_at",
    "system_clock",
    "uuid4_ids",
    "write_jsonl",
]
