"""The write side: metadata, results, retries on conflict, per-aggregate locks, many threads.

Every test that touches a store runs against each store through the ``store`` fixture.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from racing import in_threads

from esteach import (
    Aggregate,
    AggregateLocks,
    Command,
    CommandProcessor,
    ConcurrencyConflict,
    DomainError,
    DomainEvent,
    DuckDBEventStore,
    Event,
    EventStore,
    InMemoryEventStore,
    InvalidCommand,
    InvalidInput,
    NewEvent,
    WrongExpectedVersion,
)
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserAlreadyExists,
    UserNotActive,
    UserNotFound,
)

T = TypeVar("T")

# --- stores ----------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "duckdb-memory", "duckdb-file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    made: EventStore
    if request.param == "memory":
        made = InMemoryEventStore()
    elif request.param == "duckdb-memory":
        made = DuckDBEventStore(":memory:")
    else:
        made = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    yield made
    made.close()


class InterferingStore:
    """A real store, except that another writer appends to the stream just before each of the
    first ``conflicts`` appends, so the append it wraps meets a stream that moved on."""

    def __init__(self, inner: EventStore, conflicts: int, new_name: Callable[[int], str]) -> None:
        self.inner = inner
        self.remaining = conflicts
        self.new_name = new_name
        self.appends_tried = 0
        self.interfered = 0

    def append_events(
        self, aggregate_id: str, expected_version: Any, events: Sequence[NewEvent]
    ) -> list[Event]:
        self.appends_tried += 1
        if self.remaining > 0:
            self.remaining -= 1
            self.interfered += 1
            other = NewEvent(
                "UserNameChanged", {"new_name": self.new_name(self.interfered)}, "User"
            )
            self.inner.append_events(aggregate_id, self.inner.stream_version(aggregate_id), [other])
        return self.inner.append_events(aggregate_id, expected_version, events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingIds:
    """An id factory that remembers what it handed out."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.issued.append(f"id-{len(self.issued) + 1}")
            return self.issued[-1]


# --- a test-only aggregate whose one command records several events ---------------------------


@dataclass(frozen=True)
class TallyCommand(Command):
    id_field = "tally_id"


@dataclass(frozen=True)
class AddMarks(TallyCommand):
    tally_id: str
    count: int


@dataclass(frozen=True)
class MarkAdded(DomainEvent):
    schema_version = 2  # not the default, so a hard-coded 1 in the processor shows up
    number: int


