"""The rules every event store applies the same way: for store authors, not for store users.

A store calls these in its public methods so that every store gives the same answer to the
same input: check the expected version and the batch before anything is written, recognise an
idempotent retry, hold the commit time when the clock steps back, refuse a clock reading that
jumped far ahead (`ClockGuard`), check a bulk import. The
meanings they implement are written down once, in `esteach.store.base`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any, Final

from esteach.checks import check_aggregate_id, check_event_id, check_event_type
from esteach.determinism import IdFactory
from esteach.errors import ClockJumped, DuplicateEventId, InvalidInput, WrongExpectedVersion
from esteach.events import Event, EventMetadata, NewEvent
from esteach.jsondata import FrozenDict, ensure_json_data
from esteach.store.base import ANY, NO_STREAM, STREAM_EXISTS, ExpectedVersion

__all__ = [
    "DEFAULT_MAX_CLOCK_JUMP",
    "AppendSignal",
    "ClockGuard",
    "check_bulk",
    "check_expected_version",
    "check_stream_expectation",
    "ensure_new_events",
    "match_retry",
    "next_timestamp",
    "stored_event",
    "stored_metadata",
]

_MODES = (ANY, NO_STREAM, STREAM_EXISTS)


def check_expected_version(expected_version: object) -> ExpectedVersion:
    if expected_version in _MODES:
        return expected_version  # type: ignore[return-value]
    if (
        isinstance(expected_version, bool)
        or not isinstance(expected_version, int)
        or expected_version < 0
    ):
        raise InvalidInput(
            f"expected_version must be an int >= 0 (0 = new stream), {ANY!r}, {NO_STREAM!r} or "
            f"{STREAM_EXISTS!r}; got {expected_version!r}"
        )
    return expected_version


_DATA, _FIRST = attrgetter("data"), itemgetter(0)


def ensure_new_events(
    aggregate_id: str, events: Sequence[NewEvent], ids: IdFactory
) -> list[tuple[str, NewEvent]]:
    """Check a batch and give every event an id; raise before anything is written."""
    check_aggregate_id(aggregate_id)
    if not isinstance(events, (list, tuple)):
        raise InvalidInput(
            f"events must be a list or tuple of NewEvent, got {type(events).__name__}"
        )
    # The common case asked in C (set(map(type, ...))): a generator per batch cost more.
    if set(map(type, events)) != {NewEvent}:
        for i, event in enumerate(events):
            if not isinstance(event, NewEvent):
                raise InvalidInput(
                    f"events[{i}] is a {type(event).__name__}, not a NewEvent; wrap domain "
                    f"events with NewEvent(event_type=..., data=...) or let CommandProcessor do it"
                )
    if set(map(type, map(_DATA, events))) != {FrozenDict}:
        # A NewEvent makes a read-only copy of its data, so the log shares nothing with the
        # caller; one whose data was swapped behind its back is checked and copied here.
        events = [
            event
            if type(event.data) is FrozenDict
            else dataclasses.replace(
                event, data=ensure_json_data(event.data, f"events[{i}].data", frozen=True)
            )
            for i, event in enumerate(events)
        ]
    batch = [
        (event.id, event) if event.id is not None else _with_new_id(event, ids) for event in events
    ]
    if len(set(map(_FIRST, batch))) != len(batch):
        seen: set[str] = set()
        for event_id, _ in batch:
            if event_id in seen:
                raise DuplicateEventId(f"event id {event_id!r} appears twice in one append")
            seen.add(event_id)
    return batch


def _with_new_id(event: NewEvent, ids: IdFactory) -> tuple[str, NewEvent]:
    event = event.with_id(ids())
    return event.id, event  # type: ignore[return-value]


def match_retry(
    aggregate_id: str, batch: list[tuple[str, NewEvent]], stored: list[Event | None]
) -> list[Event] | None:
    """Decide what stored copies of a batch's ids mean.

    ``stored[i]`` is the stored event with the id of ``batch[i]``, or ``None``. Returns the stored
    events when the batch is an exact retry (whatever the append's expected version: see
    `esteach.store.base`), ``None`` when no id is stored, and raises `DuplicateEventId` for
    anything in between.
    """
    if all(event is None for event in stored):
        return None
    found = [event for event in stored if event is not None]
    exact = len(found) == len(batch) and all(
        old.aggregate_id == aggregate_id
        and old.event_type == new.event_type
        and _canonical(old.data) == _canonical(new.data)
        and old.version == found[0].version + i
        for i, (old, (_, new)) in enumerate(zip(found, batch, strict=True))
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
    """Return the version the batch continues from, or raise `WrongExpectedVersion`."""
    if expected_version == ANY:
        return actual
    if expected_version == STREAM_EXISTS:
        if actual == 0:
            raise WrongExpectedVersion(aggregate_id, expected_version, actual)
        return actual
    wanted = 0 if expected_version == NO_STREAM else expected_version
    if wanted != actual:
        raise WrongExpectedVersion(aggregate_id, expected_version, actual)
    return actual


DEFAULT_MAX_CLOCK_JUMP: Final = timedelta(days=30)
"""How far a store's clock may jump ahead of its previous reading, beyond the time that passed.

