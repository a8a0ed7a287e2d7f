"""Upcasting: old event shapes are lifted, step by step, wherever events are read.

The story: a shop's ``ShopperRegistered`` event changed shape twice.

* v1 ``{"name": "Ada Lovelace"}``
* v2 ``{"first_name": "Ada", "last_name": "Lovelace"}`` (the name split)
* v3 ``{"first_name": ..., "last_name": ..., "country": "unknown"}`` (a field added)

and before all that it was called ``CustomerSignedUp``. Every test defines its classes in a
registry of its own (``shop`` fixture), so the real :data:`esteach.events.registry` is left
exactly as found; an autouse fixture checks that after every test.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

import esteach.events
from esteach import (
    Aggregate,
    Command,
    CommandProcessor,
    DomainEvent,
    DuckDBEventStore,
    Event,
    EventMetadata,
    EventRegistry,
    EventStore,
    InMemoryEventStore,
    InvalidEventData,
    InvalidInput,
    NewEvent,
    SeededIds,
    StepClock,
)
from esteach.analytics import events_frame, events_table
from esteach.timetravel import history, state_at
from esteach.upcasting import Upcaster

START = datetime(2024, 1, 1, tzinfo=UTC)
V1 = {"name": "Ada Lovelace"}
V2 = {"first_name": "Ada", "last_name": "Lovelace"}
V3 = {"first_name": "Ada", "last_name": "Lovelace", "country": "unknown"}


@pytest.fixture(autouse=True)
def global_registry_left_as_found() -> Iterator[None]:
    real = esteach.events.registry
    names, steps = real.names(), real.upcasters.steps()
    yield
    assert esteach.events.registry is real
    assert real.names() == names
    assert real.upcasters.steps() == steps


@dataclass
class Shop:
    """The classes of one test's shop domain, in a registry of their own."""

    registry: EventRegistry
    registered: type[DomainEvent]  # ShopperRegistered, at schema version 3
    moved: type[DomainEvent]  # ShopperMoved, at schema version 1
    shopper: type[Aggregate]
    move: type[Command]  # MoveShopper(aggregate_id, country)
    calls: list[tuple[str, dict[str, Any]]]  # (upcaster, the data it was given), in order

    def envelope(
        self,
        data: dict[str, Any],
        schema_version: int,
        event_type: str = "ShopperRegistered",
        version: int = 1,
    ) -> Event:
        return Event(
            id=f"evt-{event_type}-{version}",
            aggregate_id="ada",
            aggregate_type="Shopper",
            event_type=event_type,
            version=version,
            timestamp=START + timedelta(minutes=version),
            data=data,
            metadata=EventMetadata(schema_version=schema_version),
        )


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Shop:
    fresh = EventRegistry()
    # DomainEvent subclasses join esteach.events.registry when defined: point it at ours.
    monkeypatch.setattr(esteach.events, "registry", fresh)
    calls: list[tuple[str, dict[str, Any]]] = []

    @dataclass(frozen=True)
    class ShopperRegistered(DomainEvent):
        schema_version = 3
        first_name: str
        last_name: str
        country: str

    @dataclass(frozen=True)
    class ShopperMoved(DomainEvent):
        country: str

    @fresh.upcaster("ShopperRegistered", from_version=1)
    def split_name(data: dict[str, Any]) -> dict[str, Any]:
        calls.append(("split_name", dict(data)))
        first, _, last = data["name"].partition(" ")
        return {"first_name": first, "last_name": last}

    @fresh.upcaster("ShopperRegistered", from_version=2)
    def add_country(data: dict[str, Any]) -> dict[str, Any]:
        calls.append(("add_country", dict(data)))
        return {**data, "country": "unknown"}

    # The old name's data has the v2 shape (the name already split): it joins the path there.
    @fresh.upcaster(
        "CustomerSignedUp", from_version=1, to_event_type="ShopperRegistered", to_version=2
    )
    def customer_is_now_shopper(data: dict[str, Any]) -> dict[str, Any]:
        calls.append(("customer_is_now_shopper", dict(data)))
        first, last = data["full_name"].split(" ", 1)
        return {"first_name": first, "last_name": last}

    @dataclass(frozen=True)
    class MoveShopper(Command):
        aggregate_id: str
        country: str

    class Shopper(Aggregate):
        events = fresh

        def __init__(self, aggregate_id: str) -> None:
            super().__init__(aggregate_id)
            self.first_name = ""
            self.last_name = ""
            self.country = ""

        def handle_command(self, command: Any) -> list[DomainEvent]:
            return [] if command.country == self.country else [ShopperMoved(command.country)]  # type: ignore[call-arg]

        def apply_event(self, event: Any) -> None:
            if isinstance(event, ShopperRegistered):
                self.first_name, self.last_name = event.first_name, event.last_name  # type: ignore[attr-defined]
            self.country = event.country

    return Shop(fresh, ShopperRegistered, ShopperMoved, Shopper, MoveShopper, calls)


