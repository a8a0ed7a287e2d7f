"""The ``EventStore`` protocol every store implements, and the checks they share.

Meanings fixed once for every store:

* ``expected_version`` is the stream's current version (``0`` = the stream does not exist yet),
  or :data:`NO_STREAM` (the stream must not exist) or :data:`ANY` (no check). A mismatch raises
  :class:`~esteach.errors.WrongExpectedVersion` and writes nothing.
* ``from_version`` and ``from_position`` are **inclusive**: ``get_events(id, 3)`` returns
  versions 3, 4, ...; a projection whose checkpoint is ``p`` continues with ``read_all(p + 1)``.
* The store assigns ``version``, ``global_position`` and the commit ``timestamp``; timestamps
  never decrease with position (a clock that steps back is held at the last commit time).
* **Event ids.** An append whose events all carry ids already stored, in this stream, at
  consecutive versions, with the same types and data, is an idempotent retry: nothing is written
  and the stored events are returned. Any other reuse of a stored id, or one id twice in a batch,
  raises :class:`~esteach.errors.DuplicateEventId` and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final, Literal, Protocol, runtime_checkable

from esteach.determinism import IdFactory
from esteach.errors import DuplicateEventId, InvalidInput, WrongExpectedVersion
from esteach.events import (
    Event,
    NewEvent,
    check_event_id,
    check_event_type,
    check_id_characters,
    ensure_json_data,
)

__all__ = [
    "ANY",
    "MAX_ID_LENGTH",
    "NO_STREAM",
    "EventStore",
    "ExpectedVersion",
    "check_aggregate_id",
    "check_bulk",
    "check_expected_version",
    "check_limit",
    "check_position",
    "check_stream_expectation",
    "check_version",
    "ensure_new_events",
    "match_retry",
    "next_timestamp",
]

ANY: Final = "any"
"""Expected-version mode: append whatever the stream's version is."""

NO_STREAM: Final = "no_stream"
"""Expected-version mode: the stream must not exist yet (same check as ``0``)."""

ExpectedVersion = int | Literal["any", "no_stream"]

MAX_ID_LENGTH: Final = 256


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


def check_aggregate_id(aggregate_id: object) -> str:
    """Return the id if it is a usable stream id, else raise :class:`InvalidInput`."""
    if not isinstance(aggregate_id, str):
        raise InvalidInput(
            f"aggregate_id must be a str, got {type(aggregate_id).__name__} {aggregate_id!r:.60}"
        )
    if not aggregate_id.strip():
        raise InvalidInput(f"aggregate_id must not be empty or blank, got {aggregate_id!r}")
    if len(aggregate_id) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"aggregate_id is {len(aggregate_id)} characters long; at most {MAX_ID_LENGTH} allowed"
        )
    return check_id_characters(aggregate_id, "aggregate_id")


def check_expected_version(expected_version: object) -> ExpectedVersion:
    if expected_version in (ANY, NO_STREAM):
        return expected_version
    if (
        isinstance(expected_version, bool)
        or not isinstance(expected_version, int)
        or expected_version < 0
    ):
        raise InvalidInput(
            f"expected_version must be an int >= 0 (0 = new stream), {ANY!r} or {NO_STREAM!r}; "
            f"got {expected_version!r}"
        )
    return expected_version


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_version(from_version: object) -> int:
    return _check_int(from_version, "from_version", 0)


def check_position(from_position: object) -> int:
    return _check_int(from_position, "from_position", 0)


def check_limit(limit: object) -> int | None:
    return None if limit is None else _check_int(limit, "limit", 1)


def ensure_new_events(
    aggregate_id: str, events: Sequence[NewEvent], ids: IdFactory
) -> list[tuple[str, NewEvent]]:
    """Check a batch and give every event an id; raise before anything is written."""
    check_aggregate_id(aggregate_id)
    if not isinstance(events, (list, tuple)):
        raise InvalidInput(
            f"events must be a list or tuple of NewEvent, got {type(events).__name__}"
        )
    batch: list[tuple[str, NewEvent]] = []
    seen: set[str] = set()
    for i, event in enumerate(events):
        if not isinstance(event, NewEvent):
            raise InvalidInput(
                f"events[{i}] is a {type(event).__name__}, not a NewEvent; wrap domain events "
                f"with NewEvent(event_type=..., data=...) or let CommandProcessor do it"
            )
        event_id = event.id if event.id is not None else check_event_id(ids())
        if event_id in seen:
            raise DuplicateEventId(f"event id {event_id!r} appears twice in one append")
        seen.add(event_id)
        # Copied (and checked again) here so that the log shares no dict with the caller.
        data = ensure_json_data(event.data, f"events[{i}].data")
        batch.append((event_id, dataclasses.replace(event, data=data, id=event_id)))
    return batch