Thirty days: far more than a teaching clock's steps (a day, a quiet week) and NTP's corrections
(seconds), far less than the glitches that matter (a year, decades)."""


def _elapsed() -> float:
    """Seconds on a clock that NTP and the user never set: ``CLOCK_BOOTTIME`` (it also counts
    the time a laptop slept) where there is one, else the monotonic clock."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.monotonic()  # pragma: no cover - Linux has CLOCK_BOOTTIME


class ClockGuard:
    """The rule for a clock that jumps ahead, the same for every store.

    Commit times never decrease (a reading behind the last commit time is held at it), so one
    reading far in the future, from an NTP glitch or a clock set wrong and put right again,
    would stamp every later event with that future time: ``state_at`` and
    ``get_events_since`` would answer wrongly, for good, and without a word. Hence:

    * a reading more than ``max_jump`` ahead of this store's previous reading, beyond the
      time that really passed between the two (on `_elapsed`'s clock), is refused with
      `ClockJumped`; the append writes nothing;
    * if the clock's next reading is that far ahead too (within ``max_jump`` of the refused
      one), the jump was real (the clock was wrong before) and is accepted: run it again;
    * ``max_jump=None`` switches the rule off.

    The first reading of a store has nothing to compare with, so a store opened on a file
    whose last commit time is already in the future holds new events at that time. Repair such
    a file by correcting the events' ``timestamp`` with ``store.sql("UPDATE events SET ...")``.
    """

    def __init__(self, max_jump: timedelta | None = DEFAULT_MAX_CLOCK_JUMP) -> None:
        if max_jump is not None and (
            not isinstance(max_jump, timedelta) or max_jump <= timedelta(0)
        ):
            raise InvalidInput(
                f"max_clock_jump must be a positive timedelta (or None: no limit), got {max_jump!r}"
            )
        self.max_jump = max_jump
        self._previous: tuple[datetime, float] | None = None  # last accepted reading, when
        self._doubted: tuple[datetime, float] | None = None  # the reading just refused, when

    def check(self, reading: datetime) -> None:
        """Accept ``reading`` (UTC) as the store's latest, or raise ``ClockJumped``."""
        if self.max_jump is None:
            return
        now = _elapsed()
        if self._previous is not None:
            last, then = self._previous
            passed = timedelta(seconds=max(now - then, 0.0))
            # Differences, not sums: last + margin would overflow near year 9999.
            if reading - last > self.max_jump + passed and not self._confirms(reading, now):
                self._doubted = (reading, now)
                raise ClockJumped(
                    f"the store's clock read {reading.isoformat()}, {reading - last - passed} "
                    f"further ahead of its previous reading {last.isoformat()} than the "
                    f"{passed} that passed: the clock jumped (an NTP glitch, a clock set "
                    f"wrong?). Commit times never decrease, so this reading would stamp every "
                    f"later event with that future time. Nothing was written. If the clock is "
                    f"right now, run it again: a next reading that confirms the jump is "
                    f"accepted (or open the store with max_clock_jump=None)."
                )
        self._previous = (reading, now)
        self._doubted = None

    def _confirms(self, reading: datetime, now: float) -> bool:
        if self._doubted is None or self.max_jump is None:
            return False
        doubted, then = self._doubted
        passed = timedelta(seconds=max(now - then, 0.0))
        return abs(reading - doubted) <= self.max_jump + passed