@pytest.fixture(params=["memory", "duckdb"])
def open_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], EventStore]]:
    """Both kinds of store: the in-memory one hands out the very objects it keeps."""
    opened: list[EventStore] = []

    def make() -> EventStore:
        clock = StepClock(START, timedelta(minutes=1))
        made: EventStore
        if request.param == "memory":
            made = InMemoryEventStore(clock=clock, ids=SeededIds(1))
        else:
            made = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(1))
        opened.append(made)
        return made

    yield make
    for store in reversed(opened):
        with contextlib.suppress(Exception):
            store.close()


def old_history(store: EventStore) -> None:
    """Ada's stream as an older version of the shop recorded it.

    version  type               stored at
    1        CustomerSignedUp   v1 (the event's old name)
    2        ShopperMoved       v1 (current)
    """
    store.append_events(
        "ada",
        0,
        [
            NewEvent(
                "CustomerSignedUp",
                {"full_name": "Ada King Lovelace"},
                "Shopper",
                EventMetadata(schema_version=1),
            )
        ],
    )
    store.append_events("ada", 1, [NewEvent("ShopperMoved", {"country": "UK"}, "Shopper")])


# --- lifting, step by step -----------------------------------------------------------------------


def test_a_v1_event_is_lifted_to_v2_and_then_to_v3_one_step_at_a_time(shop: Shop) -> None:
    stored = shop.envelope(V1, schema_version=1)

    lifted = shop.registry.upcast(stored)

    assert shop.calls == [("split_name", V1), ("add_country", V2)]
    assert lifted.data == V3
    assert lifted.metadata.schema_version == 3
    assert dataclasses.replace(lifted, data=stored.data, metadata=stored.metadata) == stored


def test_a_v2_event_takes_only_the_last_step(shop: Shop) -> None:
    lifted = shop.registry.upcast(shop.envelope(V2, schema_version=2))

    assert shop.calls == [("add_country", V2)]
    assert lifted.data == V3


def test_an_event_at_its_current_version_is_returned_as_it_is(shop: Shop) -> None:
    current = shop.envelope(V3, schema_version=3)

    assert shop.registry.upcast(current) is current
    assert shop.calls == []


def test_an_event_of_a_type_no_class_claims_passes_through(shop: Shop) -> None:
    unknown = shop.envelope({"anything": 1}, schema_version=7, event_type="SomethingElse")

    assert shop.registry.upcast(unknown) is unknown


def test_to_domain_builds_the_current_class_from_an_old_event(shop: Shop) -> None:
    domain = shop.registry.to_domain(shop.envelope(V1, schema_version=1))

    assert domain == shop.registered(**V3)


def test_a_renamed_event_type_is_lifted_into_the_class_of_its_new_name(shop: Shop) -> None:
    old = shop.envelope({"full_name": "Ada King Lovelace"}, 1, event_type="CustomerSignedUp")

    lifted = shop.registry.upcast(old)

    assert lifted.event_type == "ShopperRegistered"
    assert lifted.data == {"first_name": "Ada", "last_name": "King Lovelace", "country": "unknown"}
    assert lifted.metadata.schema_version == 3
    assert [name for name, _ in shop.calls] == ["customer_is_now_shopper", "add_country"]
    assert isinstance(shop.registry.to_domain(old), shop.registered)


def test_an_event_can_be_renamed_into_a_class_at_schema_version_one(shop: Shop) -> None:
    @shop.registry.upcaster("ShopperRelocated", from_version=1, to_event_type="ShopperMoved")
    def relocated_is_moved(data: dict[str, Any]) -> dict[str, Any]:
        return {"country": data["to"]}

    old = shop.envelope({"to": "FR"}, 1, event_type="ShopperRelocated")

    lifted = shop.registry.upcast(old)

    assert (lifted.event_type, lifted.metadata.schema_version) == ("ShopperMoved", 1)
    assert shop.registry.to_domain(old) == shop.moved(country="FR")  # type: ignore[call-arg]


