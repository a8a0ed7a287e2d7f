"""Event stores: one protocol, one contract, an in-memory and a DuckDB implementation."""

from esteach.store.base import ANY, NO_STREAM, STREAM_EXISTS, EventStore, ExpectedVersion
from esteach.store.memory import InMemoryEventStore

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "EventStore",
    "ExpectedVersion",
    "InMemoryEventStore",
]
