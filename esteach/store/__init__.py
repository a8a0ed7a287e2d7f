"""Event stores: one protocol, one contract, in memory, in DuckDB and in PostgreSQL."""

from esteach.store.base import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    EventStore,
    ExpectedVersion,
    LiveEventLog,
)
from esteach.store.memory import InMemoryEventStore

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "EventStore",
    "ExpectedVersion",
    "InMemoryEventStore",
    "LiveEventLog",
]