class Tally(Aggregate):
    command_types = (TallyCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.marks = 0

    def handle_command(self, command: AddMarks) -> list[DomainEvent]:
        if command.count < 0:
            raise DomainError("count must not be negative")
        return [MarkAdded(self.marks + i) for i in range(1, command.count + 1)]

    def apply_event(self, event: Any) -> None:
        self.marks = event.number


def create(processor: CommandProcessor[Any], user_id: str = "u-1") -> None:
    processor.process_command(CreateUser(user_id, f"{user_id}@example.com", "Ada"))


# --- metadata --------------------------------------------------------------------------------


def test_correlation_and_causation_default_to_one_fresh_id_per_command(store: EventStore) -> None:
    ids = RecordingIds()
    processor = CommandProcessor(store, Tally, ids=ids)
    first = processor.process_command(AddMarks("t-1", 3))
    second = processor.process_command(AddMarks("t-1", 2))
    event_ids = {event.id for event in first.events + second.events}
    assert len(event_ids) == 5
    correlations = []
    for result in (first, second):
        metadata = {(e.metadata.correlation_id, e.metadata.causation_id) for e in result.events}
        assert len(metadata) == 1  # the same ids on every event of one command
        ((correlation, causation),) = metadata
        assert correlation == causation
        assert correlation in ids.issued  # fresh from the processor's id factory ...
        assert correlation not in event_ids  # ... and not borrowed from an event
        correlations.append(correlation)
    assert correlations[0] != correlations[1]
    stored = [e.metadata.correlation_id for e in store.get_events("t-1")]
    assert stored == [correlations[0]] * 3 + [correlations[1]] * 2


def test_explicit_correlation_causation_and_user_ids_reach_every_event(store: EventStore) -> None:
    processor = CommandProcessor(store, Tally)
    result = processor.process_command(
        AddMarks("t-1", 3), correlation_id="req-42", causation_id="msg-7", user_id="alice"
    )
    for events in (result.events, store.get_events("t-1")):
        assert len(events) == 3
        for event in events:
            assert event.metadata.correlation_id == "req-42"
            assert event.metadata.causation_id == "msg-7"
            assert event.metadata.user_id == "alice"


def test_an_explicit_correlation_id_alone_keeps_a_fresh_causation_id(store: EventStore) -> None:
    ids = RecordingIds()
    processor = CommandProcessor(store, User, ids=ids)
    result = processor.process_command(
        CreateUser("u-1", "ada@example.com", "Ada"), correlation_id="req-42"
    )
    (event,) = result.events
    assert event.metadata.correlation_id == "req-42"
    assert event.metadata.causation_id in ids.issued
    assert event.metadata.causation_id != event.id


def test_user_id_is_empty_unless_given(store: EventStore) -> None:
    processor = CommandProcessor(store, User)
    create(processor)
    result = processor.process_command(ChangeName("u-1", "Countess"), user_id="admin")
    assert [e.metadata.user_id for e in store.get_events("u-1")] == [None, "admin"]
    assert result.events[0].metadata.user_id == "admin"


def test_source_names_the_processor(store: EventStore) -> None:
    create(CommandProcessor(store, User))
    CommandProcessor(store, User, source="signup-form").process_command(
        ChangeName("u-1", "Countess")
    )
    assert [e.metadata.source for e in store.get_events("u-1")] == [
        "command_processor",
        "signup-form",
    ]


def test_schema_version_comes_from_the_domain_event_class(store: EventStore) -> None:
    CommandProcessor(store, Tally).process_command(AddMarks("t-1", 2))
    create(CommandProcessor(store, User))
    assert [e.metadata.schema_version for e in store.get_events("t-1")] == [2, 2]
    assert [e.metadata.schema_version for e in store.get_events("u-1")] == [1]


def test_events_carry_the_aggregate_type_and_business_event_names(store: EventStore) -> None:
    processor = CommandProcessor(store, User)
    create(processor)
    processor.process_command(ChangeEmail("u-1", "ada@lovelace.org"))
    processor.process_command(ChangeName("u-1", "Countess"))
    processor.process_command(DeactivateUser("u-1"))
    events = store.get_events("u-1")
    assert [e.aggregate_type for e in events] == ["User"] * 4
    assert [e.event_type for e in events] == [
        "UserCreated",
        "UserEmailChanged",
        "UserNameChanged",
        "UserDeactivated",
    ]
    assert [e.data for e in events] == [
        {"user_id": "u-1", "email": "u-1@example.com", "name": "Ada"},
        {"new_email": "ada@lovelace.org"},
        {"new_name": "Countess"},
        {},
    ]
    assert [e.event_type for e in store.get_events_by_type("UserNameChanged")] == [
        "UserNameChanged"
    ]
    (mark,) = CommandProcessor(store, Tally).process_command(AddMarks("t-1", 1)).events
    assert (mark.aggregate_type, mark.event_type) == ("Tally", "MarkAdded")


# --- the result ------------------------------------------------------------------------------


def test_the_result_holds_the_recorded_events_version_position_and_attempts(
    store: EventStore,
) -> None:
    processor = CommandProcessor(store, Tally)
    first = processor.process_command(AddMarks("t-1", 2))
    CommandProcessor(store, User).process_command(CreateUser("u-1", "a@b.co", "A"))
    second = processor.process_command(AddMarks("t-1", 3))

    assert first.aggregate_id == second.aggregate_id == "t-1"
    assert first.events + second.events == store.get_events("t-1")
    assert (first.version, second.version) == (2, 5)
    assert [e.version for e in second.events] == [3, 4, 5]
    assert [e.data["number"] for e in second.events] == [3, 4, 5]
    assert first.position == first.events[-1].global_position
    assert second.position == second.events[-1].global_position == store.head_position()
    assert first.position is not None and second.position > first.position + 1  # u-1 between
    assert (first.attempts, second.attempts) == (1, 1)


def test_a_no_op_command_appends_nothing(store: EventStore) -> None:
    processor = CommandProcessor(store, User)
    create(processor)
    head = store.head_position()
    result = processor.process_command(ChangeEmail("u-1", "u-1@example.com"))
    assert result.events == []
    assert result.position is None
    assert (result.version, result.attempts) == (1, 1)
    assert store.head_position() == head
    assert store.stream_version("u-1") == 1
    assert CommandProcessor(store, Tally).process_command(AddMarks("t-1", 0)).version == 0
    assert store.stream_version("t-1") == 0


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (ChangeName("u-9", "Ada"), UserNotFound),
        (CreateUser("u-1", "bob@example.com", "Bob"), UserAlreadyExists),
        (ChangeEmail("u-1", "not-an-email"), DomainError),
    ],
    ids=["not-found", "already-exists", "invalid-email"],
)
def test_a_rejected_command_writes_nothing(
    store: EventStore, command: Command, error: type[Exception]
) -> None:
    processor = CommandProcessor(store, User)
    create(processor)
    head = store.head_position()
    with pytest.raises(error):
        processor.process_command(command)
    assert store.head_position() == head
    assert store.read_all() == store.get_events("u-1")
    assert len(store.read_all()) == 1


