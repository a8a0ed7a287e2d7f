"""The errors esteach raises: a small hierarchy whose messages say what was wrong and what to do.

Every error a learner can meet derives from `EsteachError`, so ``except EsteachError``
catches them all. Business-rule rejections derive from `DomainError`; problems with the
shape of input (a command, an event's data) derive from `InvalidInput` (also a
``ValueError``); store problems derive from `EventStoreError`.
"""

from __future__ import annotations

__all__ = [
    "AggregateNotFound",
    "ConcurrencyConflict",
    "DomainError",
    "DuplicateEventId",
    "EsteachError",
    "EventStoreError",
    "EventsOutOfOrder",
    "InvalidCommand",
    "InvalidEventData",
    "InvalidInput",
    "ReadOnlyEventData",
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
