"""The event model beyond the store contract: headers end to end, event names per module."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

import esteach.events
from esteach import (
    Aggregate,
    CommandProcessor,
    DomainEvent,
    DuckDBEventStore,
    EventMetadata,
    EventRegistry,
    EventStoreError,
    InMemoryEventStore,
    InvalidInput,
    NewEvent,
    ReadOnlyEventData,
    SeededIds,
    StepClock,
    UserQueryModel,
    events_frame,
    events_table,
    read_jsonl,
    write_jsonl,
)
from esteach.commands import Command
from esteach.domains.user import ChangeEmail, CreateUser, User
from esteach.store.duckdb_sql import SCHEMA

HEADERS = {"tenant": "acme", "request": {"path": "/users", "trace_id": "t-42"}}


def test_a_command_processor_puts_its_callers_headers_on_every_event() -> None:
    store = InMemoryEventStore(clock=StepClock(), ids=SeededIds(0))
    users = CommandProcessor(store, User, ids=SeededIds(1))

    result = users.process_command(
        CreateUser("ada", "ada@example.com", "Ada"), user_id="admin", headers=HEADERS
    )

    assert [e.metadata.headers for e in result.events] == [HEADERS]
    assert store.read_all()[0].metadata.headers == HEADERS


def test_headers_are_copied_in_and_read_only_out() -> None:
    mine: dict[str, Any] = {"tenant": "acme"}
    metadata = EventMetadata(headers=mine)
    mine["tenant"] = "changed later"

    assert metadata.headers == {"tenant": "acme"}
    with pytest.raises(ReadOnlyEventData):
        metadata.headers["tenant"] = "edited"  # type: ignore[index]
    with pytest.raises(TypeError):  # ReadOnlyEventData is a TypeError too
        metadata.headers["tenant"] = "edited"  # type: ignore[index]


@pytest.mark.parametrize(
    "bad", [{"at": object()}, {1: "int key"}, ["not", "an", "object"], "text"], ids=repr
)
def test_headers_that_are_not_a_json_object_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="metadata headers"):
        EventMetadata(headers=bad)


def test_headers_survive_json_lines_upcasting_and_the_log_frames(tmp_path: Path) -> None:
    store = InMemoryEventStore(clock=StepClock(), ids=SeededIds(0))
    CommandProcessor(store, User, ids=SeededIds(1)).process_command(
        CreateUser("ada", "ada@example.com", "Ada"), headers=HEADERS
    )
    path = tmp_path / "log.jsonl"
    write_jsonl(store.read_all(), path)

    [event] = read_jsonl(path)
    assert event.metadata.headers == HEADERS
    assert esteach.events.registry.upcast(event).metadata.headers == HEADERS
    assert events_frame(store)["headers"].tolist() == [HEADERS]
    rows = events_table(store).sql("SELECT headers->>'tenant' FROM events_log").fetchall()
    assert rows == [("acme",)]


def test_a_projection_handler_sees_the_headers() -> None:
    store = InMemoryEventStore(clock=StepClock(), ids=SeededIds(0))
    CommandProcessor(store, User, ids=SeededIds(1)).process_command(
        CreateUser("ada", "ada@example.com", "Ada"), headers=HEADERS
    )
    seen: list[Any] = []
    model = UserQueryModel(store)
    model.processor.register_event_handler(
        "UserCreated", lambda conn, event: seen.append(event.metadata.headers)
    )

    model.catch_up()

    assert seen == [HEADERS]


def test_a_duckdb_file_from_before_headers_gets_the_column_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))  # the table as an older esteach wrote it
    old_schema = "\n".join(line for line in SCHEMA.splitlines() if "headers" not in line)
    conn.execute(old_schema)
    conn.execute(
        "INSERT INTO events VALUES (1, 's', 1, 'e1', 'T', 'ItemAdded', TIMESTAMP '2024-01-01', "
        "'{\"n\": 1}', NULL, NULL, NULL, 'old', 1)"
    )
    conn.close()

    with pytest.raises(EventStoreError, match=r"older esteach .* without read_only"):
        DuckDBEventStore(path, read_only=True)
    with DuckDBEventStore(path) as store:
        assert store.read_all()[0].metadata.headers == {}
        store.append_events(
            "s", 1, [NewEvent("ItemAdded", metadata=EventMetadata(headers=HEADERS))]
        )
        assert store.read_all()[1].metadata.headers == HEADERS


# --- event type names: one per module, resolved for each aggregate -----------------------------


def define_learners_user() -> type[Aggregate]:
    """What a "build your own" notebook cell defines: its own UserCreated and User-like class."""

    @dataclass(frozen=True)
    class UserCreated(DomainEvent):  # the same business name as esteach's
        login: str

    @dataclass(frozen=True)
    class Register(Command):
        aggregate_id: str
        login: str

    class Member(Aggregate):
        def __init__(self, aggregate_id: str) -> None:
            super().__init__(aggregate_id)
            self.login = ""

        def handle_command(self, command: Any) -> list[DomainEvent]:
            return [UserCreated(command.login)]

        def apply_event(self, event: Any) -> None:
            self.login = event.login

    Member.register_command = Register  # type: ignore[attr-defined]
    return Member


def test_a_learners_user_created_and_esteachs_work_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh = EventRegistry()
    monkeypatch.setattr(esteach.events, "registry", fresh)
    fresh.register(esteach.domains.user.UserCreated)
    fresh.register(esteach.domains.user.UserEmailChanged)
    monkeypatch.setattr(User, "events", fresh)
    member_class = define_learners_user()
    define_learners_user()  # the defining cell run again: still fine
    member_class = define_learners_user()
    monkeypatch.setattr(member_class, "events", fresh)
    store = InMemoryEventStore()

    members = CommandProcessor(store, member_class)
    register = member_class.register_command  # type: ignore[attr-defined]
    members.process_command(register("m-1", "ada"))
    users = CommandProcessor(store, User)
    users.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
    users.process_command(ChangeEmail("u-1", "ada@lovelace.org"))

    assert [e.event_type for e in store.read_all()][:2] == ["UserCreated", "UserCreated"]
    assert members.load("m-1").login == "ada"  # type: ignore[attr-defined]
    assert users.load("u-1").email == "ada@lovelace.org"


def test_an_event_registered_twice_under_one_module_name_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh = EventRegistry()
    monkeypatch.setattr(esteach.events, "registry", fresh)

    @dataclass(frozen=True)
    class ParcelShipped(DomainEvent):
        parcel: str

    def another() -> None:
        @dataclass(frozen=True)
        class ParcelShipped(DomainEvent):  # another class of this module, same name
            box: str

    with pytest.raises(InvalidInput, match="already registered"):
        another()
    assert dataclasses.fields(fresh.get("ParcelShipped"))[0].name == "parcel"
