"""The bad-input catalogue: one test per row of the table in ``docs/bad-input.md``.

Each row says what input, where it goes in, and what comes back: an error (its class and a
message excerpt that names the problem) or, for input that only looks dangerous, the plain
answer. After every row the test checks that nothing was written: the store's head, its log,
the versions of its streams, the users read model's rows and its checkpoint are as before.

A world is a store (each kind, unless the row fails before any store is involved) holding a
user ``ada`` (created, renamed) and a stream ``order-1``; rows about the read side also get the
users read model, caught up.
Rows whose behaviour is a bug are marked ``xfail(strict=True)`` with the reason (none today): they
assert what a fixed esteach should answer, so they turn red (XPASS) once it does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from esteach import (
    CommandProcessor,
    DamagedFile,
    DuckDBEventStore,
    Event,
    EventMetadata,
    EventStore,
    EventStoreError,
    InMemoryEventStore,
    InvalidCommand,
    InvalidEventData,
    InvalidInput,
    NewEvent,
    SeededIds,
    StepClock,
    UnknownEventType,
    WrongExpectedVersion,
    load_sample,
)
from esteach.domains.account import DepositMoney
from esteach.domains.user import ChangeName, CreateUser, InvalidEmail, User
from esteach.projections import ProjectionError
from esteach.readmodels.users import UserQueryModel

CATALOGUE = Path(__file__).resolve().parent.parent / "docs" / "bad-input.md"
KINDS = ("memory", "duckdb-memory", "duckdb-file")
ONE = ("memory",)  # rows that fail before any store is involved run once
DUCKDB = ("duckdb-memory", "duckdb-file")
START = datetime(2024, 1, 1, tzinfo=UTC)

# --- the world each row runs in ------------------------------------------------------------


@dataclass
class World:
    store: EventStore
    users: CommandProcessor[User]
    maybe_model: UserQueryModel | None
    tmp: Path

    @property
    def model(self) -> UserQueryModel:
        assert self.maybe_model is not None, "give the row model=True"
        return self.maybe_model


@dataclass(frozen=True)
class State:
    head: int
    log: list[str]
    versions: dict[str, int]
    rows: list[tuple[Any, ...]] | None  # the read model's, when the row has one
    checkpoint: int | None


STREAMS = ("ada", "order-1", "ghost", "future", "typo", "half")


def state(world: World) -> State:
    model = world.maybe_model
    return State(
        world.store.head_position(),
        [e.id for e in world.store.read_all()],
        {s: world.store.stream_version(s) for s in STREAMS},
        None if model is None else model.processor.query("SELECT * FROM users ORDER BY id"),
        None if model is None else model.processor.query(CHECKPOINT, ["users"])[0][0],
    )


CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = ?"


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[[str, bool], World]]:
    opened: list[Any] = []

    def make(kind: str, with_model: bool) -> World:
        clock, ids = StepClock(START), SeededIds(5)
        store: EventStore
        if kind == "memory":
            store = InMemoryEventStore(clock=clock, ids=ids)
        elif kind == "duckdb-memory":
            store = DuckDBEventStore(":memory:", clock=clock, ids=ids)
        else:
            store = DuckDBEventStore(tmp_path / "events.duckdb", clock=clock, ids=ids)
        users = CommandProcessor(store, User, ids=SeededIds(6))
        users.process_command(CreateUser("ada", "ada@example.com", "Ada Lovelace"))
        users.process_command(ChangeName("ada", "Countess"))
        store.append_events("order-1", 0, [NewEvent("ItemAdded", {"sku": "A-1"}, "Order")])
        opened.append(store)
        model = None
        if with_model:  # a DuckDB database of its own: only rows that use it pay for it
            model = UserQueryModel(store)
            model.catch_up()
            opened.append(model)
        return World(store, users, model, tmp_path)

    yield make
    for thing in reversed(opened):
        thing.close()


# --- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the catalogue.

    ``act`` feeds the bad input in; ``error`` and ``match`` (a regex searched in the message)
    say what must come back, or ``check`` looks at the answer when the input is accepted.
    ``setup`` runs before the state is taken (e.g. to store an event of an unknown type);
    ``writes`` rows change the state on purpose and ``check`` says how; ``model`` rows get the
    users read model, caught up. ``bug`` names a bug, expected on the store kinds in ``bug_on``.
    """

    id: str
    act: Callable[[World], object]
    error: type[BaseException] | None = None
    match: str = ""
    check: Callable[[World, object, State], None] | None = None
    setup: Callable[[World], None] | None = None
    kinds: tuple[str, ...] = KINDS
    writes: bool = False
    model: bool = False
    bug: str = ""
    bug_on: tuple[str, ...] = KINDS


