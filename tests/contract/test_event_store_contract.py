"""The event store contract: one suite of promises, run unchanged against every store.

The promises are those of the module docstring of :mod:`esteach.store.base`. Each store gets a
subclass of :class:`EventStoreContract` that only says how to open it (``make_store``) and how to
open it again on the same data (``reopen``); every test lives in the base class, so a store cannot
pass by having its own, easier copy of a test.

Conflicts between two store objects on one database are not part of this file.
"""

from __future__ import annotations

import abc
import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest

from esteach import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    Clock,
    DuckDBEventStore,
    DuplicateEventId,
    Event,
    EventMetadata,
    EventStore,
    EventStoreError,
    IdFactory,
    InMemoryEventStore,
    InvalidEventData,
    InvalidInput,
    NewEvent,
    ReadOnlyEventData,
    SeededIds,
    StepClock,
    WrongExpectedVersion,
)
from esteach.store.sqlite import SQLiteEventStore

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=1)
SEED = 20240101
STREAM = "order-alpha"  # no digits, so version numbers in error messages cannot hide in it

SQL_METACHARACTER_IDS = [
    "'; DROP TABLE events; --",
    "%",
    "_",
    "a%c",
    "a_c",
    "it's",
    "''",
    '"double"',
    "back\\slash",
    "semi;colon",
    "user-ünïcödé-名前-🧪",
    "  padded  ",
]


class ScriptedClock:
    """A clock the test sets by hand, e.g. to make it step back."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def new(
    event_type: str = "ItemAdded",
    data: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    metadata: EventMetadata | None = None,
    aggregate_type: str = "Order",
) -> NewEvent:
    return NewEvent(
        event_type=event_type,
        data={} if data is None else data,
        aggregate_type=aggregate_type,
        metadata=EventMetadata() if metadata is None else metadata,
        id=event_id,
    )


def recorded(
    event_id: str,
    aggregate_id: str,
    version: int,
    timestamp: datetime,
    *,
    event_type: str = "ItemImported",
    data: dict[str, Any] | None = None,
    global_position: int = 0,
    metadata: EventMetadata | None = None,
) -> Event:
    """An already-recorded event, as a sample log for ``bulk_import`` holds it."""
    return Event(
        id=event_id,
        aggregate_id=aggregate_id,
        aggregate_type="Order",
        event_type=event_type,
        version=version,
        timestamp=timestamp,
        data={"n": version} if data is None else data,
        metadata=EventMetadata() if metadata is None else metadata,
        global_position=global_position,
    )


def json_text(value: object) -> str:
    """Canonical JSON: tells 1 from 1.0 from True, which ``==`` on Python values does not."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Snapshot:
    head: int
    log: list[Event]
    versions: dict[str, int]


def snapshot(store: EventStore, *streams: str) -> Snapshot:
    return Snapshot(
        store.head_position(), store.read_all(), {s: store.stream_version(s) for s in streams}
    )


def positions(events: list[Event]) -> list[int]:
    return [e.global_position for e in events]