def match_retry(
    aggregate_id: str,
    batch: list[tuple[str, NewEvent]],
    stored: list[Event | None],
    expected_version: ExpectedVersion = ANY,
) -> list[Event] | None:
    """Decide what stored copies of a batch's ids mean.

    ``stored[i]`` is the stored event with the id of ``batch[i]``, or ``None``. Returns the stored
    events when the batch is an exact retry, ``None`` when no id is stored, and raises
    :class:`DuplicateEventId` for anything in between.
    """
    if all(event is None for event in stored):
        return None
    found = [event for event in stored if event is not None]
    # A retry repeats an append that got through: with an exact expected version, the stored
    # events must sit right after it (else two id factories with one seed are reusing ids).
    first_version: int | None = None
    if expected_version == NO_STREAM:
        first_version = 1
    elif isinstance(expected_version, int):
        first_version = expected_version + 1
    exact = (
        len(found) == len(batch)
        and (first_version is None or found[0].version == first_version)
        and all(
            old.aggregate_id == aggregate_id
            and old.event_type == new.event_type
            and _canonical(old.data) == _canonical(new.data)
            and old.version == found[0].version + i
            for i, (old, (_, new)) in enumerate(zip(found, batch, strict=True))
        )
    )
    if exact:
        return found
    first = found[0]
    raise DuplicateEventId(
        f"event id {first.id!r} is already stored as {first.event_type} version {first.version} "
        f"of stream {first.aggregate_id!r}, and this append is not an exact retry of it. "
        f"Use new ids for new events (two id factories with the same seed on one store reuse "
        f"ids). Nothing was written."
    )


def _canonical(data: object) -> str:
    # JSON text, not ==: in Python True == 1 and 1 == 1.0, but they are different JSON data.
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def check_stream_expectation(
    aggregate_id: str, expected_version: ExpectedVersion, actual: int
) -> int:
    """Return the version the batch continues from, or raise :class:`WrongExpectedVersion`."""
    if expected_version == ANY:
        return actual
    wanted = 0 if expected_version == NO_STREAM else expected_version
    if wanted != actual:
        raise WrongExpectedVersion(aggregate_id, expected_version, actual)
    return actual


def next_timestamp(clock_reading: datetime, last: datetime | None) -> datetime:
    """The commit time: the clock's reading in UTC, held at ``last`` if the clock stepped back."""
    if not isinstance(clock_reading, datetime) or clock_reading.tzinfo is None:
        raise InvalidInput(
            f"the store's clock must return an aware datetime, got {clock_reading!r}"
        )
    now = clock_reading.astimezone(UTC)
    return last if last is not None and now < last else now


def check_bulk(
    events: Iterable[Event],
    current_version: Callable[[str], int],
    last_timestamp: datetime | None,
) -> list[Event]:
    """Check a bulk import against each stream's ``current_version`` and the last commit time."""
    checked: list[Event] = []
    stream_version: dict[str, int] = {}
    seen: set[str] = set()
    for i, event in enumerate(events):
        if not isinstance(event, Event):
            raise InvalidInput(f"bulk_import item {i} is a {type(event).__name__}, not an Event")
        stream = event.aggregate_id
        if not (isinstance(stream, str) and stream in stream_version):  # checked once a stream
            check_aggregate_id(stream)
            stream_version[stream] = current_version(stream)
        check_event_id(event.id)
        check_event_type(event.event_type)
        ensure_json_data(event.data, f"bulk_import item {i} data")
        if event.id in seen:
            raise DuplicateEventId(f"bulk_import item {i} repeats event id {event.id!r}")
        seen.add(event.id)
        want = stream_version[stream] + 1
        if event.version != want:
            raise InvalidInput(
                f"bulk_import item {i} is version {event.version} of stream "
                f"{stream!r}, but the next version there is {want}: versions must "
                f"continue each stream without gaps"
            )
        if event.timestamp.tzinfo is None:
            raise InvalidInput(f"bulk_import item {i} has a naive timestamp; use UTC")
        if last_timestamp is not None and event.timestamp < last_timestamp:
            raise InvalidInput(
                f"bulk_import item {i} has timestamp {event.timestamp.isoformat()}, before the "
                f"previous {last_timestamp.isoformat()}: timestamps must not decrease"
            )
        stream_version[stream] = event.version
        last_timestamp = event.timestamp
        checked.append(event)
    return checked