def append(stream: str, expected: Any, *events: NewEvent) -> Callable[[World], object]:
    return lambda w: w.store.append_events(stream, expected, list(events))


def append_data(data: Any) -> Callable[[World], object]:
    return lambda w: w.store.append_events("order-1", 1, [NewEvent("ItemAdded", data, "Order")])


def append_type(event_type: str) -> Callable[[World], object]:
    return lambda w: w.store.append_events("order-1", 1, [NewEvent(event_type, {}, "Order")])


def store_raw(
    stream: str, event_type: str, data: dict[str, Any], version: int = 1
) -> Callable[[World], None]:
    """Store an event straight in the log, as a buggy or newer writer might have."""

    def setup(world: World) -> None:
        metadata = EventMetadata(schema_version=version)
        world.store.append_events(stream, 0, [NewEvent(event_type, data, "User", metadata)])

    return setup


def a_text_file(name: str) -> Callable[[World], None]:
    def setup(world: World) -> None:
        (world.tmp / name).write_text("notes, not a database\n")

    return setup


def a_read_model_file(name: str) -> Callable[[World], None]:
    def setup(world: World) -> None:
        UserQueryModel(world.store, database=world.tmp / name).close()

    return setup


def nested(depth: int) -> dict[str, Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return {"deep": value}


def a_record(**changes: Any) -> dict[str, Any]:
    """A valid event record as ``write_jsonl`` writes it, with ``changes``."""
    record = Event(
        id="imp-1",
        aggregate_id="imported-1",
        aggregate_type="Order",
        event_type="ItemAdded",
        version=1,
        timestamp=START,
        data={"sku": "B-2"},
    ).to_dict()
    return record | changes


def load_lines(*lines: str | bytes) -> Callable[[World], object]:
    """``load_sample`` of a JSON Lines file whose lines are ``lines``."""

    def act(world: World) -> object:
        path = world.tmp / "log.jsonl"
        path.write_bytes(
            b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
        )
        return load_sample(world.store, path)

    return act


def returns(expected: Callable[[World, State], object]) -> Callable[[World, object, State], None]:
    def check(world: World, answer: object, before: State) -> None:
        assert answer == expected(world, before)

    return check


def user_round_trips(user_id: str, email: str, name: str) -> Callable[[World, object, State], None]:
    def check(world: World, answer: object, before: State) -> None:
        assert world.store.head_position() == before.head + 1  # one event, nothing else
        assert [e.id for e in world.store.read_all()][: before.head] == before.log
        (event,) = world.store.get_events(user_id)
        assert event.data == {"user_id": user_id, "email": email, "name": name}
        world.model.catch_up()
        view = world.model.get_user(user_id)
        assert view is not None and (view.id, view.email, view.name) == (user_id, email, name)
        assert world.model.count_users() == len(before.rows or []) + 1
        assert world.model.search_users(name[:4]) == [view]

    return check


def passed_over(world: World, answer: object, before: State) -> None:
    assert answer == 1  # one event applied: applying an event without a handler is nothing
    assert world.model.position == before.head
    assert state(world).rows == before.rows


SURROGATE = "\ud800"  # half of a UTF-16 pair: a str Python holds but no UTF-8 text can
ROWS: list[Row] = [
    # --- event data -------------------------------------------------------------------------
    Row(
        "data-not-an-object",
        append_data(["a", "b"]),
        InvalidEventData,
        r"data must be a dict \(a JSON object\), got list",
        kinds=ONE,
    ),
    Row(
        "data-datetime",
        append_data({"at": START}),
        InvalidEventData,
        r"data\['at'\] is datetime .*not JSON.*ISO 8601",
        kinds=ONE,
    ),
    Row(
        "data-decimal",
        append_data({"price": Decimal("9.99")}),
        InvalidEventData,
        r"data\['price'\] is Decimal Decimal\('9.99'\), which is not JSON",
        kinds=ONE,
    ),
    Row(
        "data-set",
        append_data({"tags": {"a"}}),
        InvalidEventData,
        r"data\['tags'\] is set .*not JSON",
        kinds=ONE,
    ),
    Row(
        "data-int-key",
        append_data({"by_id": {1: "one"}}),
        InvalidEventData,
        r"data\['by_id'\] has key 1 of type int: JSON object keys must be strings",
        kinds=ONE,
    ),
    Row(
        "data-nan",
        append_data({"ratio": float("nan")}),
        InvalidEventData,
        r"data\['ratio'\] is float nan: JSON has no NaN or infinity",
        kinds=ONE,
    ),
    Row(
        "data-infinity",
        append_data({"ratio": float("-inf")}),
        InvalidEventData,
        r"data\['ratio'\] is float -inf: JSON has no NaN or infinity",
        kinds=ONE,
    ),
    Row(
        "data-nested-too-deep",
        append_data(nested(1_000)),
        InvalidEventData,
        r"(?i)deep|nest",
    ),
    Row(
        "data-lone-surrogate",
        append_data({"note": f"a{SURROGATE}b"}),
        InvalidEventData,
        r"(?i)surrogate|unicode|utf-8",
    ),
    Row(
        "data-unicode",
        lambda w: w.users.process_command(
            CreateUser("zoë-名前", "zoë@exämple.com", "Zoë 名前 🧪 \u200b")
        ),
        check=user_round_trips("zoë-名前", "zoë@exämple.com", "Zoë 名前 🧪 \u200b"),
        writes=True,
        model=True,
    ),
    # --- malformed JSON: event logs read with load_sample / read_jsonl ---------------------
    Row(
        "jsonl-broken-json",
        load_lines(json.dumps(a_record()), '{"id": "imp-2", '),
        InvalidEventData,
        r"log\.jsonl, line 2: event record is not valid JSON",
        kinds=ONE,
    ),
    Row(
        "jsonl-not-an-object",
        load_lines("[1, 2]"),
        InvalidEventData,
        r"line 1: event record must be a JSON object, got \[1, 2\]",
        kinds=ONE,
    ),
    Row(
        "jsonl-missing-fields",
        load_lines('{"id": "imp-1"}'),
        InvalidEventData,
        r"line 1: event record has missing fields \['aggregate_id', ",
        kinds=ONE,
    ),
    Row(
        "jsonl-nan-literal",
        load_lines(json.dumps(a_record(data={"v": float("nan")}))),
        InvalidEventData,
        r"line 1: data\['v'\] is float nan: JSON has no NaN",
        kinds=ONE,
    ),
    Row(
        "jsonl-bad-timestamp",
        load_lines(json.dumps(a_record(timestamp="yesterday"))),
        InvalidEventData,
        r"line 1: timestamp 'yesterday' is not ISO 8601",
        kinds=ONE,
    ),
    Row(
        "jsonl-naive-timestamp",
        load_lines(json.dumps(a_record(timestamp="2024-01-01T00:00"))),
        InvalidEventData,
        r"line 1: timestamp '2024-01-01T00:00' has no UTC offset",
        kinds=ONE,
    ),
    Row(
        "jsonl-not-utf8",
        load_lines(b'{"id": "\xff\xfe"}'),
        InvalidEventData,
        r"line 1",
        kinds=ONE,
    ),
    # --- event types and schema versions ------------------------------------------------------
    Row(
        "event-type-type-path",
        append_type("esteach.domains.user.UserCreated"),
        InvalidEventData,
        r"event_type 'esteach\.domains\.user\.UserCreated' is not a business event name",
        kinds=ONE,
    ),
    Row(
        "event-type-unknown-on-load",
        lambda w: w.users.process_command(ChangeName("ghost", "X")),
        UnknownEventType,
        r"unknown event type 'UserTeleported': no domain event class",
        setup=store_raw("ghost", "UserTeleported", {"to": "Mars"}),
    ),
    Row(
        "event-type-unknown-in-read-model",
        lambda w: w.model.catch_up(),
        check=passed_over,
        setup=store_raw("ghost", "UserTeleported", {"to": "Mars"}),
        writes=True,
        model=True,
    ),
    Row(
        "schema-version-unknown-on-load",
        lambda w: w.users.process_command(ChangeName("future", "X")),
        InvalidEventData,
        r"UserCreated event \S+ is at schema version 9, newer than its class",
        setup=store_raw(
            "future",
            "UserCreated",
            {"user_id": "future", "email": "f@example.com", "name": "F"},
            version=9,
        ),
    ),
    Row(
        "schema-version-unknown-in-read-model",
        lambda w: w.model.catch_up(),
        ProjectionError,
        r"upcasting failed on UserCreated at position 4 .*schema version 9, newer than its class",
        setup=store_raw(
            "future",
            "UserCreated",
            {"user_id": "future", "email": "f@example.com", "name": "F"},
            version=9,
        ),
        model=True,
    ),
    Row(
        "schema-version-zero",
        lambda w: EventMetadata(schema_version=0),
        InvalidInput,
        r"metadata schema_version must be an int >= 1, got 0",
        kinds=ONE,
    ),
    Row(
        "event-data-wrong-field-type",
        lambda w: w.users.process_command(ChangeName("typo", "X")),
        InvalidEventData,
        r"UserCreated\.email must be str, got int 5",
        setup=store_raw("typo", "UserCreated", {"user_id": "typo", "email": 5, "name": "T"}),
    ),
    Row(
        "event-data-missing-field-in-read-model",
        lambda w: w.model.catch_up(),
        ProjectionError,
        r"on_user_events failed on UserCreated at position 4 \(stream 'half', version 1\): "
        r"KeyError: 'email'",
        setup=store_raw("half", "UserCreated", {"user_id": "half", "name": "H"}),
        model=True,
    ),
    # --- commands ------------------------------------------------------------------------------
    Row(
        "command-wrong-field-type",
        lambda w: CreateUser("bob", 42, "Bob"),  # type: ignore[arg-type]
        InvalidCommand,
        r"CreateUser\.email must be str, got int 42",
        kinds=ONE,
    ),
    Row(
        "command-none-field",
        lambda w: CreateUser("bob", "bob@example.com", None),  # type: ignore[arg-type]
        InvalidCommand,
        r"CreateUser\.name must be str, got NoneType None",
        kinds=ONE,
    ),
    Row(
        "command-nan-amount",
        lambda w: DepositMoney("acc-1", float("nan")),  # type: ignore[arg-type]
        InvalidCommand,
        r"DepositMoney\.amount must be int, got float nan",
        kinds=ONE,
    ),
    Row(
        "command-invalid-email",
        lambda w: w.users.process_command(CreateUser("bob", "bob-at-example", "Bob")),
        InvalidEmail,
        r"'bob-at-example' is not a valid email address",
    ),
    # --- ids --------------------------------------------------------------------------------------
    Row(
        "stream-id-empty",
        lambda w: CreateUser("", "e@example.com", "E"),
        InvalidCommand,
        r"CreateUser\.user_id: aggregate_id must not be empty or blank",
        kinds=ONE,
    ),
    Row(
        "stream-id-too-long",
        lambda w: w.store.append_events("x" * 257, 0, [NewEvent("ItemAdded")]),
        InvalidInput,
        r"aggregate_id is 257 characters long; at most 256 allowed",
    ),
    Row(
        "stream-id-lone-surrogate",
        append(f"order-{SURROGATE}", 0, NewEvent("ItemAdded")),
        InvalidInput,
        r"(?i)surrogate|unicode|utf-8",
    ),
    Row(
        "stream-id-sql-metacharacters",
        lambda w: w.users.process_command(
            CreateUser("'; DROP TABLE events; --", "drop@example.com", "Robert'); --")
        ),
        check=user_round_trips("'; DROP TABLE events; --", "drop@example.com", "Robert'); --"),
        writes=True,
        model=True,
    ),
    Row(
        "event-id-empty",
        lambda w: NewEvent("ItemAdded", {}, id=""),
        InvalidInput,
        r"event id must be a non-empty str.*got ''",
        kinds=ONE,
    ),
    Row(
        "event-id-huge",
        lambda w: w.store.append_events("order-1", 1, [NewEvent("ItemAdded", id="e" * 10_000)]),
        InvalidInput,
        r"(?i)event id .*(long|at most)",
    ),
    Row(
        "event-id-control-characters",
        lambda w: w.store.append_events("order-1", 1, [NewEvent("ItemAdded", id="evt\n1")]),
        InvalidInput,
        r"(?i)event id .*control",
    ),
    # --- searches and reads of the read model ---------------------------------------------
    Row(
        "search-sql-metacharacters",
        lambda w: (
            w.model.search_users("'; DROP TABLE users; --"),
            w.model.search_users("Countess' OR '1'='1"),
            w.model.count_users(),
        ),
        check=returns(lambda w, before: ([], [], len(before.rows or []))),
        model=True,
    ),
    Row(
        "search-not-a-str",
        lambda w: w.model.search_users(None),  # type: ignore[arg-type]
        InvalidInput,
        r"query must be a str, got NoneType None",
        model=True,
    ),
    Row(
        "search-lone-surrogate",
        lambda w: w.model.search_users(SURROGATE),
        InvalidInput,
        r"(?i)surrogate|unicode|utf-8",
        model=True,
    ),
    Row(
        "get-user-not-a-str",
        lambda w: w.model.get_user(7),  # type: ignore[arg-type]
        InvalidInput,
        r"user_id must be a str, got int 7",
        model=True,
    ),
    # --- expected versions --------------------------------------------------------------------
    Row(
        "expected-version-behind",
        append("order-1", 0, NewEvent("ItemAdded")),
        WrongExpectedVersion,
        r"stream 'order-1': expected 0, but the stream is at version 1",
    ),
    Row(
        "expected-version-ahead",
        append("order-1", 5, NewEvent("ItemAdded")),
        WrongExpectedVersion,
        r"expected 5, but the stream is at version 1",
    ),
    Row(
        "expected-version-huge",
        append("order-1", 2**70, NewEvent("ItemAdded")),
        WrongExpectedVersion,
        r"expected 1180591620717411303424, but the stream is at version 1",
    ),
    Row(
        "expected-version-negative",
        append("order-1", -1, NewEvent("ItemAdded")),
        InvalidInput,
        r"expected_version must be an int >= 0 \(0 = new stream\), 'any', 'no_stream' or "
        r"'stream_exists'; got -1",
    ),
    Row(
        "expected-version-nan",
        append("order-1", float("nan"), NewEvent("ItemAdded")),
        InvalidInput,
        r"expected_version must be an int >= 0 .*got nan",
    ),
    # --- pages and positions ----------------------------------------------------------------
    Row(
        "page-zero",
        lambda w: w.model.list_users(0),
        InvalidInput,
        r"page must be an int >= 1 \(pages start at 1\), got int 0",
        model=True,
    ),
    Row(
        "page-size-over-max",
        lambda w: w.model.list_users(1, 101),
        InvalidInput,
        r"page_size must be an int from 1 to 100, got int 101",
        model=True,
    ),
    Row(
        "page-nan",
        lambda w: w.model.search_users("a", float("nan")),  # type: ignore[arg-type]
        InvalidInput,
        r"page must be an int >= 1 .*got float nan",
        model=True,
    ),
    Row(
        "page-beyond-the-last",
        lambda w: w.model.list_users(10**30, 100),
        check=returns(lambda w, before: []),
        model=True,
    ),
    Row(
        "position-beyond-the-head",
        lambda w: (
            w.store.read_all(2**70),
            w.store.get_events("ada", 2**70),
            w.store.get_events_by_type("ItemAdded", from_position=2**70),
        ),
        check=returns(lambda w, before: ([], [], [])),
    ),
    Row(
        "read-all-huge-limit",
        lambda w: len(w.store.read_all(limit=2**70)),
        check=returns(lambda w, before: before.head),
    ),
    Row(
        "events-by-type-huge-limit",
        lambda w: len(w.store.get_events_by_type("ItemAdded", limit=2**70)),
        check=returns(lambda w, before: 1),
    ),
    # --- opening a DuckDB event store ---------------------------------------------------------
    Row(
        "open-not-a-database",
        lambda w: DuckDBEventStore(w.tmp / "notes.txt"),
        DamagedFile,
        r"cannot open DuckDB file .*is damaged.*backup.*not a valid DuckDB database file",
        kinds=ONE,
        setup=a_text_file("notes.txt"),
    ),
    Row(
        "open-read-only-missing-file",
        lambda w: DuckDBEventStore(w.tmp / "missing.duckdb", read_only=True),
        EventStoreError,
        r"Cannot open database .*missing\.duckdb.* in read-only mode: database does not exist",
        kinds=ONE,
    ),
    Row(
        "open-read-only-not-an-event-store",
        lambda w: DuckDBEventStore(w.tmp / "users.duckdb", read_only=True),
        EventStoreError,
        r"(?i)events table|not an event store",
        kinds=ONE,
        setup=a_read_model_file("users.duckdb"),
    ),
]


def params() -> list[Any]:
    found = []
    for row in ROWS:
        for kind in row.kinds:
            marks = []
            if row.bug and kind in row.bug_on:
                marks.append(pytest.mark.xfail(strict=True, reason=row.bug))
            name = row.id if len(row.kinds) == 1 else f"{row.id}-{kind}"
            found.append(pytest.param(row, kind, id=name, marks=marks))
    return found


@pytest.mark.parametrize(("row", "kind"), params())
def test_bad_input(row: Row, kind: str, make_world: Callable[[str, bool], World]) -> None:
    world = make_world(kind, row.model)
    if row.setup is not None:
        row.setup(world)
    before = state(world)

    if row.error is not None:
        with pytest.raises(row.error) as raised:
            row.act(world)
        message = str(raised.value)
        assert re.search(row.match, message), f"{message!r} does not match {row.match!r}"
        assert len(message) < 2_000, "an error message should be read, not scrolled"
    else:
        answer = row.act(world)
        assert row.check is not None
        row.check(world, answer, before)

    if not row.writes:
        assert state(world) == before, "a refused input left a trace"


# --- the catalogue in the docs and this list agree -------------------------------------------


def catalogue_rows() -> dict[str, str]:
    rows = {}
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        found = re.match(r"\|\s*`([a-z0-9-]+)`\s*\|", line)
        if found:
            rows[found.group(1)] = line
    return rows


def test_the_catalogue_in_the_docs_has_exactly_these_rows_in_this_order() -> None:
    assert list(catalogue_rows()) == [row.id for row in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_catalogue_row_names_the_error_class_and_marks_bugs(row: Row) -> None:
    line = catalogue_rows()[row.id]
    if row.error is not None and not row.bug:
        assert f"`{row.error.__name__}`" in line, line
    assert ("**bug**" in line.lower()) == bool(row.bug), line