def next_timestamp(
    clock_reading: datetime, last: datetime | None, guard: ClockGuard | None = None
) -> datetime:
    """The commit time: the clock's reading in UTC, held at ``last`` if the clock stepped back
    (and refused by ``guard`` if it jumped far ahead)."""
    if not isinstance(clock_reading, datetime) or clock_reading.tzinfo is None:
        raise InvalidInput(
            f"the store's clock must return an aware datetime, got {clock_reading!r}"
        )
    now = clock_reading.astimezone(UTC)
    if guard is not None:
        guard.check(now)
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
        if isinstance(event.version, bool) or not isinstance(event.version, int):
            raise InvalidInput(
                f"bulk_import item {i} has version {event.version!r}: a version is an int "
                f"(the next one of stream {stream!r} is {want})"
            )
        if event.version != want:
            raise InvalidInput(
                f"bulk_import item {i} is version {event.version} of stream "
                f"{stream!r}, but the next version there is {want}: versions must "
                f"continue each stream without gaps"
            )
        if not isinstance(event.timestamp, datetime):
            raise InvalidInput(
                f"bulk_import item {i} has timestamp {event.timestamp!r:.60}, not a datetime"
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


# --- reading events back: built for speed, since a replay reads every one ------------------

_METADATA_SLOTS = tuple(
    getattr(EventMetadata, f.name).__set__ for f in dataclasses.fields(EventMetadata)
)


def stored_metadata(
    correlation_id: str | None,
    causation_id: str | None,
    user_id: str | None,
    source: str,
    schema_version: int,
    headers: FrozenDict,
) -> EventMetadata:
    """Metadata a store read back, built without the checks ``EventMetadata()`` runs.

    Only for values that passed those checks on their way in: a replay builds one per event,
    and checking each again would cost a third of a DuckDB load.
    """
    metadata = object.__new__(EventMetadata)
    set_correlation, set_causation, set_user, set_source, set_version, set_headers = _METADATA_SLOTS
    set_correlation(metadata, correlation_id)
    set_causation(metadata, causation_id)
    set_user(metadata, user_id)
    set_source(metadata, source)
    set_version(metadata, schema_version)
    set_headers(metadata, headers)
    return metadata


_EVENT_SLOTS = tuple(getattr(Event, f.name).__set__ for f in dataclasses.fields(Event))


def stored_event(
    id: str,
    aggregate_id: str,
    aggregate_type: str,
    event_type: str,
    version: int,
    timestamp: datetime,
    data: dict[str, Any],
    metadata: EventMetadata,
    global_position: int,
) -> Event:
    """``Event(...)`` in half the time, for a store building the events it reads back.

    The same fields in the same order; a frozen dataclass's ``__init__`` sets each through
    ``object.__setattr__``, this sets the slots directly.
    """
    event = object.__new__(Event)
    (set_id, set_aggregate_id, set_aggregate_type, set_event_type, set_version, set_timestamp,
     set_data, set_metadata, set_position) = _EVENT_SLOTS  # fmt: skip
    set_id(event, id)
    set_aggregate_id(event, aggregate_id)
    set_aggregate_type(event, aggregate_type)
    set_event_type(event, event_type)
    set_version(event, version)
    set_timestamp(event, timestamp)
    set_data(event, data)
    set_metadata(event, metadata)
    set_position(event, global_position)
    return event


class AppendSignal:
    """Wakes the threads of this process waiting for the head to pass a position: what an
    in-process store needs for `LiveEventLog.wait_for_append`.

    The store calls `appended` with its new head after each successful commit (while it still
    holds its own lock, which is safe: waiters never take the store's lock while holding this
    one's).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._head = 0

    def appended(self, head: int) -> None:
        # The plain lock's `with`, not the Condition's: Condition.__enter__ is Python code, and
        # the stop button's KeyboardInterrupt landing in it after the lock was taken would keep
        # the lock for good, and the next append would wait forever.
        with self._lock:
            self._head = head
            self._condition.notify_all()

    def wait(self, after_position: int, timeout: float | None, head: Callable[[], int]) -> bool:
        """Wait until the head is past ``after_position``; ``head()`` asks the store once first
        (this signal only learns the head from appends made after it was created)."""
        if head() > after_position:
            return True
        with self._condition:
            return self._condition.wait_for(lambda: self._head > after_position, timeout)