def test_a_rename_can_land_on_any_version_of_the_new_type_and_continue_from_there(
    shop: Shop,
) -> None:
    @shop.registry.upcaster(
        "ShopperSignedUp", from_version=3, to_event_type="ShopperRegistered", to_version=1
    )
    def signed_up_is_registered(data: dict[str, Any]) -> dict[str, Any]:
        return {"name": data["display_name"]}

    lifted = shop.registry.upcast(
        shop.envelope({"display_name": "Ada Lovelace"}, 3, "ShopperSignedUp")
    )

    assert lifted.data == V3
    assert [name for name, _ in shop.calls] == ["split_name", "add_country"]


@pytest.mark.parametrize("to_version", [0, -1, True, "2"], ids=repr)
def test_a_rename_to_a_version_below_one_or_not_an_int_is_refused(to_version: Any) -> None:
    with pytest.raises(InvalidInput, match="to_version must be an int >= 1"):
        EventRegistry().upcaster("Old", 1, to_event_type="New", to_version=to_version)


def test_to_version_without_a_rename_must_be_the_next_version() -> None:
    registry = EventRegistry()

    with pytest.raises(InvalidInput, match="to_version=3 is only for a renamed event"):
        registry.upcaster("ShopperRegistered", 1, to_version=3)
    registry.upcaster("ShopperRegistered", 1, to_version=2)(lambda data: data)  # the default


def test_renames_that_go_round_in_a_circle_are_reported_not_looped_forever() -> None:
    registry = EventRegistry()
    registry.upcaster("Ping", 1, to_event_type="Pong")(lambda data: data)
    registry.upcaster("Pong", 1, to_event_type="Ping")(lambda data: data)
    event = Event("evt-ping", "x", "X", "Ping", 1, START, {}, EventMetadata(schema_version=1))

    with pytest.raises(InvalidEventData, match="form a cycle"):
        registry.upcast(event)


def test_registering_the_same_step_again_replaces_it(shop: Shop) -> None:
    @shop.registry.upcaster("ShopperRegistered", from_version=2)
    def add_country_again(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "country": "GB"}

    lifted = shop.registry.upcast(shop.envelope(V2, schema_version=2))

    assert lifted.data["country"] == "GB"
    assert [s.function.__name__ for s in shop.registry.upcasters.steps()] == [
        "customer_is_now_shopper",
        "split_name",
        "add_country_again",
    ]


# --- clear errors --------------------------------------------------------------------------------


def test_an_event_with_no_path_to_the_current_version_names_the_type_version_and_the_fix(
    shop: Shop,
) -> None:
    shop.registry.upcasters.remove("ShopperRegistered", 1)
    old = shop.envelope(V1, schema_version=1)

    with pytest.raises(InvalidEventData) as caught:
        shop.registry.to_domain(old)

    message = str(caught.value)
    assert "ShopperRegistered" in message
    assert old.id in message
    assert "schema version 1" in message
    assert "class is at version 3" in message
    assert "@registry.upcaster('ShopperRegistered', from_version=1)" in message


def test_a_gap_in_the_middle_of_the_path_names_the_missing_step(shop: Shop) -> None:
    shop.registry.upcasters.remove("ShopperRegistered", 2)

    with pytest.raises(InvalidEventData) as caught:
        shop.registry.upcast(shop.envelope(V1, schema_version=1))

    message = str(caught.value)
    assert "schema version 2" in message  # the first step ran; the second is missing
    assert "from_version=2" in message


def test_an_event_newer_than_its_class_is_refused(shop: Shop) -> None:
    with pytest.raises(InvalidEventData, match=r"schema version 4.*class is at version 3"):
        shop.registry.to_domain(shop.envelope(V3, schema_version=4))


def test_an_event_newer_than_its_class_is_not_blamed_on_a_missing_upcaster(shop: Shop) -> None:
    with pytest.raises(InvalidEventData) as caught:
        shop.registry.to_domain(shop.envelope(V3, schema_version=4))

    assert "register one with" not in str(caught.value)
    assert "newer than its class" in str(caught.value)


def test_an_upcaster_that_raises_is_named_in_the_error(shop: Shop) -> None:
    broken = shop.envelope({"nombre": "Ada"}, schema_version=1)

    with pytest.raises(InvalidEventData) as caught:
        shop.registry.upcast(broken)

    message = str(caught.value)
    assert "upcaster split_name failed" in message
    assert "ShopperRegistered v1" in message
    assert broken.id in message
    assert "KeyError" in message
    assert isinstance(caught.value.__cause__, KeyError)