def test_bad_metadata_writes_nothing(store: EventStore) -> None:
    processor = CommandProcessor(store, User)
    with pytest.raises(InvalidInput, match="user_id"):
        processor.process_command(
            CreateUser("u-1", "a@b.co", "A"),
            user_id=42,  # type: ignore[arg-type]
        )
    assert store.head_position() == 0


def test_a_non_command_is_refused(store: EventStore) -> None:
    processor = CommandProcessor(store, User)
    with pytest.raises(InvalidCommand, match="expected a Command, got dict"):
        processor.process_command({"user_id": "u-1"})  # type: ignore[arg-type]
    assert store.head_position() == 0


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_max_retries_must_be_an_int_not_below_zero(bad: object) -> None:
    with pytest.raises(InvalidInput, match=f"max_retries must be an int >= 0, got {bad!r}"):
        CommandProcessor(InMemoryEventStore(), User, max_retries=bad)  # type: ignore[arg-type]


# --- retries after a conflict ----------------------------------------------------------------


@pytest.mark.parametrize("conflicts", [1, 2, 3])
def test_a_conflict_makes_the_processor_reload_and_retry(store: EventStore, conflicts: int) -> None:
    create(CommandProcessor(store, User))
    racing = InterferingStore(store, conflicts, lambda n: f"other-{n}")
    processor = CommandProcessor(racing, User, max_retries=3)  # type: ignore[arg-type]
    result = processor.process_command(ChangeName("u-1", "Countess"), correlation_id="mine")

    assert result.attempts == conflicts + 1 == racing.appends_tried
    assert result.version == 1 + conflicts + 1
    names = [e.data.get("new_name") for e in store.get_events("u-1")]
    assert names == [None] + [f"other-{n}" for n in range(1, conflicts + 1)] + ["Countess"]
    correlations = [e.metadata.correlation_id for e in store.get_events("u-1", 2)]
    assert correlations == [None] * conflicts + ["mine"]  # the other writer's, then its own
    assert result.events == store.get_events("u-1", result.version)


def test_a_retry_decides_again_from_the_new_state(store: EventStore) -> None:
    create(CommandProcessor(store, User))
    racing = InterferingStore(store, 1, lambda n: "Countess")  # the other writer did it already
    processor = CommandProcessor(racing, User)  # type: ignore[arg-type]
    result = processor.process_command(ChangeName("u-1", "Countess"))
    assert (result.events, result.version, result.attempts) == ([], 2, 2)
    assert store.stream_version("u-1") == 2


def test_a_retry_can_be_rejected_by_a_rule_the_new_state_breaks(store: EventStore) -> None:
    processor = CommandProcessor(store, User)
    create(processor)

    class DeactivatesFirst(InterferingStore):
        def append_events(self, aggregate_id: str, expected: Any, events: Any) -> list[Event]:
            self.appends_tried += 1
            if self.remaining > 0:
                self.remaining -= 1
                processor.process_command(DeactivateUser(aggregate_id))
            return self.inner.append_events(aggregate_id, expected, events)

    racing = DeactivatesFirst(store, 1, str)
    with pytest.raises(UserNotActive):
        CommandProcessor(racing, User).process_command(ChangeName("u-1", "Countess"))  # type: ignore[arg-type]
    assert [e.event_type for e in store.get_events("u-1")] == ["UserCreated", "UserDeactivated"]


