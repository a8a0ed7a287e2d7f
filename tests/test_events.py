"""The event envelope, domain events and their registry, and the deterministic clock and ids."""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import esteach.checks
import esteach.events
import esteach.jsondata
import esteach.store.rules
from esteach import (
    DomainEvent,
    Event,
    EventMetadata,
    EventRegistry,
    InvalidEventData,
    InvalidInput,
    NewEvent,
    SeededIds,
    StepClock,
    UnknownEventType,
)
from esteach.domains.user import UserCreated

START = datetime(2024, 1, 1, tzinfo=UTC)

# Property tests leave no example database behind in the shared tree and never time out on a
# slow machine: the examples are small, so a slow one means a slow machine, not a bug.
property_test = settings(database=None, deadline=None, max_examples=150)


def json_text(value: object) -> str:
    """Canonical JSON: tells 1 from 1.0 from True, which ``==`` on Python values does not."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def make_event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "id": "evt-1",
        "aggregate_id": "u-1",
        "aggregate_type": "User",
        "event_type": "UserCreated",
        "version": 1,
        "timestamp": START,
        "data": {"email": "ada@example.com"},
        "metadata": EventMetadata(correlation_id="corr-1"),
        "global_position": 1,
    }
    fields.update(changes)
    return Event(**fields)


# --- strategies ----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
event_types = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,99}", fullmatch=True)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)
optional_text = st.none() | st.text(max_size=20)
metadata = st.builds(
    EventMetadata,
    correlation_id=optional_text,
    causation_id=optional_text,
    user_id=optional_text,
    source=st.text(max_size=20),
    schema_version=st.integers(min_value=1, max_value=10_000),
)
events = st.builds(
    Event,
    id=st.text(min_size=1, max_size=40),
    aggregate_id=st.text(min_size=1, max_size=40),
    aggregate_type=st.text(max_size=20),
    event_type=event_types,
    version=st.integers(min_value=1, max_value=2**63 - 1),
    timestamp=timestamps,
    data=json_objects,
    metadata=metadata,
    global_position=st.integers(min_value=1, max_value=2**63 - 1),
)


# --- Event: JSON round trip ----------------------------------------------------------------------


@property_test
@given(events)
def test_an_event_survives_to_json_and_from_json_unchanged(event: Event) -> None:
    restored = Event.from_json(event.to_json())

    assert restored == event
    assert json_text(restored.data) == json_text(event.data)  # 1, 1.0 and True stay apart
    assert restored.metadata.to_dict() == event.metadata.to_dict()


@property_test
@given(events)
def test_from_json_gives_the_timestamp_in_utc_at_the_same_instant(event: Event) -> None:
    restored = Event.from_json(event.to_json())

    assert restored.timestamp == event.timestamp
    assert restored.timestamp.utcoffset() == timedelta(0)


@property_test
@given(events)
def test_a_second_round_trip_gives_the_same_json_text(event: Event) -> None:
    once = Event.from_json(event.to_json()).to_json()
    twice = Event.from_json(once).to_json()

    assert twice == once
    assert json.loads(once)["data"] == json.loads(event.to_json())["data"]


def test_to_json_keeps_unicode_readable_and_big_numbers_exact() -> None:
    event = make_event(data={"name": "Zoë 名前 🧪", "big": 2**70, "f": 1.0, "neg": -0.0})

    text = event.to_json()

    assert "Zoë 名前 🧪" in text
    assert str(2**70) in text
    restored = Event.from_json(text)
    assert restored.data["big"] == 2**70
    assert isinstance(restored.data["f"], float)
    assert math.copysign(1.0, restored.data["neg"]) == -1.0


def test_to_dict_writes_the_timestamp_with_microseconds_and_its_offset() -> None:
    event = make_event(timestamp=START + timedelta(microseconds=5))

    assert event.to_dict()["timestamp"] == "2024-01-01T00:00:00.000005+00:00"


# --- Event: malformed records --------------------------------------------------------------------


def good_record() -> dict[str, Any]:
    return make_event().to_dict()


@pytest.mark.parametrize(
    "text",
    ["", "{", "not json", '{"id": "x",}', "[1, 2]", "null", '"an event"', "42"],
    ids=repr,
)
def test_from_json_refuses_text_that_is_not_a_json_object(text: str) -> None:
    with pytest.raises(InvalidEventData, match=r"JSON"):
        Event.from_json(text)


@pytest.mark.parametrize("missing", list(good_record()))
def test_from_json_names_a_missing_field(missing: str) -> None:
    record = good_record()
    del record[missing]

    with pytest.raises(InvalidEventData, match="missing") as caught:
        Event.from_json(json.dumps(record))

    assert repr(missing) in str(caught.value)


def test_from_json_names_an_unexpected_field() -> None:
    record = good_record() | {"colour": "red"}

    with pytest.raises(InvalidEventData, match="unexpected") as caught:
        Event.from_json(json.dumps(record))

    assert "'colour'" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 5),
        ("id", None),
        ("aggregate_id", ["u-1"]),
        ("aggregate_type", 3),
        ("event_type", 7),
        ("event_type", "esteach.domains.user.UserCreated"),
        ("version", "1"),
        ("version", True),
        ("version", 1.5),
        ("version", None),
        ("global_position", "3"),
        ("global_position", False),
        ("data", [1, 2]),
        ("data", "email=ada"),
        ("data", None),
        ("metadata", "corr-1"),
        ("metadata", None),
        ("metadata", [1]),
        ("metadata", {"correlation_id": 5}),
        ("metadata", {"schema_version": 0}),
        ("metadata", {"schema_version": "1"}),
        ("metadata", {"colour": "red"}),
    ],
    ids=lambda v: repr(v) if not isinstance(v, str) else v,
)
def test_from_json_refuses_a_field_of_the_wrong_type_naming_it(field: str, value: object) -> None:
    record = good_record()
    record[field] = value

    with pytest.raises(InvalidEventData) as caught:
        Event.from_json(json.dumps(record))

    message = str(caught.value)
    assert field in message or (field == "metadata" and "metadata" in message.lower()), message


@pytest.mark.parametrize(
    "timestamp",
    [
        "yesterday",
        "",
        "2024-13-01T00:00:00+00:00",
        "2024-01-01T25:00:00+00:00",
        12345,
        None,
        ["2024-01-01"],
        "2024-01-01T00:00:00",  # no offset: the instant is unknown
    ],
    ids=repr,
)
def test_from_json_refuses_a_bad_timestamp(timestamp: object) -> None:
    record = good_record()
    record["timestamp"] = timestamp

    with pytest.raises(InvalidEventData, match="timestamp"):
        Event.from_json(json.dumps(record))


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_from_json_refuses_data_holding_nan_or_infinity(token: str) -> None:
    text = json.dumps(good_record()).replace(
        '"data": {"email": "ada@example.com"}', f'"data": {{"x": {token}}}'
    )
    assert token in text  # the replacement above did happen

    with pytest.raises(InvalidEventData, match="NaN or infinity"):
        Event.from_json(text)


def test_to_json_refuses_data_holding_nan_rather_than_writing_invalid_json() -> None:
    event = make_event(data={"x": float("nan")})  # Event itself does not check its data

    with pytest.raises(ValueError, match="JSON"):
        event.to_json()


# --- NewEvent ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({"tags": {"a", "b"}}, "data['tags']", "set"),
        ({"point": (1, 2)}, "data['point']", "tuple"),
        ({"items": [1, [2, (3,)]]}, "data['items'][1][1]", "tuple"),
        (
            {"when": datetime(2024, 1, 1, tzinfo=UTC)},
            "data['when']",
            "ISO 8601",
        ),
        ({"ratio": float("nan")}, "data['ratio']", "NaN or infinity"),
        ({"ratio": float("inf")}, "data['ratio']", "NaN or infinity"),
        ({"deep": {"ratio": -float("inf")}}, "data['deep']['ratio']", "NaN or infinity"),
        ({1: "one"}, "data", "key 1"),
        ({"nested": {(1, 2): "pair"}}, "data['nested']", "key (1, 2)"),
        ({"thing": object()}, "data['thing']", "object"),
        ({"raw": b"bytes"}, "data['raw']", "bytes"),
    ],
    ids=[
        "set",
        "tuple",
        "nested-tuple",
        "datetime",
        "nan",
        "inf",
        "nested-minus-inf",
        "int-key",
        "nested-tuple-key",
        "object",
        "bytes",
    ],
)
def test_new_event_refuses_data_that_is_not_json_naming_the_path(
    data: dict[Any, Any], path: str, words: str
) -> None:
    with pytest.raises(InvalidEventData) as caught:
        NewEvent("ThingHappened", data)

    message = str(caught.value)
    assert path in message, message
    assert words in message, message


def test_new_event_tells_how_to_store_a_datetime() -> None:
    with pytest.raises(InvalidEventData, match="ISO 8601 strings"):
        NewEvent("ThingHappened", {"when": datetime(2024, 1, 1, tzinfo=UTC)})


@pytest.mark.parametrize("data", [["a", "list"], "text", None, 42], ids=repr)
def test_new_event_refuses_data_that_is_not_a_json_object(data: object) -> None:
    with pytest.raises(InvalidEventData, match="dict"):
        NewEvent("ThingHappened", data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event_type",
    [
        "esteach.domains.user.UserCreated",  # flaw 1: a Python type path
        "UserEvent::UserCreated",  # flaw 1: a C++/Rust style type path
        "User.Created",
        "user-created",
        "User Created",
        "",
        "1stEventHappened",
        "_Private",
        "UserCreated\n",  # a trailing newline is not part of a name
        "X" * 101,
        7,
        None,
    ],
    ids=repr,
)
def test_new_event_refuses_an_event_type_that_is_not_a_business_name(event_type: object) -> None:
    with pytest.raises(InvalidEventData) as caught:
        NewEvent(event_type)  # type: ignore[arg-type]

    message = str(caught.value)
    assert repr(event_type) in message
    assert "UserCreated" in message  # shows what a good name looks like


@pytest.mark.parametrize("event_type", ["UserCreated", "a", "Order_Placed_v2", "X" * 100])
def test_new_event_accepts_business_names(event_type: str) -> None:
    assert NewEvent(event_type).event_type == event_type


def test_new_event_copies_data_so_the_callers_dict_cannot_change_it() -> None:
    data: dict[str, Any] = {"email": "ada@example.com", "tags": ["a"], "address": {"city": "X"}}
    event = NewEvent("UserCreated", data)

    data["email"] = "eve@example.com"
    data["tags"].append("b")
    data["address"]["city"] = "Y"
    data["new"] = 1

    assert event.data == {"email": "ada@example.com", "tags": ["a"], "address": {"city": "X"}}


@property_test
@given(json_objects)
def test_new_event_keeps_any_json_object_exactly(data: dict[str, Any]) -> None:
    event = NewEvent("ThingHappened", data)

    assert json_text(event.data) == json_text(data)
    assert event.data is not data


def test_new_event_has_no_id_version_or_timestamp_until_stored() -> None:
    event = NewEvent("ThingHappened")

    assert event.id is None
    assert event.data == {}
    assert event.metadata == EventMetadata()
    assert not hasattr(event, "version")
    assert not hasattr(event, "timestamp")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"id": ""}, "event id"),
        ({"id": "   "}, "event id"),
        ({"id": 5}, "event id"),
        ({"aggregate_type": 3}, "aggregate_type"),
        ({"metadata": {"correlation_id": "c"}}, "metadata"),
    ],
    ids=repr,
)
def test_new_event_refuses_bad_envelope_fields(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        NewEvent("ThingHappened", **changes)


def test_new_event_is_frozen() -> None:
    event = NewEvent("ThingHappened")

    with pytest.raises(AttributeError):
        event.event_type = "OtherThing"  # type: ignore[misc]


# --- EventMetadata -------------------------------------------------------------------------------


def test_event_metadata_defaults() -> None:
    assert EventMetadata().to_dict() == {
        "correlation_id": None,
        "causation_id": None,
        "user_id": None,
        "source": "esteach",
        "schema_version": 1,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"correlation_id": 5}, "correlation_id"),
        ({"causation_id": b"c"}, "causation_id"),
        ({"user_id": ["u"]}, "user_id"),
        ({"source": None}, "source"),
        ({"schema_version": 0}, "schema_version"),
        ({"schema_version": -1}, "schema_version"),
        ({"schema_version": True}, "schema_version"),
        ({"schema_version": "2"}, "schema_version"),
        ({"schema_version": 2.0}, "schema_version"),
    ],
    ids=repr,
)
def test_event_metadata_refuses_wrong_types_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput, match=field):
        EventMetadata(**changes)


@property_test
@given(metadata)
def test_event_metadata_survives_to_dict_and_from_dict(meta: EventMetadata) -> None:
    assert EventMetadata.from_dict(meta.to_dict()) == meta


# --- DomainEvent and the registry ----------------------------------------------------------------


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> EventRegistry:
    """A registry of its own, so classes defined by these tests leave the real one alone."""
    fresh = EventRegistry()
    monkeypatch.setattr(esteach.events, "registry", fresh)
    return fresh


def define_coffee_brewed() -> type[DomainEvent]:
    @dataclass(frozen=True)
    class CoffeeBrewed(DomainEvent):
        cups: int
        roast: str = "medium"
        strength: float = 1.0
        note: str | None = None

    return CoffeeBrewed


def test_a_domain_event_class_name_is_its_event_type(fresh_registry: EventRegistry) -> None:
    coffee_brewed = define_coffee_brewed()

    assert coffee_brewed.event_type == "CoffeeBrewed"
    assert "CoffeeBrewed" in fresh_registry
    assert fresh_registry.get("CoffeeBrewed") is coffee_brewed
    assert fresh_registry.names() == ["CoffeeBrewed"]


def test_the_user_domain_events_are_registered_under_their_names() -> None:
    assert esteach.registry.get("UserCreated") is UserCreated
    assert UserCreated.event_type == "UserCreated"


def test_an_unknown_event_type_raises_listing_the_known_names(
    fresh_registry: EventRegistry,
) -> None:
    define_coffee_brewed()

    @dataclass(frozen=True)
    class TeaSteeped(DomainEvent):
        minutes: int

    with pytest.raises(UnknownEventType) as caught:
        fresh_registry.get("CocoaStirred")

    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.event_type == "CocoaStirred"
    assert "'CocoaStirred'" in str(error)
    assert "CoffeeBrewed, TeaSteeped" in str(error)
    assert "CocoaStirred" not in fresh_registry


def test_an_unknown_event_type_in_an_empty_registry_says_none_are_known(
    fresh_registry: EventRegistry,
) -> None:
    with pytest.raises(UnknownEventType, match=r"known: none"):
        fresh_registry.get("CoffeeBrewed")


def test_redefining_the_same_class_replaces_it(fresh_registry: EventRegistry) -> None:
    first = define_coffee_brewed()
    second = define_coffee_brewed()  # same module and qualname: a re-run notebook cell

    assert first is not second
    assert fresh_registry.get("CoffeeBrewed") is second
    assert fresh_registry.names() == ["CoffeeBrewed"]


def test_a_different_class_cannot_take_a_registered_name(fresh_registry: EventRegistry) -> None:
    original = define_coffee_brewed()

    with pytest.raises(InvalidInput) as caught:

        @dataclass(frozen=True)
        class CoffeeBrewed(DomainEvent):
            mugs: int

    message = str(caught.value)
    assert "'CoffeeBrewed'" in message
    assert "define_coffee_brewed.<locals>.CoffeeBrewed" in message  # who holds the name
    assert "test_a_different_class_cannot_take_a_registered_name" in message  # who wanted it
    assert fresh_registry.get("CoffeeBrewed") is original


def test_a_learners_event_may_share_a_name_with_a_user_domain_event(
    fresh_registry: EventRegistry,
) -> None:
    # Every "build your own" workshop defines its own UserCreated beside esteach's.
    fresh_registry.register(esteach.domains.user.UserCreated)

    @dataclass(frozen=True)
    class UserCreated(DomainEvent):
        login: str

    assert fresh_registry.get("UserCreated", [__name__]) is UserCreated
    assert (
        fresh_registry.get("UserCreated", ["esteach.domains.user"])
        is esteach.domains.user.UserCreated
    )
    with pytest.raises(InvalidInput, match=r"defined by several classes .*registry=my_events"):
        fresh_registry.get("UserCreated")  # no module says which one is meant


def test_defining_an_event_class_again_in_its_module_replaces_it(
    fresh_registry: EventRegistry,
) -> None:
    first, again = define_coffee_brewed(), define_coffee_brewed()  # a notebook cell run twice

    assert first is not again
    assert fresh_registry.get("CoffeeBrewed") is again


def test_an_event_class_can_join_a_registry_of_its_own() -> None:
    mine = EventRegistry()

    @dataclass(frozen=True)
    class ParcelShipped(DomainEvent, registry=mine):
        parcel: str

    assert mine.get("ParcelShipped") is ParcelShipped
    assert "ParcelShipped" not in esteach.events.registry


def test_a_domain_event_class_needs_a_business_name(fresh_registry: EventRegistry) -> None:
    with pytest.raises(InvalidEventData, match="'_CoffeeBrewed'"):

        @dataclass(frozen=True)
        class _CoffeeBrewed(DomainEvent):
            cups: int

    assert fresh_registry.names() == []


def test_from_data_rebuilds_the_event_that_to_data_wrote(fresh_registry: EventRegistry) -> None:
    coffee_brewed = define_coffee_brewed()
    event = coffee_brewed(cups=2, roast="dark", strength=1.5, note="ü")  # type: ignore[call-arg]

    data = event.to_data()

    assert data == {"cups": 2, "roast": "dark", "strength": 1.5, "note": "ü"}
    assert coffee_brewed.from_data(data) == event


def test_from_data_fills_in_defaults(fresh_registry: EventRegistry) -> None:
    coffee_brewed = define_coffee_brewed()

    event = coffee_brewed.from_data({"cups": 1})

    assert event.to_data() == {"cups": 1, "roast": "medium", "strength": 1.0, "note": None}


def test_from_data_names_missing_and_unexpected_fields(fresh_registry: EventRegistry) -> None:
    coffee_brewed = define_coffee_brewed()

    with pytest.raises(InvalidEventData) as caught:
        coffee_brewed.from_data({"roast": "dark", "sugar": 2, "milk": True})

    message = str(caught.value)
    assert "CoffeeBrewed" in message
    assert "missing fields ['cups']" in message
    assert "unexpected fields ['milk', 'sugar']" in message
    assert "upcaster" in message


def test_from_data_names_a_missing_field_alone(fresh_registry: EventRegistry) -> None:
    coffee_brewed = define_coffee_brewed()

    with pytest.raises(InvalidEventData, match=r"missing fields \['cups'\]"):
        coffee_brewed.from_data({})


@pytest.mark.parametrize(
    ("data", "field", "expected_type"),
    [
        ({"cups": "two"}, "cups", "int"),
        ({"cups": True}, "cups", "int"),
        ({"cups": 2.0}, "cups", "int"),
        ({"cups": None}, "cups", "int"),
        ({"cups": 1, "roast": 5}, "roast", "str"),
        ({"cups": 1, "strength": "strong"}, "strength", "float"),
        ({"cups": 1, "strength": False}, "strength", "float"),
        ({"cups": 1, "note": 3}, "note", "str | None"),
    ],
    ids=repr,
)
def test_a_field_of_the_wrong_type_raises_invalid_event_data(
    fresh_registry: EventRegistry, data: dict[str, Any], field: str, expected_type: str
) -> None:
    coffee_brewed = define_coffee_brewed()

    with pytest.raises(InvalidEventData) as caught:
        coffee_brewed.from_data(data)

    message = str(caught.value)
    assert f"CoffeeBrewed.{field} must be {expected_type}" in message, message


def test_an_int_is_accepted_where_a_float_is_declared(fresh_registry: EventRegistry) -> None:
    coffee_brewed = define_coffee_brewed()

    assert coffee_brewed.from_data({"cups": 1, "strength": 2}).to_data()["strength"] == 2


def test_to_data_refuses_a_field_value_that_is_not_json(fresh_registry: EventRegistry) -> None:
    @dataclass(frozen=True)
    class BeansWeighed(DomainEvent):
        grams: Any

    with pytest.raises(InvalidEventData, match=r"BeansWeighed data\['grams'\] is set"):
        BeansWeighed(grams={1, 2}).to_data()


def envelope_for(event: DomainEvent, schema_version: int) -> Event:
    return make_event(
        event_type=event.event_type,
        data=event.to_data(),
        metadata=EventMetadata(schema_version=schema_version),
    )


def test_to_domain_turns_an_envelope_into_its_domain_event(
    fresh_registry: EventRegistry,
) -> None:
    coffee_brewed = define_coffee_brewed()
    event = coffee_brewed(cups=3)  # type: ignore[call-arg]

    assert fresh_registry.to_domain(envelope_for(event, 1)) == event


def test_a_schema_version_mismatch_without_an_upcaster_raises_a_clear_error(
    fresh_registry: EventRegistry,
) -> None:
    @dataclass(frozen=True)
    class MilkFrothed(DomainEvent):
        schema_version = 2
        ml: int

    envelope = replace(envelope_for(MilkFrothed(ml=100), 1), id="evt-old")

    with pytest.raises(InvalidEventData) as caught:
        fresh_registry.to_domain(envelope)

    message = str(caught.value)
    assert "MilkFrothed" in message
    assert "evt-old" in message
    assert "schema version 1" in message
    assert "version 2" in message
    assert "upcaster" in message
    assert fresh_registry.to_domain(envelope_for(MilkFrothed(ml=100), 2)) == MilkFrothed(ml=100)


def test_to_domain_of_an_unregistered_type_raises_unknown_event_type(
    fresh_registry: EventRegistry,
) -> None:
    with pytest.raises(UnknownEventType, match="UserCreated"):
        fresh_registry.to_domain(make_event(event_type="UserCreated"))


# --- StepClock and SeededIds ---------------------------------------------------------------------


def test_a_step_clock_starts_at_start_and_steps_forward_on_every_reading() -> None:
    clock = StepClock(START, timedelta(minutes=1))

    assert [clock() for _ in range(3)] == [
        START,
        START + timedelta(minutes=1),
        START + timedelta(minutes=2),
    ]


def test_two_step_clocks_with_the_same_settings_read_the_same() -> None:
    step = timedelta(milliseconds=250)
    first, second = StepClock(START, step), StepClock(START, step)

    assert [first() for _ in range(50)] == [second() for _ in range(50)]


def test_a_step_clock_can_jump_forward() -> None:
    clock = StepClock(START, timedelta(seconds=1))
    clock()
    clock.advance(timedelta(days=7))

    assert clock() == START + timedelta(days=7, seconds=1)


def test_a_step_clock_reads_utc_even_when_started_in_another_zone() -> None:
    start = datetime(2024, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    reading = StepClock(start)()

    assert reading == start
    assert reading.utcoffset() == timedelta(0)


def test_a_step_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        StepClock(datetime(2024, 1, 1))


def test_seeded_ids_give_the_same_sequence_for_the_same_seed() -> None:
    first, second = SeededIds(seed=7), SeededIds(seed=7)

    assert [first() for _ in range(20)] == [second() for _ in range(20)]


def test_seeded_ids_differ_between_seeds_and_never_repeat() -> None:
    ids = SeededIds(seed=1)
    drawn = [ids() for _ in range(1000)]
    other = SeededIds(seed=2)

    assert len(set(drawn)) == len(drawn)
    assert [other() for _ in range(5)] != drawn[:5]


def test_seeded_ids_are_uuid4_strings() -> None:
    ids = SeededIds(seed=3)

    for _ in range(20):
        text = ids()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4


# --- the fast paths a store's reads take ------------------------------------------------------


@property_test
@given(events)
def test_stored_event_builds_the_event_the_constructor_builds(event: Event) -> None:
    fields = [getattr(event, f.name) for f in dataclasses.fields(Event)]
    meta = event.metadata
    copy = esteach.store.rules.stored_event(
        *fields[:7],
        esteach.store.rules.stored_metadata(
            meta.correlation_id,
            meta.causation_id,
            meta.user_id,
            meta.source,
            meta.schema_version,
            meta.headers,
        ),
        fields[8],
    )

    assert copy == event
    assert repr(copy) == repr(event)


hints = [int, float, bool, str, type(None), str | None, int | None, dict[str, Any], list[int],
         Any, float | str]  # fmt: skip
values = json_values | st.builds(esteach.jsondata.FrozenDict) | st.tuples(st.integers())


@property_test
@given(st.sampled_from(hints), values)
def test_the_exact_type_shortcut_never_accepts_what_the_full_check_refuses(
    hint: Any, value: object
) -> None:
    if type(value) in esteach.checks._exact_types(hint):
        assert esteach.checks._matches(value, hint)


@property_test
@given(json_objects)
def test_the_stores_json_text_is_json_dumps_compact(data: dict[str, Any]) -> None:
    """``esteach.duck.json_text`` calls the C encoder directly (a third of the cost): the same
    text as ``json.dumps`` with the same options, for any JSON object."""
    import esteach.duck

    expected = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert esteach.duck.json_text(data) == expected
    assert esteach.duck.json_texts([data, {}, data]) == [expected, "{}", expected]


@pytest.mark.parametrize(
    "data, error",
    [({"x": math.nan}, ValueError), ({"x": -math.inf}, ValueError), ({"x": object()}, TypeError)],
)
def test_the_stores_json_text_refuses_what_json_dumps_refuses(data: Any, error: type) -> None:
    import esteach.duck

    with pytest.raises(error):
        esteach.duck.json_text(data)


def test_uuid4_ids_are_random_version_4_uuids() -> None:
    from esteach.determinism import uuid4_ids

    made = [uuid4_ids() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # Every one of the 122 random bits varies: none is stuck at 0 or 1 over 2,000 ids.
    ored, andd = 0, ~0
    for text in made:
        bits = uuid.UUID(text).int
        ored, andd = ored | bits, andd & bits
    assert bin(ored).count("1") - bin(andd & (2**128 - 1)).count("1") == 122