def mentions(message: str, value: object) -> bool:
    """Whether ``message`` names ``value`` as a whole word (so 1 is not found inside 12)."""
    return re.search(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", message) is not None


def seed_mixed_log(store: EventStore) -> None:
    """Six single-event appends over three streams, one clock tick apart.

    position  stream        version  type
    1         order-alpha   1        ItemAdded
    2         order-beta    1        ItemAdded
    3         order-alpha   2        ItemRemoved
    4         order-alpha   3        ItemAdded
    5         order-beta    2        OrderPlaced
    6         order-gamma   1        ItemAdded
    """
    for stream, event_type in [
        ("order-alpha", "ItemAdded"),
        ("order-beta", "ItemAdded"),
        ("order-alpha", "ItemRemoved"),
        ("order-alpha", "ItemAdded"),
        ("order-beta", "OrderPlaced"),
        ("order-gamma", "ItemAdded"),
    ]:
        store.append_events(stream, ANY, [new(event_type, {"stream": stream})])


class EventStoreContract(abc.ABC):
    """Every test of the contract. Subclasses say how to open (and reopen) their store."""

    @abc.abstractmethod
    def make_store(self, clock: Clock, ids: IdFactory) -> EventStore:
        """A new, empty store that takes times from ``clock`` and event ids from ``ids``."""

    @abc.abstractmethod
    def reopen(self, store: EventStore) -> EventStore:
        """Close ``store`` and return a new store object on the same data, with the same clock
        and id factory; call ``pytest.skip`` if this kind of store cannot be reopened."""

    # --- plumbing ------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _close_stores_afterwards(self) -> Iterator[None]:
        self._opened: list[EventStore] = []
        yield
        for store in reversed(self._opened):
            with contextlib.suppress(Exception):  # a test may have closed it already
                store.close()

    def open(self, clock: Clock, ids: IdFactory) -> EventStore:
        store = self.make_store(clock, ids)
        self._opened.append(store)
        return store

    def open_again(self, store: EventStore) -> EventStore:
        again = self.reopen(store)
        self._opened.append(again)
        return again

    @pytest.fixture
    def clock(self) -> StepClock:
        return StepClock(START, STEP)

    @pytest.fixture
    def ids(self) -> SeededIds:
        return SeededIds(seed=SEED)

    @pytest.fixture
    def store(self, clock: StepClock, ids: SeededIds) -> EventStore:
        return self.open(clock, ids)

    # --- round trip of the envelope --------------------------------------------------------------

    def test_the_store_implements_the_event_store_protocol(self, store: EventStore) -> None:
        assert isinstance(store, EventStore)

    def test_an_append_returns_envelopes_with_every_field_assigned(self, store: EventStore) -> None:
        metadata = EventMetadata(
            correlation_id="corr-1",
            causation_id="cmd-1",
            user_id="admin-ü",
            source="checkout-service",
            schema_version=3,
        )
        events = store.append_events(
            STREAM,
            0,
            [
                new("OrderCreated", {"total": 12}, event_id="evt-a", metadata=metadata),
                new("ItemAdded", {"sku": "X-1"}, event_id="evt-b", aggregate_type="Cart"),
            ],
        )

        assert [e.id for e in events] == ["evt-a", "evt-b"]
        assert [e.aggregate_id for e in events] == [STREAM, STREAM]
        assert [e.aggregate_type for e in events] == ["Order", "Cart"]
        assert [e.event_type for e in events] == ["OrderCreated", "ItemAdded"]
        assert [e.version for e in events] == [1, 2]
        assert [e.global_position for e in events] == [1, 2]
        assert [e.data for e in events] == [{"total": 12}, {"sku": "X-1"}]
        assert events[0].metadata == metadata
        assert events[1].metadata == EventMetadata()
        # one append is one commit: both events carry the clock's first reading
        assert [e.timestamp for e in events] == [START, START]

    def test_reading_back_gives_exactly_the_events_the_append_returned(
        self, store: EventStore
    ) -> None:
        metadata = EventMetadata(correlation_id="c", causation_id="d", user_id="u", source="s")
        appended = store.append_events(
            STREAM,
            NO_STREAM,
            [
                new("OrderCreated", {"a": [1, {"b": None}]}, metadata=metadata),
                new("ItemAdded", {"sku": "ä"}, aggregate_type=""),
            ],
        )

        assert store.get_events(STREAM) == appended
        assert store.read_all() == appended
        assert store.get_events_by_type("OrderCreated") == appended[:1]
        assert store.get_events_since(START) == appended
        for stored, original in zip(store.read_all(), appended, strict=True):
            assert json_text(stored.data) == json_text(original.data)
            assert stored.metadata.to_dict() == original.metadata.to_dict()

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("plain", id="str"),
            pytest.param("", id="empty-str"),
            pytest.param("Zoë 🧪 中文 Ελληνικά \u200b", id="unicode"),
            pytest.param("quote ' double \" back \\ newline \n tab \t", id="escapes"),
            pytest.param("nul \x00 inside", id="nul-char"),
            pytest.param(0, id="zero"),
            pytest.param(-17, id="negative-int"),
            pytest.param(2**53 + 1, id="int-beyond-double-precision"),
            pytest.param(2**63 - 1, id="int64-max"),
            pytest.param(2**64 + 1, id="int-beyond-uint64"),
            pytest.param(-(2**63) - 1, id="int-below-int64"),
            pytest.param(10**30, id="huge-int"),
            pytest.param(1.0, id="float-with-zero-fraction"),
            pytest.param(0.1, id="float-0.1"),
            pytest.param(-0.0, id="negative-zero"),
            pytest.param(1e300, id="float-1e300"),
            pytest.param(5e-324, id="float-subnormal"),
            pytest.param(123456789.123456789, id="float-many-digits"),
            pytest.param(True, id="true"),
            pytest.param(False, id="false"),
            pytest.param(None, id="null"),
            pytest.param([], id="empty-list"),
            pytest.param({}, id="empty-object"),
            pytest.param([1, 1.0, True, "1", None], id="mixed-list"),
            pytest.param({"a": {"b": {"c": [[[{"d": "deep"}]]]}}}, id="nested"),
            pytest.param({"": "empty key", "ключ": "значение", "k'y": 1}, id="odd-keys"),
        ],
    )
    def test_data_values_round_trip_exactly(self, store: EventStore, value: object) -> None:
        data = {"value": value}
        store.append_events(STREAM, 0, [new("ValueStored", data)])

        (event,) = store.get_events(STREAM)
        assert json_text(event.data) == json_text(data)
        assert json_text(store.read_all()[0].data) == json_text(data)

    def test_metadata_fields_round_trip_one_by_one(self, store: EventStore) -> None:
        variants = [
            EventMetadata(),
            EventMetadata(correlation_id="corr-'quoted'"),
            EventMetadata(causation_id="cause-ü"),
            EventMetadata(user_id="user-🧪"),
            EventMetadata(source=""),
            EventMetadata(schema_version=7),
            EventMetadata(correlation_id="a", causation_id="b", user_id="c", source="d"),
        ]
        store.append_events(STREAM, 0, [new(metadata=m) for m in variants])

        assert [e.metadata for e in store.get_events(STREAM)] == variants

    def test_an_event_without_an_id_gets_the_next_id_from_the_injected_factory(
        self, store: EventStore
    ) -> None:
        expected_ids = SeededIds(seed=SEED)
        first = expected_ids()
        second = expected_ids()

        events = store.append_events(STREAM, 0, [new(), new()])

        assert [e.id for e in events] == [first, second]
        assert [e.id for e in store.get_events(STREAM)] == [first, second]

    def test_timestamps_come_from_the_injected_clock_one_reading_per_append(
        self, store: EventStore
    ) -> None:
        store.append_events("order-alpha", 0, [new(), new()])
        store.append_events("order-beta", 0, [new()])
        store.append_events("order-alpha", 2, [new()])

        assert [e.timestamp for e in store.read_all()] == [
            START,
            START,
            START + STEP,
            START + 2 * STEP,
        ]

    def test_timestamps_keep_their_microseconds(self) -> None:
        start = START + timedelta(microseconds=123_457)
        store = self.open(StepClock(start, timedelta(microseconds=1)), SeededIds(SEED))
        for _ in range(3):
            store.append_events(STREAM, ANY, [new()])

        assert [e.timestamp for e in store.get_events(STREAM)] == [
            start,
            start + timedelta(microseconds=1),
            start + timedelta(microseconds=2),
        ]

    def test_timestamps_are_utc_even_when_the_clock_reports_another_zone(self) -> None:
        plus_five = timezone(timedelta(hours=5))
        reading = datetime(2024, 3, 1, 12, 30, tzinfo=plus_five)
        store = self.open(ScriptedClock(reading), SeededIds(SEED))
        store.append_events(STREAM, 0, [new()])

        for event in (*store.get_events(STREAM), *store.read_all()):
            assert event.timestamp == reading
            assert event.timestamp.utcoffset() == timedelta(0)

    def test_a_new_events_data_cannot_be_changed_so_the_log_cannot_either(
        self, store: EventStore
    ) -> None:
        mine: dict[str, Any] = {"qty": 1, "tags": ["a"]}
        event = new("ItemAdded", mine)
        store.append_events(STREAM, 0, [event])

        mine["qty"] = 99  # the caller's own dict: the event took a copy
        mine["tags"].append("b")
        with pytest.raises(ReadOnlyEventData):
            event.data["qty"] = 99
        with pytest.raises(ReadOnlyEventData):
            event.data["tags"].append("b")

        assert store.get_events(STREAM)[0].data == {"qty": 1, "tags": ["a"]}

    # --- order -----------------------------------------------------------------------------------

    def test_versions_count_from_one_in_each_stream_and_positions_from_one_overall(
        self, store: EventStore
    ) -> None:
        seed_mixed_log(store)

        assert [(e.aggregate_id, e.version, e.global_position) for e in store.read_all()] == [
            ("order-alpha", 1, 1),
            ("order-beta", 1, 2),
            ("order-alpha", 2, 3),
            ("order-alpha", 3, 4),
            ("order-beta", 2, 5),
            ("order-gamma", 1, 6),
        ]

    def test_a_stream_reads_back_in_version_order_with_only_its_own_events(
        self, store: EventStore
    ) -> None:
        seed_mixed_log(store)

        alpha = store.get_events("order-alpha")
        assert [(e.version, e.event_type, e.global_position) for e in alpha] == [
            (1, "ItemAdded", 1),
            (2, "ItemRemoved", 3),
            (3, "ItemAdded", 4),
        ]
        assert {e.aggregate_id for e in alpha} == {"order-alpha"}
        assert positions(store.get_events("order-beta")) == [2, 5]

    def test_a_batch_gets_consecutive_versions_and_positions_in_batch_order(
        self, store: EventStore
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        events = store.append_events(STREAM, 0, [new("First"), new("Second"), new("Third")])

        assert [(e.event_type, e.version, e.global_position) for e in events] == [
            ("First", 1, 2),
            ("Second", 2, 3),
            ("Third", 3, 4),
        ]
        assert [e.event_type for e in store.get_events(STREAM)] == ["First", "Second", "Third"]

    def test_an_unknown_stream_reads_as_empty_at_version_zero(self, store: EventStore) -> None:
        seed_mixed_log(store)

        assert store.get_events("order-unknown") == []
        assert store.stream_version("order-unknown") == 0

    def test_stream_version_and_head_position_follow_appends(self, store: EventStore) -> None:
        assert (store.head_position(), store.stream_version(STREAM)) == (0, 0)

        store.append_events(STREAM, 0, [new(), new()])
        assert (store.head_position(), store.stream_version(STREAM)) == (2, 2)

        store.append_events("order-beta", 0, [new()])
        assert store.head_position() == 3
        assert store.stream_version(STREAM) == 2
        assert store.stream_version("order-beta") == 1

    # --- from_version ---------------------------------------------------------------------------

    def test_from_version_is_inclusive(self, store: EventStore) -> None:
        store.append_events(STREAM, 0, [new() for _ in range(5)])

        assert [e.version for e in store.get_events(STREAM, 3)] == [3, 4, 5]
        assert [e.version for e in store.get_events(STREAM, 5)] == [5]

    @pytest.mark.parametrize("from_version", [0, 1])
    def test_from_version_zero_and_one_both_return_the_whole_stream(
        self, store: EventStore, from_version: int
    ) -> None:
        store.append_events(STREAM, 0, [new() for _ in range(3)])

        assert [e.version for e in store.get_events(STREAM, from_version)] == [1, 2, 3]

    @pytest.mark.parametrize("beyond", [1, 2, 1000])
    def test_from_version_beyond_the_head_returns_an_empty_list(
        self, store: EventStore, beyond: int
    ) -> None:
        store.append_events(STREAM, 0, [new() for _ in range(3)])

        assert store.get_events(STREAM, 3 + beyond) == []

    # --- get_events_by_type ----------------------------------------------------------------------

    def test_events_by_type_are_only_that_type_in_global_order(self, store: EventStore) -> None:
        seed_mixed_log(store)

        added = store.get_events_by_type("ItemAdded")
        assert positions(added) == [1, 2, 4, 6]
        assert {e.event_type for e in added} == {"ItemAdded"}
        assert positions(store.get_events_by_type("OrderPlaced")) == [5]

    def test_events_by_type_with_a_limit_are_the_earliest_ones(self, store: EventStore) -> None:
        seed_mixed_log(store)

        assert positions(store.get_events_by_type("ItemAdded", limit=1)) == [1]
        assert positions(store.get_events_by_type("ItemAdded", limit=3)) == [1, 2, 4]
        assert positions(store.get_events_by_type("ItemAdded", limit=100)) == [1, 2, 4, 6]

    def test_events_by_type_from_position_is_inclusive(self, store: EventStore) -> None:
        seed_mixed_log(store)

        assert positions(store.get_events_by_type("ItemAdded", from_position=4)) == [4, 6]
        assert positions(store.get_events_by_type("ItemAdded", from_position=3)) == [4, 6]
        assert positions(store.get_events_by_type("ItemAdded", from_position=0)) == [1, 2, 4, 6]
        assert store.get_events_by_type("ItemAdded", from_position=7) == []

    def test_events_by_type_combine_from_position_and_limit(self, store: EventStore) -> None:
        seed_mixed_log(store)

        found = store.get_events_by_type("ItemAdded", limit=2, from_position=2)
        assert positions(found) == [2, 4]

    def test_events_of_an_unknown_type_are_an_empty_list(self, store: EventStore) -> None:
        assert store.get_events_by_type("NeverHappened") == []
        seed_mixed_log(store)
        assert store.get_events_by_type("NeverHappened") == []
        assert store.get_events_by_type("itemadded") == []  # names are case-sensitive

    # --- get_events_since ------------------------------------------------------------------------

    def test_events_since_a_time_are_inclusive_and_in_global_order(self, store: EventStore) -> None:
        seed_mixed_log(store)  # position p was committed at START + (p - 1) seconds

        assert positions(store.get_events_since(START + 3 * STEP)) == [4, 5, 6]
        assert positions(store.get_events_since(START + 2.5 * STEP)) == [4, 5, 6]
        assert positions(store.get_events_since(START)) == [1, 2, 3, 4, 5, 6]
        assert positions(store.get_events_since(START - timedelta(days=365))) == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]

    def test_events_since_a_time_after_the_last_commit_are_an_empty_list(
        self, store: EventStore
    ) -> None:
        assert store.get_events_since(START) == []
        seed_mixed_log(store)
        assert store.get_events_since(START + 5 * STEP + timedelta(microseconds=1)) == []

    def test_events_since_accept_the_same_instant_in_any_timezone(self, store: EventStore) -> None:
        seed_mixed_log(store)
        instant = START + 4 * STEP
        minus_eight = instant.astimezone(timezone(timedelta(hours=-8)))
        plus_five_thirty = instant.astimezone(timezone(timedelta(hours=5, minutes=30)))

        assert positions(store.get_events_since(minus_eight)) == [5, 6]
        assert positions(store.get_events_since(plus_five_thirty)) == [5, 6]

    def test_timestamps_never_decrease_when_the_clock_steps_back(self) -> None:
        clock = ScriptedClock()
        store = self.open(clock, SeededIds(SEED))
        readings = [START, START + 10 * STEP, START + 5 * STEP, START + 2 * STEP, START + 20 * STEP]
        for reading in readings:
            clock.now = reading
            store.append_events(STREAM, ANY, [new()])

        stamps = [e.timestamp for e in store.read_all()]
        assert stamps == [
            START,
            START + 10 * STEP,
            START + 10 * STEP,  # held at the last commit time
            START + 10 * STEP,
            START + 20 * STEP,
        ]
        assert stamps == sorted(stamps)
        # the held events count as committed at the held time
        assert positions(store.get_events_since(START + 10 * STEP)) == [2, 3, 4, 5]
        assert positions(store.get_events_since(START + 5 * STEP)) == [2, 3, 4, 5]

    # --- read_all -------------------------------------------------------------------------------

    def test_an_empty_store_reads_as_empty_with_head_zero(self, store: EventStore) -> None:
        assert store.read_all() == []
        assert store.read_all(1, limit=10) == []
        assert store.head_position() == 0

    def test_read_all_returns_every_event_in_position_order(self, store: EventStore) -> None:
        seed_mixed_log(store)

        assert positions(store.read_all()) == [1, 2, 3, 4, 5, 6]
        assert positions(store.read_all(0)) == positions(store.read_all(1))

    def test_read_all_from_position_is_inclusive(self, store: EventStore) -> None:
        seed_mixed_log(store)

        assert positions(store.read_all(4)) == [4, 5, 6]
        checkpoint = 2  # a projection that has handled position 2 continues with read_all(3)
        assert positions(store.read_all(checkpoint + 1)) == [3, 4, 5, 6]
        assert positions(store.read_all(6)) == [6]

    def test_read_all_with_a_limit_returns_at_most_that_many_from_the_start(
        self, store: EventStore
    ) -> None:
        seed_mixed_log(store)

        assert positions(store.read_all(limit=2)) == [1, 2]
        assert positions(store.read_all(3, limit=2)) == [3, 4]
        assert positions(store.read_all(5, limit=10)) == [5, 6]

    @pytest.mark.parametrize("from_position", [7, 8, 10_000])
    def test_read_all_from_beyond_the_head_is_an_empty_list(
        self, store: EventStore, from_position: int
    ) -> None:
        seed_mixed_log(store)

        assert store.read_all(from_position) == []

    # --- expected versions ------------------------------------------------------------------------

    def test_appending_with_the_exact_current_version_continues_the_stream(
        self, store: EventStore
    ) -> None:
        store.append_events(STREAM, 0, [new(), new()])

        events = store.append_events(STREAM, 2, [new()])

        assert [e.version for e in events] == [3]
        assert store.stream_version(STREAM) == 3

    @pytest.mark.parametrize("expected", [0, NO_STREAM], ids=["zero", "no-stream"])
    def test_zero_and_no_stream_create_a_new_stream(
        self, store: EventStore, expected: int | str
    ) -> None:
        store.append_events("order-beta", 0, [new()])

        events = store.append_events(STREAM, expected, [new()])

        assert [(e.version, e.global_position) for e in events] == [(1, 2)]

    def test_any_appends_to_a_new_stream_and_to_an_existing_one(self, store: EventStore) -> None:
        first = store.append_events(STREAM, ANY, [new()])
        second = store.append_events(STREAM, ANY, [new(), new()])

        assert [e.version for e in first] == [1]
        assert [e.version for e in second] == [2, 3]

    def test_stream_exists_appends_after_the_last_event_of_an_existing_stream(
        self, store: EventStore
    ) -> None:
        store.append_events(STREAM, 0, [new(), new()])

        events = store.append_events(STREAM, STREAM_EXISTS, [new()])

        assert [e.version for e in events] == [3]

    def test_stream_exists_refuses_a_new_stream_and_writes_nothing(self, store: EventStore) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(WrongExpectedVersion, match="expected the stream to exist") as caught:
            store.append_events(STREAM, STREAM_EXISTS, [new()])

        assert (caught.value.expected, caught.value.actual) == (STREAM_EXISTS, 0)
        assert snapshot(store, STREAM, "order-beta") == before

    def test_headers_round_trip_through_append_and_every_read(self, store: EventStore) -> None:
        headers = {"tenant": "acme", "trace": {"id": "t-1", "hops": [1, 2]}, "ok": True}
        store.append_events(STREAM, 0, [new(metadata=EventMetadata(headers=headers))])

        for event in (
            store.get_events(STREAM)[0],
            store.read_all()[0],
            store.get_events_by_type("ItemAdded")[0],
            store.get_events_since(START)[0],
        ):
            assert event.metadata.headers == headers
            assert Event.from_json(event.to_json()).metadata.headers == headers

    def test_events_without_headers_read_back_with_empty_headers(self, store: EventStore) -> None:
        store.append_events(STREAM, 0, [new()])

        assert store.read_all()[0].metadata.headers == {}

    @pytest.mark.parametrize(
        ("existing", "expected"),
        [
            (2, 1),
            (2, 3),
            (2, 0),
            (2, NO_STREAM),
            (0, 1),
            (0, 7),
            (3, 10),
        ],
        ids=[
            "behind",
            "ahead",
            "zero-on-existing",
            "no-stream-on-existing",
            "one-on-new",
            "far-on-new",
            "far-ahead",
        ],
    )
    def test_a_wrong_expected_version_raises_and_writes_nothing(
        self, store: EventStore, existing: int, expected: int | str
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        if existing:
            store.append_events(STREAM, 0, [new() for _ in range(existing)])
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(WrongExpectedVersion) as caught:
            store.append_events(STREAM, expected, [new("Conflicting"), new("Conflicting")])

        error = caught.value
        assert isinstance(error, EventStoreError)
        assert (error.aggregate_id, error.expected, error.actual) == (STREAM, expected, existing)
        message = str(error)
        assert STREAM in message
        rest = message.replace(STREAM, "")
        assert mentions(rest, expected), message
        assert mentions(rest, existing), message
        assert snapshot(store, STREAM, "order-beta") == before
        assert store.get_events_by_type("Conflicting") == []

    def test_a_failed_append_uses_up_no_version_and_no_position(self, store: EventStore) -> None:
        store.append_events("order-beta", 0, [new()])
        with pytest.raises(WrongExpectedVersion):
            store.append_events(STREAM, 4, [new(), new()])

        events = store.append_events(STREAM, 0, [new()])

        assert [(e.version, e.global_position) for e in events] == [(1, 2)]

    # --- atomicity --------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "bad_data",
        [
            pytest.param({"when": datetime(2024, 1, 1, tzinfo=UTC)}, id="datetime"),
            pytest.param({"tags": {"a", "b"}}, id="set"),
            pytest.param({"ratio": float("nan")}, id="nan"),
            pytest.param({"nested": {1: "int key"}}, id="int-key"),
            pytest.param({"thing": object()}, id="object"),
            pytest.param(["not", "an", "object"], id="list-instead-of-dict"),
        ],
    )
    def test_a_batch_with_one_event_whose_data_is_not_json_writes_nothing(
        self, store: EventStore, bad_data: object
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        broken = new("Broken", {"fine": True})
        object.__setattr__(broken, "data", bad_data)  # what a careless caller might do
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(InvalidEventData):
            store.append_events(STREAM, 0, [new("Good"), new("Good"), broken])

        assert snapshot(store, STREAM, "order-beta") == before

    def test_a_batch_repeating_one_id_writes_nothing(self, store: EventStore) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(DuplicateEventId, match="twice-used"):
            store.append_events(
                STREAM,
                0,
                [new(event_id="twice-used"), new(event_id="other"), new(event_id="twice-used")],
            )

        assert snapshot(store, STREAM, "order-beta") == before

    def test_a_batch_reusing_an_id_stored_in_another_stream_writes_nothing(
        self, store: EventStore
    ) -> None:
        store.append_events("order-beta", 0, [new(event_id="taken")])
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(DuplicateEventId, match="taken"):
            store.append_events(STREAM, 0, [new(event_id="fresh"), new(event_id="taken")])

        assert snapshot(store, STREAM, "order-beta") == before
        # the fresh id was not kept either: it can still be used
        assert [e.id for e in store.append_events(STREAM, 0, [new(event_id="fresh")])] == ["fresh"]

    # --- empty batches ----------------------------------------------------------------------------

    @pytest.mark.parametrize("expected", [0, NO_STREAM, ANY], ids=["zero", "no-stream", "any"])
    def test_an_empty_batch_on_a_new_stream_returns_nothing_and_writes_nothing(
        self, store: EventStore, expected: int | str
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")

        assert store.append_events(STREAM, expected, []) == []

        assert snapshot(store, STREAM, "order-beta") == before

    def test_an_empty_batch_with_the_current_version_returns_nothing_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        store.append_events(STREAM, 0, [new(), new()])
        before = snapshot(store, STREAM)

        assert store.append_events(STREAM, 2, []) == []

        assert snapshot(store, STREAM) == before

    @pytest.mark.parametrize(("existing", "expected"), [(0, 1), (2, 1), (2, 3), (2, NO_STREAM)])
    def test_an_empty_batch_still_checks_the_expected_version(
        self, store: EventStore, existing: int, expected: int | str
    ) -> None:
        if existing:
            store.append_events(STREAM, 0, [new() for _ in range(existing)])
        before = snapshot(store, STREAM)

        with pytest.raises(WrongExpectedVersion) as caught:
            store.append_events(STREAM, expected, [])

        assert (caught.value.expected, caught.value.actual) == (expected, existing)
        assert snapshot(store, STREAM) == before

    # --- duplicate event ids ----------------------------------------------------------------------

    @pytest.mark.parametrize("retry_expected", [0, ANY, NO_STREAM], ids=["old-0", "any", "no"])
    def test_an_exact_retry_returns_the_stored_events_and_writes_nothing(
        self, store: EventStore, retry_expected: int | str
    ) -> None:
        batch = [new("OrderCreated", {"n": 1}, event_id="e1"), new("ItemAdded", event_id="e2")]
        stored = store.append_events(STREAM, 0, batch)
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")

        again = store.append_events(
            STREAM,
            retry_expected,
            [new("OrderCreated", {"n": 1}, event_id="e1"), new("ItemAdded", event_id="e2")],
        )

        assert again == stored
        assert [(e.version, e.global_position, e.timestamp) for e in again] == [
            (1, 1, START),
            (2, 2, START),
        ]
        assert snapshot(store, STREAM, "order-beta") == before

    def test_a_retry_is_recognised_after_the_stream_has_moved_on(self, store: EventStore) -> None:
        stored = store.append_events(STREAM, 0, [new(event_id="e1"), new(event_id="e2")])
        store.append_events(STREAM, 2, [new(event_id="e3")])
        before = snapshot(store, STREAM)

        again = store.append_events(STREAM, 0, [new(event_id="e1"), new(event_id="e2")])

        assert again == stored
        assert snapshot(store, STREAM) == before

    def test_a_retry_sent_with_the_version_the_first_attempt_reached_is_still_a_retry(
        self, store: EventStore
    ) -> None:
        # The reply to the first append was lost; the caller read the stream again (now at
        # version 2) and sent the very same append with that version. It already landed.
        stored = store.append_events(STREAM, 0, [new(event_id="e1"), new(event_id="e2")])
        before = snapshot(store, STREAM)

        again = store.append_events(STREAM, 2, [new(event_id="e1"), new(event_id="e2")])

        assert again == stored
        assert snapshot(store, STREAM) == before

    def test_a_retry_of_the_tail_of_an_earlier_append_returns_those_events(
        self, store: EventStore
    ) -> None:
        stored = store.append_events(
            STREAM, 0, [new(event_id="e1"), new(event_id="e2"), new(event_id="e3")]
        )
        before = snapshot(store, STREAM)

        again = store.append_events(STREAM, 1, [new(event_id="e2"), new(event_id="e3")])

        assert again == stored[1:]
        assert snapshot(store, STREAM) == before

    @pytest.mark.parametrize(
        "attempt",
        [
            pytest.param([("e1", "ItemAdded", {"n": 1}), ("fresh", "ItemAdded", {})], id="a+new"),
            pytest.param([("fresh", "ItemAdded", {}), ("e1", "ItemAdded", {"n": 1})], id="new+a"),
            pytest.param([("e1", "ItemAdded", {"n": 2})], id="different-data"),
            pytest.param([("e1", "ItemAdded", {"n": True})], id="data-true-instead-of-1"),
            pytest.param([("e1", "ItemAdded", {"n": 1, "x": 0})], id="extra-data-key"),
            pytest.param([("e1", "ItemRemoved", {"n": 1})], id="different-type"),
            pytest.param(
                [("e2", "ItemAdded", {"n": 2}), ("e1", "ItemAdded", {"n": 1})], id="reordered"
            ),
            pytest.param([("e1", "ItemAdded", {"n": 1}), ("e3", "ItemAdded", {"n": 3})], id="gap"),
        ],
    )
    def test_a_reused_id_that_is_not_an_exact_retry_raises_and_writes_nothing(
        self, store: EventStore, attempt: list[tuple[str, str, dict[str, Any]]]
    ) -> None:
        store.append_events(
            STREAM, 0, [new("ItemAdded", {"n": n}, event_id=f"e{n}") for n in (1, 2, 3)]
        )
        before = snapshot(store, STREAM)

        with pytest.raises(DuplicateEventId):
            store.append_events(STREAM, ANY, [new(t, d, event_id=i) for i, t, d in attempt])

        assert snapshot(store, STREAM) == before

    def test_the_same_id_type_and_data_in_another_stream_is_a_duplicate_not_a_retry(
        self, store: EventStore
    ) -> None:
        store.append_events("order-beta", 0, [new("ItemAdded", {"n": 1}, event_id="e1")])
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(DuplicateEventId) as caught:
            store.append_events(STREAM, ANY, [new("ItemAdded", {"n": 1}, event_id="e1")])

        assert "e1" in str(caught.value)
        assert snapshot(store, STREAM, "order-beta") == before

    # --- bad input --------------------------------------------------------------------------------

    BAD_AGGREGATE_IDS: ClassVar[list[Any]] = [
        pytest.param(42, id="int"),
        pytest.param(None, id="none"),
        pytest.param(b"order", id="bytes"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("\t", id="tab-only"),
        pytest.param("x" * 257, id="257-chars"),
        pytest.param("line\nbreak", id="newline"),
        pytest.param("nul\x00byte", id="nul"),
    ]

    @pytest.mark.parametrize("aggregate_id", BAD_AGGREGATE_IDS)
    def test_a_bad_aggregate_id_is_refused_by_append_and_nothing_is_written(
        self, store: EventStore, aggregate_id: object
    ) -> None:
        store.append_events(STREAM, 0, [new()])
        before = snapshot(store, STREAM)

        with pytest.raises(InvalidInput, match="aggregate_id"):
            store.append_events(aggregate_id, ANY, [new()])  # type: ignore[arg-type]

        assert snapshot(store, STREAM) == before

    @pytest.mark.parametrize("aggregate_id", BAD_AGGREGATE_IDS)
    @pytest.mark.parametrize("method", ["get_events", "stream_version"])
    def test_a_bad_aggregate_id_is_refused_by_readers(
        self, store: EventStore, aggregate_id: object, method: str
    ) -> None:
        with pytest.raises(InvalidInput, match="aggregate_id"):
            getattr(store, method)(aggregate_id)

    def test_an_aggregate_id_of_exactly_256_characters_is_accepted(self, store: EventStore) -> None:
        longest = "é" * 256
        store.append_events(longest, 0, [new()])

        assert [e.aggregate_id for e in store.get_events(longest)] == [longest]
        assert store.stream_version(longest) == 1

    @pytest.mark.parametrize(
        "expected",
        [-1, -100, True, False, "3", "ANY", "No_Stream", None, 1.0, [0]],
        ids=repr,
    )
    def test_a_bad_expected_version_is_refused_and_nothing_is_written(
        self, store: EventStore, expected: object
    ) -> None:
        store.append_events(STREAM, 0, [new()])
        before = snapshot(store, STREAM)

        with pytest.raises(InvalidInput, match="expected_version"):
            store.append_events(STREAM, expected, [new()])  # type: ignore[arg-type]

        assert snapshot(store, STREAM) == before

    @pytest.mark.parametrize("from_version", [-1, True, "2", None, 1.5], ids=repr)
    def test_a_bad_from_version_is_refused(self, store: EventStore, from_version: object) -> None:
        store.append_events(STREAM, 0, [new()])

        with pytest.raises(InvalidInput, match="from_version"):
            store.get_events(STREAM, from_version)  # type: ignore[arg-type]

    @pytest.mark.parametrize("from_position", [-1, True, "2", None], ids=repr)
    def test_a_bad_from_position_is_refused(self, store: EventStore, from_position: object) -> None:
        seed_mixed_log(store)

        with pytest.raises(InvalidInput, match="from_position"):
            store.read_all(from_position)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="from_position"):
            store.get_events_by_type("ItemAdded", from_position=from_position)  # type: ignore[arg-type]

    @pytest.mark.parametrize("limit", [0, -1, True, "5", 2.0], ids=repr)
    def test_a_limit_below_one_or_not_an_int_is_refused(
        self, store: EventStore, limit: object
    ) -> None:
        seed_mixed_log(store)

        with pytest.raises(InvalidInput, match="limit"):
            store.read_all(limit=limit)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="limit"):
            store.get_events_by_type("ItemAdded", limit=limit)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "event_type",
        ["esteach.domains.user.UserCreated", "UserEvent::UserCreated", "", 7],
        ids=repr,
    )
    def test_get_events_by_type_refuses_a_name_that_is_not_an_event_type(
        self, store: EventStore, event_type: object
    ) -> None:
        with pytest.raises(InvalidEventData, match="event_type"):
            store.get_events_by_type(event_type)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "moment",
        [datetime(2024, 1, 1), "2024-01-01T00:00:00+00:00", date(2024, 1, 1), 1704067200, None],
        ids=["naive-datetime", "iso-string", "date", "epoch-int", "none"],
    )
    def test_get_events_since_refuses_anything_but_an_aware_datetime(
        self, store: EventStore, moment: object
    ) -> None:
        seed_mixed_log(store)

        with pytest.raises(InvalidInput, match=r"(?i)timezone|aware|naive"):
            store.get_events_since(moment)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "item",
        [
            pytest.param({"event_type": "ItemAdded", "data": {}}, id="dict"),
            pytest.param(None, id="none"),
            pytest.param("ItemAdded", id="str"),
            pytest.param(recorded("rec-1", STREAM, 1, START), id="recorded-event"),
        ],
    )
    def test_a_batch_item_that_is_not_a_new_event_is_refused_and_nothing_is_written(
        self, store: EventStore, item: object
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(InvalidInput, match=r"NewEvent") as caught:
            store.append_events(STREAM, 0, [new(), item])  # type: ignore[list-item]

        assert "events[1]" in str(caught.value)
        assert snapshot(store, STREAM, "order-beta") == before

    @pytest.mark.parametrize(
        "events",
        [
            pytest.param(new(), id="single-new-event"),
            pytest.param("ItemAdded", id="str"),
            pytest.param(None, id="none"),
        ],
    )
    def test_events_that_are_not_a_list_are_refused(
        self, store: EventStore, events: object
    ) -> None:
        with pytest.raises(InvalidInput, match="NewEvent"):
            store.append_events(STREAM, 0, events)  # type: ignore[arg-type]

        assert store.head_position() == 0

    # --- ids that look like SQL ------------------------------------------------------------------

    def test_stream_ids_with_sql_metacharacters_are_plain_ids(self, store: EventStore) -> None:
        for n, aggregate_id in enumerate(SQL_METACHARACTER_IDS):
            store.append_events(aggregate_id, 0, [new("ItemAdded", {"n": n})])
        store.append_events("abc", 0, [new("ItemAdded", {"n": "abc"})])  # matches LIKE 'a_c'

        for n, aggregate_id in enumerate(SQL_METACHARACTER_IDS):
            events = store.get_events(aggregate_id)
            assert [(e.aggregate_id, e.data) for e in events] == [(aggregate_id, {"n": n})]
            assert store.stream_version(aggregate_id) == 1
        assert store.head_position() == len(SQL_METACHARACTER_IDS) + 1
        assert [e.aggregate_id for e in store.read_all()] == [*SQL_METACHARACTER_IDS, "abc"]

    def test_event_ids_and_metadata_with_sql_metacharacters_round_trip(
        self, store: EventStore
    ) -> None:
        metadata = EventMetadata(
            correlation_id="'; DROP TABLE events; --", user_id="50%_off", source='"quoted"'
        )
        batch = [new(event_id=i, metadata=metadata) for i in SQL_METACHARACTER_IDS]
        store.append_events(STREAM, 0, batch)

        events = store.get_events(STREAM)
        assert [e.id for e in events] == SQL_METACHARACTER_IDS
        assert {e.metadata for e in events} == {metadata}
        # and such ids still take part in the retry rule like any other
        again = [new(event_id=i, metadata=metadata) for i in SQL_METACHARACTER_IDS]
        assert store.append_events(STREAM, 0, again) == events
        assert store.head_position() == len(SQL_METACHARACTER_IDS)

    # --- bulk_import -----------------------------------------------------------------------------

    def test_bulk_import_keeps_headers(self, store: EventStore) -> None:
        headers = {"tenant": "acme", "path": "/users"}
        event = recorded("e1", STREAM, 1, START, metadata=EventMetadata(headers=headers))

        store.bulk_import([event])

        assert store.read_all()[0].metadata.headers == headers
        assert self.reopen(store).read_all()[0].metadata.headers == headers

    def test_bulk_import_keeps_ids_versions_timestamps_data_and_metadata(
        self, store: EventStore
    ) -> None:
        metadata = EventMetadata(correlation_id="c-1", user_id="importer", schema_version=2)
        sample = [
            recorded("imp-1", STREAM, 1, START - timedelta(days=30), data={"big": 2**70}),
            recorded("imp-2", "order-beta", 1, START - timedelta(days=29), metadata=metadata),
            recorded("imp-3", STREAM, 2, START - timedelta(days=29), data={"f": 1.0, "b": True}),
        ]

        assert store.bulk_import(sample) == 3

        stored = store.read_all()
        for got, want in zip(stored, sample, strict=True):
            assert (got.id, got.aggregate_id, got.aggregate_type, got.event_type) == (
                want.id,
                want.aggregate_id,
                want.aggregate_type,
                want.event_type,
            )
            assert (got.version, got.timestamp, got.metadata) == (
                want.version,
                want.timestamp,
                want.metadata,
            )
            assert json_text(got.data) == json_text(want.data)
        assert [e.id for e in store.get_events(STREAM)] == ["imp-1", "imp-3"]
        assert store.stream_version(STREAM) == 2

    def test_bulk_import_reassigns_positions_after_the_head_in_the_given_order(
        self, store: EventStore
    ) -> None:
        store.append_events("order-beta", 0, [new(), new()])
        later = START + timedelta(hours=1)
        sample = [
            recorded("imp-1", STREAM, 1, later, global_position=99),
            recorded("imp-2", STREAM, 2, later, global_position=7),
            recorded("imp-3", "order-gamma", 1, later + STEP, global_position=0),
        ]

        store.bulk_import(sample)

        assert [(e.id, e.global_position) for e in store.read_all(3)] == [
            ("imp-1", 3),
            ("imp-2", 4),
            ("imp-3", 5),
        ]
        assert store.head_position() == 5

    def test_bulk_import_accepts_any_iterable(self, store: EventStore) -> None:
        sample = (recorded(f"imp-{v}", STREAM, v, START) for v in (1, 2, 3))

        assert store.bulk_import(sample) == 3
        assert store.stream_version(STREAM) == 3

    def test_bulk_import_of_nothing_returns_zero_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        store.append_events(STREAM, 0, [new()])
        before = snapshot(store, STREAM)

        assert store.bulk_import([]) == 0
        assert snapshot(store, STREAM) == before

    def test_bulk_import_continues_a_stream_the_store_already_has(self, store: EventStore) -> None:
        store.append_events(STREAM, 0, [new(), new()])  # committed at START

        store.bulk_import([recorded("imp-3", STREAM, 3, START + STEP)])

        assert [e.version for e in store.get_events(STREAM)] == [1, 2, 3]

    def test_appends_after_a_bulk_import_continue_versions_positions_and_time(
        self, store: EventStore
    ) -> None:
        imported_at = START + timedelta(days=1)  # ahead of the store's clock
        store.bulk_import([recorded(f"imp-{v}", STREAM, v, imported_at) for v in (1, 2)])

        events = store.append_events(STREAM, 2, [new()])

        assert [(e.version, e.global_position) for e in events] == [(3, 3)]
        assert events[0].timestamp == imported_at  # the clock (at START) is behind: held
        stamps = [e.timestamp for e in store.read_all()]
        assert stamps == sorted(stamps)

    @pytest.mark.parametrize(
        "versions",
        [
            pytest.param([2], id="new-stream-starting-at-2"),
            pytest.param([1, 3], id="gap"),
            pytest.param([1, 1], id="repeated-version"),
            pytest.param([1, 2, 2], id="repeated-at-the-end"),
            pytest.param([0], id="version-zero"),
        ],
    )
    def test_bulk_import_refuses_version_gaps_and_writes_nothing(
        self, store: EventStore, versions: list[int]
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")
        sample = [
            recorded(f"imp-{i}", STREAM, v, START + timedelta(hours=1))
            for i, v in enumerate(versions)
        ]

        with pytest.raises(InvalidInput, match="version"):
            store.bulk_import(sample)

        assert snapshot(store, STREAM, "order-beta") == before

    def test_bulk_import_refuses_a_version_that_does_not_continue_a_stored_stream(
        self, store: EventStore
    ) -> None:
        store.append_events(STREAM, 0, [new(), new()])
        before = snapshot(store, STREAM)

        with pytest.raises(InvalidInput, match="version"):
            store.bulk_import([recorded("imp-1", STREAM, 1, START + STEP)])

        assert snapshot(store, STREAM) == before

    def test_bulk_import_refuses_decreasing_timestamps_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta")
        later = START + timedelta(hours=1)
        sample = [
            recorded("imp-1", STREAM, 1, later),
            recorded("imp-2", STREAM, 2, later + STEP),
            recorded("imp-3", STREAM, 3, later),
        ]

        with pytest.raises(InvalidInput, match="timestamp"):
            store.bulk_import(sample)

        assert snapshot(store, STREAM, "order-beta") == before

    def test_bulk_import_refuses_timestamps_before_the_last_commit(self, store: EventStore) -> None:
        store.append_events("order-beta", 0, [new()])
        store.append_events("order-beta", 1, [new()])  # committed at START + 1s
        before = snapshot(store, STREAM, "order-beta")

        with pytest.raises(InvalidInput, match="timestamp"):
            store.bulk_import([recorded("imp-1", STREAM, 1, START)])

        assert snapshot(store, STREAM, "order-beta") == before

    def test_bulk_import_refuses_a_naive_timestamp(self, store: EventStore) -> None:
        with pytest.raises(InvalidInput, match="timestamp"):
            store.bulk_import([recorded("imp-1", STREAM, 1, datetime(2024, 1, 1))])

        assert store.head_position() == 0

    @pytest.mark.parametrize("timestamp", ["2024-01-01T00:00:00+00:00", None, 1704067200])
    def test_bulk_import_refuses_a_timestamp_that_is_not_a_datetime(
        self, store: EventStore, timestamp: object
    ) -> None:
        sample = [
            recorded("imp-1", STREAM, 1, START),
            recorded("imp-2", STREAM, 2, timestamp),  # type: ignore[arg-type]
        ]

        with pytest.raises(InvalidInput, match="not a datetime"):
            store.bulk_import(sample)

        assert store.head_position() == 0

    def test_bulk_import_refuses_duplicate_ids_within_the_import(self, store: EventStore) -> None:
        store.append_events("order-beta", 0, [new()])
        before = snapshot(store, STREAM, "order-beta", "order-gamma")
        sample = [
            recorded("imp-1", STREAM, 1, START + STEP),
            recorded("imp-2", STREAM, 2, START + STEP),
            recorded("imp-1", "order-gamma", 1, START + STEP),
        ]

        with pytest.raises(DuplicateEventId, match="imp-1"):
            store.bulk_import(sample)

        assert snapshot(store, STREAM, "order-beta", "order-gamma") == before

    def test_bulk_import_refuses_an_id_already_stored(self, store: EventStore) -> None:
        store.append_events("order-beta", 0, [new(event_id="taken")])
        before = snapshot(store, STREAM, "order-beta")
        sample = [
            recorded("imp-1", STREAM, 1, START + STEP),
            recorded("taken", STREAM, 2, START + STEP),
        ]

        with pytest.raises(DuplicateEventId, match="taken"):
            store.bulk_import(sample)

        assert snapshot(store, STREAM, "order-beta") == before

    @pytest.mark.parametrize(
        "item",
        [
            pytest.param(new(), id="new-event"),
            pytest.param({"id": "x"}, id="dict"),
            pytest.param(None, id="none"),
        ],
    )
    def test_bulk_import_refuses_items_that_are_not_recorded_events(
        self, store: EventStore, item: object
    ) -> None:
        sample = [recorded("imp-1", STREAM, 1, START), item]

        with pytest.raises(InvalidInput, match="Event"):
            store.bulk_import(sample)  # type: ignore[arg-type]

        assert store.head_position() == 0

    @pytest.mark.parametrize(
        ("aggregate_id", "words"),
        [
            pytest.param(["order-1"], "must be a str", id="unhashable-list"),
            pytest.param(7, "must be a str", id="int"),
            pytest.param(b"order-2", "must be a str", id="bytes"),
            pytest.param("  ", "blank", id="blank"),
            pytest.param("a\nb", "control characters", id="newline"),
        ],
    )
    def test_bulk_import_refuses_a_bad_stream_id_in_any_item_and_writes_nothing(
        self, store: EventStore, aggregate_id: object, words: str
    ) -> None:
        sample = [
            recorded("imp-1", STREAM, 1, START),
            recorded("imp-2", aggregate_id, 1, START),  # type: ignore[arg-type]
        ]

        with pytest.raises(InvalidInput, match=words):
            store.bulk_import(sample)

        assert store.head_position() == 0

    # --- closing ----------------------------------------------------------------------------------

    CLOSED_OPERATIONS: ClassVar[dict[str, Callable[[EventStore], object]]] = {
        "append_events": lambda s: s.append_events("order-beta", ANY, [new()]),
        "append_events-empty": lambda s: s.append_events("order-beta", ANY, []),
        "get_events": lambda s: s.get_events(STREAM),
        "get_events_by_type": lambda s: s.get_events_by_type("ItemAdded"),
        "get_events_since": lambda s: s.get_events_since(START),
        "read_all": lambda s: s.read_all(),
        "stream_version": lambda s: s.stream_version(STREAM),
        "head_position": lambda s: s.head_position(),
        "bulk_import": lambda s: s.bulk_import(
            [recorded("imp-1", "order-gamma", 1, START + timedelta(days=1))]
        ),
    }

    @pytest.mark.parametrize("operation", list(CLOSED_OPERATIONS))
    def test_a_closed_store_refuses_every_operation(
        self, store: EventStore, operation: str
    ) -> None:
        store.append_events(STREAM, 0, [new()])
        store.close()

        with pytest.raises(EventStoreError):
            self.CLOSED_OPERATIONS[operation](store)

    # --- reopening --------------------------------------------------------------------------------

    def test_reopening_keeps_every_event_and_the_head_position(self, store: EventStore) -> None:
        seed_mixed_log(store)
        store.append_events(
            STREAM,
            3,
            [new("DataKept", {"big": 2**64 + 1, "f": 1.0, "u": "名前"}, event_id="'; --")],
        )
        log = store.read_all()

        again = self.open_again(store)

        assert again is not store
        assert again.read_all() == log
        assert [json_text(e.data) for e in again.read_all()] == [json_text(e.data) for e in log]
        assert again.head_position() == 7
        assert again.stream_version(STREAM) == 4
        assert again.get_events_by_type("DataKept") == log[-1:]

    def test_appends_after_reopening_continue_versions_and_positions(
        self, store: EventStore
    ) -> None:
        seed_mixed_log(store)
        again = self.open_again(store)

        events = again.append_events("order-alpha", 3, [new(), new()])

        assert [(e.version, e.global_position) for e in events] == [(4, 7), (5, 8)]
        with pytest.raises(WrongExpectedVersion):
            again.append_events("order-beta", 0, [new()])

    def test_timestamps_stay_non_decreasing_after_reopening_with_a_clock_behind(self) -> None:
        clock = ScriptedClock(START + timedelta(hours=1))
        store = self.open(clock, SeededIds(SEED))
        store.append_events(STREAM, 0, [new()])
        clock.now = START  # the clock of the next process is an hour behind

        again = self.open_again(store)
        held = again.append_events(STREAM, 1, [new()])
        clock.now = START + timedelta(hours=2)
        later = again.append_events(STREAM, 2, [new()])

        assert held[0].timestamp == START + timedelta(hours=1)
        assert later[0].timestamp == START + timedelta(hours=2)
        stamps = [e.timestamp for e in again.read_all()]
        assert stamps == sorted(stamps)

    def test_bulk_import_after_reopening_still_refuses_timestamps_before_the_last_commit(
        self,
    ) -> None:
        store = self.open(ScriptedClock(START + timedelta(hours=1)), SeededIds(SEED))
        store.append_events(STREAM, 0, [new()])

        again = self.open_again(store)

        with pytest.raises(InvalidInput, match="timestamp"):
            again.bulk_import([recorded("imp-1", "order-beta", 1, START)])
        assert again.head_position() == 1

    def test_an_exact_retry_is_recognised_after_reopening(self, store: EventStore) -> None:
        stored = store.append_events(STREAM, 0, [new("ItemAdded", {"n": 1}, event_id="e1")])

        again = self.open_again(store)

        assert again.append_events(STREAM, 0, [new("ItemAdded", {"n": 1}, event_id="e1")]) == (
            stored
        )
        assert again.head_position() == 1
        with pytest.raises(DuplicateEventId):
            again.append_events("order-beta", 0, [new("ItemAdded", {"n": 1}, event_id="e1")])


# --- the stores ---------------------------------------------------------------------------------


class TestInMemoryEventStore(EventStoreContract):
    def make_store(self, clock: Clock, ids: IdFactory) -> EventStore:
        return InMemoryEventStore(clock=clock, ids=ids)

    def reopen(self, store: EventStore) -> EventStore:
        pytest.skip(
            "InMemoryEventStore cannot be reopened: its events live only in the Python object "
            "and are gone once it is closed"
        )


class TestDuckDBInMemoryEventStore(EventStoreContract):
    def make_store(self, clock: Clock, ids: IdFactory) -> EventStore:
        store: EventStore = DuckDBEventStore(":memory:", clock=clock, ids=ids)
        return store

    def reopen(self, store: EventStore) -> EventStore:
        pytest.skip(
            "DuckDBEventStore(':memory:') cannot be reopened: an in-memory DuckDB database is "
            "dropped when its connection closes"
        )


class OnAFile(EventStoreContract):
    """A store on a file: reopened by closing it and opening the same file again."""

    suffix: ClassVar[str]

    @abc.abstractmethod
    def open_file(self, path: Path, clock: Clock, ids: IdFactory) -> EventStore:
        """Open the store on ``path``."""

    @pytest.fixture(autouse=True)
    def _database_file(self, tmp_path: Path) -> None:
        self.path = tmp_path / f"events.{self.suffix}"
        self.opened_with: dict[int, tuple[Clock, IdFactory]] = {}

    def make_store(self, clock: Clock, ids: IdFactory) -> EventStore:
        store = self.open_file(self.path, clock, ids)
        self.opened_with[id(store)] = (clock, ids)
        return store

    def reopen(self, store: EventStore) -> EventStore:
        clock, ids = self.opened_with[id(store)]
        store.close()
        return self.make_store(clock, ids)


class TestDuckDBFileEventStore(OnAFile):
    suffix = "duckdb"

    def open_file(self, path: Path, clock: Clock, ids: IdFactory) -> EventStore:
        return DuckDBEventStore(path, clock=clock, ids=ids)


class TestDuckDBColumnarAppends(OnAFile):
    """Every append through the columnar path (a registered Arrow table), however small, and
    every bulk import in chunks of two events (each but the last inserted on a thread of its
    own while the next is checked)."""

    suffix = "duckdb"

    def open_file(self, path: Path, clock: Clock, ids: IdFactory) -> EventStore:
        store = DuckDBEventStore(path, clock=clock, ids=ids, columnar_threshold=1, bulk_chunk=2)
        assert (store.columnar_threshold, store.bulk_chunk) == (1, 2)
        return store


class TestSQLiteInMemoryEventStore(EventStoreContract):
    def make_store(self, clock: Clock, ids: IdFactory) -> EventStore:
        return SQLiteEventStore(":memory:", clock=clock, ids=ids)

    def reopen(self, store: EventStore) -> EventStore:
        pytest.skip("SQLiteEventStore(':memory:') is dropped when its connection closes")


class TestSQLiteFileEventStore(OnAFile):
    suffix = "sqlite"

    def open_file(self, path: Path, clock: Clock, ids: IdFactory) -> EventStore:
        return SQLiteEventStore(path, clock=clock, ids=ids)