@pytest.mark.parametrize(("max_retries", "conflicts"), [(0, 1), (2, 3), (3, 10)])
def test_more_conflicts_than_max_retries_raise_and_write_nothing(
    store: EventStore, max_retries: int, conflicts: int
) -> None:
    create(CommandProcessor(store, User))
    racing = InterferingStore(store, conflicts, lambda n: f"other-{n}")
    processor = CommandProcessor(racing, User, max_retries=max_retries)  # type: ignore[arg-type]
    with pytest.raises(ConcurrencyConflict) as raised:
        processor.process_command(ChangeName("u-1", "Countess"), correlation_id="mine")

    attempts = max_retries + 1
    conflict = raised.value
    assert isinstance(conflict, WrongExpectedVersion)  # callers catching the base still see it
    assert conflict.attempts == attempts == racing.appends_tried
    assert conflict.aggregate_id == "u-1"
    # Its last attempt read version `attempts` (the creation and attempts - 1 other changes),
    # and the other writer had just moved the stream one further.
    assert (conflict.expected, conflict.actual) == (attempts, attempts + 1)
    assert f"gave up on stream 'u-1' after {attempts} attempts" in str(conflict)
    assert "Nothing was written" in str(conflict)
    events = store.get_events("u-1")
    assert len(events) == 1 + attempts  # the user's creation and the other writer's changes
    assert all(e.metadata.correlation_id != "mine" for e in events)
    assert "Countess" not in {e.data.get("new_name") for e in events}


# --- AggregateLocks --------------------------------------------------------------------------