@pytest.mark.parametrize(
    "returned", [None, ["first_name"], {"first_name": {1, 2}}, {"when": START}], ids=repr
)
def test_an_upcaster_that_returns_something_other_than_json_data_is_named(
    shop: Shop, returned: Any
) -> None:
    @shop.registry.upcaster("ShopperRegistered", from_version=1)
    def sloppy(data: dict[str, Any]) -> Any:
        return returned

    with pytest.raises(InvalidEventData, match="sloppy"):
        shop.registry.upcast(shop.envelope(V1, schema_version=1))


@pytest.mark.parametrize("from_version", [0, -1, True, "1", 1.0], ids=repr)
def test_an_upcaster_from_a_version_below_one_or_not_an_int_is_refused(from_version: Any) -> None:
    registry = EventRegistry()

    with pytest.raises(InvalidInput, match="from_version must be an int >= 1"):
        registry.upcaster("ShopperRegistered", from_version=from_version)


def test_an_upcaster_for_a_type_path_instead_of_a_name_is_refused() -> None:
    registry = EventRegistry()

    with pytest.raises(InvalidEventData, match="not a business event name"):
        registry.upcaster("shop.events.CustomerSignedUp", 1)
    with pytest.raises(InvalidEventData, match="not a business event name"):
        registry.upcaster("CustomerSignedUp", 1, to_event_type="shop.events.ShopperRegistered")


# --- upcasters get a copy ------------------------------------------------------------------------


def test_an_upcaster_gets_a_deep_copy_of_the_event_data(shop: Shop) -> None:
    @shop.registry.upcaster("ShopperRegistered", from_version=1)
    def vandal(data: dict[str, Any]) -> dict[str, Any]:
        data["tags"]["vip"] = True
        data["history"].append("vandalised")
        first, _, last = data.pop("name").partition(" ")
        return {"first_name": first, "last_name": last}

    stored = shop.envelope({"name": "Ada Lovelace", "tags": {}, "history": []}, 1)

    assert shop.registry.upcast(stored).data == V3
    assert stored.data == {"name": "Ada Lovelace", "tags": {}, "history": []}


def test_an_upcaster_that_changes_its_input_does_not_change_the_stored_event(
    shop: Shop, open_store: Callable[[], EventStore]
) -> None:
    @shop.registry.upcaster("ShopperRegistered", from_version=1)
    def vandal(data: dict[str, Any]) -> dict[str, Any]:
        data["name"] = "Mallory"
        data["nested"]["changed"] = True
        return {"first_name": "Ada", "last_name": "Lovelace"}

    store = open_store()
    stored_data = {"name": "Ada Lovelace", "nested": {"changed": False}}
    store.append_events(
        "ada", 0, [NewEvent("ShopperRegistered", stored_data, metadata=EventMetadata())]
    )

    first = shop.shopper.load_from_events(store.get_events("ada"))
    second = shop.shopper.load_from_events(store.get_events("ada"))

    assert first.state() == second.state()
    assert store.get_events("ada")[0].data == stored_data
    assert store.read_all()[0].data == stored_data


# --- upcasting wherever events are read ----------------------------------------------------------


def test_an_aggregate_loads_from_old_events(
    shop: Shop, open_store: Callable[[], EventStore]
) -> None:
    store = open_store()
    old_history(store)

    shopper = shop.shopper.load_from_events(store.get_events("ada"))

    assert shopper.state() == {
        "aggregate_id": "ada",
        "version": 2,
        "first_name": "Ada",
        "last_name": "King Lovelace",
        "country": "UK",
    }


def test_a_command_on_an_old_stream_decides_on_the_lifted_state_and_records_current_shapes(
    shop: Shop, open_store: Callable[[], EventStore]
) -> None:
    store = open_store()
    store.append_events(
        "ada", 0, [NewEvent("ShopperRegistered", V1, metadata=EventMetadata(schema_version=1))]
    )
    processor = CommandProcessor(store, shop.shopper, ids=SeededIds(5))

    same = processor.process_command(shop.move("ada", "unknown"))  # type: ignore[call-arg]
    moved = processor.process_command(shop.move("ada", "UK"))  # type: ignore[call-arg]

    assert same.events == []  # v3's default country was seen, so nothing changed
    assert [e.event_type for e in moved.events] == ["ShopperMoved"]
    assert store.get_events("ada")[0].data == V1  # the old event itself is never rewritten
    assert processor.load("ada").country == "UK"


