"""The errors esteach raises: a small hierarchy whose messages say what was wrong and what to do.

Every error a learner can meet derives from `EsteachError`, so ``except EsteachError``
catches them all. Business-rule rejections derive from `DomainError`; problems with the
shape of input (a command, an event's data) derive from `InvalidInput` (also a
``ValueError``); store problems derive from `EventStoreError`.
"""

from __future__ import annotations

__all__ = [
    "AggregateNotFound",
    "ClockJumped",
    "ConcurrencyConflict",
    "DamagedFile",
    "DatabaseInvalidated",
    "DiskFull",
    "DomainError",
    "DuplicateEventId",
    "EsteachError",
    "EventStoreError",
    "EventsOutOfOrder",
    "FileInUse",
    "FileNotWritable",
    "IncompatibleFile",
    "InvalidCommand",
    "InvalidEventData",
    "InvalidInput",
    "ReadOnlyEventData",
    "StorageError",
    "UnknownEventType",
    "WrongExpectedVersion",
]


class EsteachError(Exception):
    """Base class of every error esteach raises on purpose."""


class DomainError(EsteachError):
    """A command was understood but a business rule rejects it. Nothing was recorded."""


class AggregateNotFound(DomainError):
    """A command addressed an aggregate that has never been created."""


class InvalidInput(EsteachError, ValueError):
    """Input has the wrong shape: a missing id, a wrong type, data that is not JSON."""


class InvalidCommand(InvalidInput):
    """A command object is malformed (empty id, wrong field type). Nothing was recorded."""


class InvalidEventData(InvalidInput):
    """An event's data cannot be stored as JSON, or does not fit its event class."""


class UnknownEventType(InvalidInput):
    """An event type name has no registered domain event class."""

    def __init__(self, event_type: str, known: list[str]) -> None:
        self.event_type = event_type
        shown = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"unknown event type {event_type!r}: no domain event class is registered under that "
            f"name (known: {shown}). Define a DomainEvent subclass with that name, or register an "
            f"upcaster that renames it."
        )


class ReadOnlyEventData(EsteachError, TypeError):
    """Recorded event data was changed through a read: events are facts, never edited."""


class EventsOutOfOrder(EsteachError):
    """Events were applied to an aggregate in the wrong order or from another stream."""


class EventStoreError(EsteachError):
    """An event store refused an operation. Nothing was written."""


class ClockJumped(EventStoreError):
    """The store's clock read far ahead of its previous reading (more than ``max_clock_jump``
    beyond the time that passed): the append was refused, nothing was written.

    A single reading like that is a glitch; if the clock's next reading confirms the jump, it
    is accepted. See `esteach.store.rules.ClockGuard`.
    """


class StorageError(EventStoreError):
    """A DuckDB file (an event store's, a read model's or a snapshot store's) could not be used.

    The subclasses name the cause; ``engine_message`` holds what DuckDB said, word for word,
    and the message says what to do. Nothing was written by the operation that failed.
    """

    def __init__(self, message: str, engine_message: str = "") -> None:
        super().__init__(message)
        self.engine_message = engine_message


class DiskFull(StorageError):
    """The disk (or a file-size limit) left no room to write: free space and try again."""


class FileNotWritable(StorageError):
    """The file, its folder or its file system is read-only for this process."""


class FileInUse(StorageError):
    """Another process (or this one, opened another way) holds the file."""


class DamagedFile(StorageError):
    """The file is not a whole DuckDB database (truncated, overwritten, empty): restore it from
    a backup (`DuckDBEventStore.backup`)."""


class DatabaseInvalidated(StorageError):
    """DuckDB stopped using the file after a fatal error (a checkpoint on a full disk, say).
    Acknowledged events are safe; close every object on the file and open it again."""


class IncompatibleFile(StorageError):
    """The file holds an ``events`` table that is not an esteach event log (other columns, no
    keys, repeated global positions): refused at open, with what is missing."""


class WrongExpectedVersion(EventStoreError):
    """An append's expected version does not match the stream's actual version.

    This is the optimistic-concurrency check: someone else appended to the stream since the
    caller read it. Reload the aggregate, decide again, and retry.
    """

    def __init__(self, aggregate_id: str, expected: int | str, actual: int) -> None:
        self.aggregate_id = aggregate_id
        self.expected = expected
        self.actual = actual
        if expected == "stream_exists":
            message = (
                f"wrong expected version for stream {aggregate_id!r}: expected the stream to "
                f"exist ('stream_exists'), but it has no events. Create it first. Nothing was "
                f"written."
            )
        else:
            message = (
                f"wrong expected version for stream {aggregate_id!r}: expected {expected!r}, "
                f"but the stream is at version {actual}. Another writer got there first: "
                f"reload the aggregate, decide again and retry. Nothing was written."
            )
        super().__init__(message)


class ConcurrencyConflict(WrongExpectedVersion):
    """A command still conflicted after the processor's bounded number of retries."""

    def __init__(self, aggregate_id: str, expected: int | str, actual: int, attempts: int) -> None:
        super().__init__(aggregate_id, expected, actual)
        self.attempts = attempts
        self.args = (
            f"gave up on stream {aggregate_id!r} after {attempts} attempts: every time another "
            f"writer appended first (last seen: expected {expected!r}, actual {actual}). "
            f"Nothing was written; try again later or raise max_retries.",
        )


class DuplicateEventId(EventStoreError):
    """An event id is already stored and the append is not an exact retry of a stored one."""