def start(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def users_of(locks: AggregateLocks, aggregate_id: str) -> int:
    """How many threads hold or wait for ``aggregate_id`` (peeks at the lock map)."""
    with locks._mutex:
        return locks._locks.get(aggregate_id, (threading.Lock(), 0))[1]


def test_the_same_id_is_held_by_one_thread_at_a_time() -> None:
    locks = AggregateLocks()
    order: list[str] = []
    a_inside, release_a, b_waiting = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with locks.hold("u-1"):
            order.append("a-in")
            a_inside.set()
            assert release_a.wait(5)
            order.append("a-out")

    def b() -> None:
        b_waiting.set()
        with locks.hold("u-1"):
            order.append("b-in")
        order.append("b-out")

    thread_a = start(a)
    assert a_inside.wait(5)
    thread_b = start(b)
    assert b_waiting.wait(5)
    # Wait until b is queued on u-1's lock (the map counts it as a second user) ...
    deadline = time.monotonic() + 5
    while users_of(locks, "u-1") < 2:
        assert time.monotonic() < deadline, "b never asked for u-1"
        time.sleep(0.001)  # polling a condition, not hoping a duration is enough
    # ... then b must still be outside while a holds the lock.
    assert order == ["a-in"]
    release_a.set()
    thread_a.join(5)
    thread_b.join(5)
    assert order == ["a-in", "a-out", "b-in", "b-out"]
    assert len(locks) == 0


def test_many_threads_on_one_id_never_overlap() -> None:
    locks = AggregateLocks()
    inside = 0
    overlaps = 0
    total = 0
    guard = threading.Lock()  # protects only the counters, not the critical section under test
    barrier = threading.Barrier(8)

    def work() -> None:
        nonlocal inside, overlaps, total
        barrier.wait(5)
        for _ in range(200):
            with locks.hold("u-1"):
                with guard:
                    inside += 1
                    overlaps += inside > 1
                # An unprotected read-modify-write: lost updates show if the lock fails.
                seen = total
                if seen % 20 == 0:
                    time.sleep(0)  # invite a thread switch inside the critical section
                total = seen + 1
                with guard:
                    inside -= 1

    threads = [start(work) for _ in range(8)]
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert (overlaps, total) == (0, 8 * 200)
    assert len(locks) == 0


def test_different_ids_do_not_block_each_other() -> None:
    locks = AggregateLocks()
    other_done = threading.Event()

    def other() -> None:
        with locks.hold("u-2"):
            assert len(locks) == 2
        other_done.set()

    with locks.hold("u-1"):
        thread = start(other)
        # A timeout here means u-2 waited for u-1's lock: a failure, not a synchronisation.
        assert other_done.wait(5), "holding u-1 blocked a thread that wanted u-2"
        assert len(locks) == 1
    thread.join(5)
    assert len(locks) == 0


def test_the_lock_map_is_empty_after_use() -> None:
    locks = AggregateLocks()
    assert len(locks) == 0
    with locks.hold("u-1"):
        assert len(locks) == 1
        with locks.hold("u-2"):
            assert len(locks) == 2
        assert len(locks) == 1
    assert len(locks) == 0
    for i in range(100):
        with locks.hold(f"u-{i}"):
            pass
    assert len(locks) == 0


def test_the_lock_is_freed_and_the_map_emptied_after_an_exception() -> None:
    locks = AggregateLocks()
    with pytest.raises(RuntimeError, match="boom"), locks.hold("u-1"):
        raise RuntimeError("boom")
    assert len(locks) == 0
    acquired = threading.Event()

    def again() -> None:
        with locks.hold("u-1"):
            acquired.set()

    thread = start(again)
    assert acquired.wait(5), "u-1 stayed locked after an exception inside hold()"
    thread.join(5)
    assert len(locks) == 0


def test_a_waiter_gets_the_lock_when_the_holder_raises() -> None:
    locks = AggregateLocks()
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    got_in = threading.Event()

    def holder() -> None:
        try:
            with locks.hold("u-1"):
                holding.set()
                release.wait(5)
                raise RuntimeError("boom")
        except RuntimeError as exc:
            errors.append(exc)

    def waiter() -> None:
        with locks.hold("u-1"):
            got_in.set()

    first = start(holder)
    assert holding.wait(5)
    second = start(waiter)
    release.set()
    assert got_in.wait(5)
    first.join(5)
    second.join(5)
    assert [str(e) for e in errors] == ["boom"]
    assert len(locks) == 0


# --- many threads ----------------------------------------------------------------------------

THREADS = 8


def per_thread(store: EventStore) -> int:
    """Commands each thread sends. A DuckDB commit takes milliseconds, and with eight writers
    on one stream most attempts conflict and retry, so DuckDB gets fewer to stay fast."""
    return 25 if isinstance(store, InMemoryEventStore) else 8


def check_log(store: EventStore, sent: dict[str, list[str]], results: list[list[Any]]) -> list[Any]:
    """Every name sent to every stream is recorded exactly once, after its stream's creation,
    in contiguous versions; global positions strictly increase; results match the store."""
    for stream, names in sent.items():
        events = store.get_events(stream)
        assert [e.version for e in events] == list(range(1, len(names) + 2)), stream
        assert events[0].event_type == "UserCreated"
        recorded = [e.data["new_name"] for e in events[1:]]
        assert Counter(recorded) == Counter(names), stream  # each exactly once, nothing else
        assert len(recorded) == len(set(recorded))
    positions = [e.global_position for e in store.read_all()]
    assert positions == sorted(set(positions)), "global positions not strictly increasing"
    assert len(positions) == sum(len(names) + 1 for names in sent.values())
    flat = [result for sent_by_one in results for result in sent_by_one]
    by_id = {e.id: e for e in store.read_all()}
    for result in flat:
        (event,) = result.events
        assert by_id[event.id] == event
        assert result.version == event.version
    return flat


def test_threads_through_one_processor_record_every_event_once(store: EventStore) -> None:
    processor = CommandProcessor(store, User, max_retries=1000)
    create(processor)
    names = {t: [f"t{t}-{i}" for i in range(per_thread(store))] for t in range(THREADS)}

    results = in_threads(
        THREADS, lambda t: [processor.process_command(ChangeName("u-1", n)) for n in names[t]]
    )
    flat = check_log(store, {"u-1": [n for t in names for n in names[t]]}, results)
    for sent_by_one in results:  # one thread's commands land in the order it sent them
        versions = [r.version for r in sent_by_one]
        assert versions == sorted(versions)
    assert sum(r.attempts for r in flat) >= len(flat)


def test_threads_through_their_own_processors_on_one_store_record_every_event_once(
    store: EventStore,
) -> None:
    processors = [CommandProcessor(store, User, max_retries=1000) for _ in range(THREADS)]
    create(processors[0])
    names = {t: [f"t{t}-{i}" for i in range(per_thread(store))] for t in range(THREADS)}

    results = in_threads(
        THREADS,
        lambda t: [processors[t].process_command(ChangeName("u-1", n)) for n in names[t]],
    )
    check_log(store, {"u-1": [n for t in names for n in names[t]]}, results)


SHARED_STREAMS = ["shared-0", "shared-1", "shared-2"]


def own_streams(thread: int) -> list[str]:
    return [f"own-{thread}-0", f"own-{thread}-1"]


def many_stream_plan(count: int) -> dict[int, list[tuple[str, str]]]:
    """For each thread, the (stream, new name) pairs it sends: own streams and shared ones."""
    plan = {}
    for t in range(THREADS):
        streams = own_streams(t) + SHARED_STREAMS
        plan[t] = [(streams[i % len(streams)], f"t{t}-{i}") for i in range(count)]
    return plan


def sent_per_stream(plan: dict[int, list[tuple[str, str]]]) -> dict[str, list[str]]:
    sent: dict[str, list[str]] = {}
    for pairs in plan.values():
        for stream, name in pairs:
            sent.setdefault(stream, []).append(name)
    return sent


@pytest.mark.parametrize("shared_processor", [True, False], ids=["one-processor", "8-processors"])
def test_threads_on_many_streams_record_every_event_once(
    store: EventStore, shared_processor: bool
) -> None:
    one = CommandProcessor(store, User, max_retries=1000)
    processors = [
        one if shared_processor else CommandProcessor(store, User, max_retries=1000)
        for _ in range(THREADS)
    ]
    plan = many_stream_plan(per_thread(store))
    sent = sent_per_stream(plan)
    for stream in sent:
        create(one, stream)

    results = in_threads(
        THREADS,
        lambda t: [processors[t].process_command(ChangeName(s, n)) for s, n in plan[t]],
    )
    check_log(store, sent, results)


@pytest.mark.parametrize("many_streams", [False, True], ids=["one-stream", "many-streams"])
def test_with_a_lock_per_aggregate_no_command_needs_a_retry(
    store: EventStore, many_streams: bool
) -> None:
    processor = CommandProcessor(store, User, max_retries=1000, lock_per_aggregate=True)
    count = per_thread(store)
    if many_streams:
        plan = many_stream_plan(count)
    else:
        plan = {t: [("u-1", f"t{t}-{i}") for i in range(count)] for t in range(THREADS)}
    sent = sent_per_stream(plan)
    for stream in sent:
        create(processor, stream)

    results = in_threads(
        THREADS,
        lambda t: [processor.process_command(ChangeName(s, n)) for s, n in plan[t]],
    )
    flat = check_log(store, sent, results)
    assert sum(r.attempts for r in flat) == len(flat) == THREADS * per_thread(store)
    assert processor.locks is not None and len(processor.locks) == 0


def test_a_second_processor_reusing_a_seed_cannot_pass_a_new_command_off_as_a_retry() -> None:
    # Two id factories with one seed hand out the same ids: a new deposit that happens to get
    # the id, type and data of an earlier one must not be taken for a retry of it.
    from esteach import DuplicateEventId, SeededIds
    from esteach.domains.account import BankAccount, DepositMoney, OpenAccount

    store = InMemoryEventStore()
    first = CommandProcessor(store, BankAccount, ids=SeededIds(1))
    first.process_command(OpenAccount("acc", "ada"))
    first.process_command(DepositMoney("acc", 100))
    again = CommandProcessor(store, BankAccount, ids=SeededIds(1))
    again._ids()  # the first processor's first command id
    again._ids()  # and the id of its OpenAccount event: the deposit's ids come next
    with pytest.raises(DuplicateEventId, match="same seed"):
        again.process_command(DepositMoney("acc", 100))
    assert [e.version for e in store.get_events("acc")] == [1, 2]