def test_time_travel_sees_old_events_in_their_current_shape(
    shop: Shop, open_store: Callable[[], EventStore]
) -> None:
    store = open_store()
    old_history(store)

    at_one = state_at(store, shop.shopper, "ada", version=1)
    at_start = state_at(store, shop.shopper, "ada", at=START)

    assert at_one.state() == at_start.state()
    assert (at_one.first_name, at_one.last_name, at_one.country) == (  # type: ignore[attr-defined]
        "Ada",
        "King Lovelace",
        "unknown",
    )


def test_history_shows_lifted_data_and_the_schema_version_as_stored(
    shop: Shop, open_store: Callable[[], EventStore]
) -> None:
    store = open_store()
    old_history(store)

    frame = history(store, shop.shopper, "ada")

    assert list(frame["event_type"]) == ["ShopperRegistered", "ShopperMoved"]
    assert frame.loc[1, "data"] == {
        "first_name": "Ada",
        "last_name": "King Lovelace",
        "country": "unknown",
    }
    assert list(frame["schema_version"]) == [1, 1]
    assert frame.loc[2, "changes"] == {"country": ("unknown", "UK")}
    assert frame.loc[2, "state"] == state_at(store, shop.shopper, "ada", version=2).state()


def test_events_frame_lifts_old_events_unless_asked_for_them_as_stored(
    shop: Shop, open_store: Callable[[], EventStore]
) -> None:
    store = open_store()
    old_history(store)

    lifted = events_frame(store)  # the default registry, looked up at call time
    stored = events_frame(store, upcast=False)

    assert list(lifted["event_type"]) == ["ShopperRegistered", "ShopperMoved"]
    assert lifted.loc[0, "data"]["country"] == "unknown"
    assert list(stored["event_type"]) == ["CustomerSignedUp", "ShopperMoved"]
    assert stored.loc[0, "data"] == {"full_name": "Ada King Lovelace"}
    assert list(lifted["schema_version"]) == list(stored["schema_version"]) == [1, 1]
    pd.testing.assert_frame_equal(
        lifted.drop(columns=["event_type", "data"]), stored.drop(columns=["event_type", "data"])
    )


def test_events_frame_uses_the_registry_it_is_given(shop: Shop) -> None:
    store = InMemoryEventStore(clock=StepClock(START), ids=SeededIds(1))
    old_history(store)

    frame = events_frame(store, registry=EventRegistry())  # knows no classes, no upcasters

    assert list(frame["event_type"]) == ["CustomerSignedUp", "ShopperMoved"]


def test_sql_sees_events_as_stored(shop: Shop) -> None:
    store = InMemoryEventStore(clock=StepClock(START), ids=SeededIds(1))
    old_history(store)

    rows = events_table(store).sql("SELECT event_type, schema_version FROM events_log").fetchall()

    assert rows == [("CustomerSignedUp", 1), ("ShopperMoved", 1)]


def test_time_travel_uses_the_aggregates_own_registry(shop: Shop) -> None:
    private = EventRegistry()
    private.register(shop.registered)
    private.register(shop.moved)
    private.upcasters.add(Upcaster("ShopperRegistered", 1, lambda d: {**d, "first_name": "A"}))
    private.upcasters.add(Upcaster("ShopperRegistered", 2, lambda d: {**d, "country": "?"}))

    class PrivateShopper(shop.shopper):  # type: ignore[misc, valid-type]
        events = private

    store = InMemoryEventStore(clock=StepClock(START), ids=SeededIds(1))
    store.append_events(
        "ada",
        0,
        [NewEvent("ShopperRegistered", {"last_name": "L"}, metadata=EventMetadata())],
    )

    assert state_at(store, PrivateShopper, "ada", version=1).country == "?"  # type: ignore[attr-defined]
    assert history(store, PrivateShopper, "ada").loc[1, "data"] == {
        "last_name": "L",
        "first_name": "A",
        "country": "?",
    }


# --- the global registry -------------------------------------------------------------------------


def test_an_upcaster_added_to_the_global_registry_can_be_removed_again() -> None:
    registry = esteach.events.registry
    before = registry.upcasters.steps()

    @registry.upcaster("UpcastingTestNeverDefined", from_version=1)
    def probe(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "probed": True}

    try:
        assert len(registry.upcasters.steps()) == len(before) + 1
        event = Event("evt-probe", "x", "X", "UpcastingTestNeverDefined", 1, START, {"a": 1})
        lifted = registry.upcast(event)
        assert lifted.data == {"a": 1, "probed": True}
        assert lifted.metadata.schema_version == 2
    finally:
        registry.upcasters.remove("UpcastingTestNeverDefined", 1)

    assert registry.upcasters.steps() == before
    registry.upcasters.remove("UpcastingTestNeverDefined", 1)  # removing twice is harmless
