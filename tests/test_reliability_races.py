"""Races: threads appending to one stream and to many, directly and through CommandProcessor.

``tests/test_command_processor.py`` races single-event commands through processors. Here the
batches have several events, the appends also go straight to ``append_events``, and the
checks are the store's promise under contention:

* versions contiguous in every stream, global positions 1..N, no event lost or duplicated;
* every batch whole: consecutive versions *and* consecutive positions (no interleaving inside
  one append), and a reader polling meanwhile never sees part of a batch or a gap;
* every losing append got :class:`WrongExpectedVersion` (the expected version it read, the
  actual version past it) and left no trace: not its events, not even its event ids.

Every test runs on each store; ``duckdb-objects`` gives every thread its own
``DuckDBEventStore`` (its own connection) on one file.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from racing import in_threads

from esteach import (
    Aggregate,
    Command,
    CommandProcessor,
    ConcurrencyConflict,
    DomainEvent,
    DuckDBEventStore,
    Event,
    EventMetadata,
    EventStore,
    InMemoryEventStore,
    NewEvent,
    WrongExpectedVersion,
)
from esteach.domains.user import ChangeName, CreateUser, User, UserAlreadyExists

T = TypeVar("T")
THREADS = 6
KINDS = ["memory", "duckdb-memory", "duckdb-file", "duckdb-objects"]


@pytest.fixture(autouse=True)
def switch_threads_often() -> Iterator[None]:
    """Let CPython switch threads every few microseconds instead of every 5 ms, so that
    in-memory appends (microseconds each) really interleave instead of running in turn."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


# --- stores ------------------------------------------------------------------------------------


@dataclass
class Stores:
    """The store each thread uses: one shared store, or its own object on one file."""

    kind: str
    shared: EventStore
    per_thread: list[EventStore]  # for "duckdb-objects": one per thread (and one for a reader)

    def for_thread(self, index: int) -> EventStore:
        return self.per_thread[index] if self.per_thread else self.shared

    @property
    def slow(self) -> bool:
        return self.kind != "memory"


@pytest.fixture(params=KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    path = tmp_path / "events.duckdb"
    shared: EventStore
    if request.param == "memory":
        shared = InMemoryEventStore()
    elif request.param == "duckdb-memory":
        shared = DuckDBEventStore(":memory:")
    else:
        shared = DuckDBEventStore(path)
    per_thread: list[EventStore] = []
    if request.param == "duckdb-objects":  # opened here, not by the racing threads
        per_thread = [DuckDBEventStore(path) for _ in range(THREADS + 1)]
    yield Stores(request.param, shared, per_thread)
    for store in [*per_thread, shared]:
        store.close()


# --- checks --------------------------------------------------------------------------------------


def check_log(store: EventStore, batches: dict[str, list[Event]]) -> None:
    """The store holds exactly ``batches`` (what successful appends returned), each whole.

    ``batches`` maps a batch key to the events its append returned. Checks: positions 1..N
    over the log; versions 1..n in every stream; every returned event stored once, equal to
    what the append returned; each batch at consecutive positions and versions.
    """
    log = store.read_all()
    assert [e.global_position for e in log] == list(range(1, len(log) + 1)), "positions"
    stored = {e.id: e for e in log}
    assert len(stored) == len(log), "an event id is stored twice"
    returned = [e for events in batches.values() for e in events]
    assert Counter(e.id for e in returned) == Counter(e.id for e in log), "lost or extra events"
    versions: dict[str, list[int]] = defaultdict(list)
    for event in log:
        versions[event.aggregate_id].append(event.version)
    for stream, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"versions of {stream!r}: {seen}"
        assert store.stream_version(stream) == len(seen)
        assert [e.version for e in store.get_events(stream)] == seen
    for key, events in batches.items():
        assert [stored[e.id] for e in events] == events, f"batch {key} differs from the log"
        first = events[0]
        assert {e.aggregate_id for e in events} == {first.aggregate_id}
        assert [e.version for e in events] == [first.version + k for k in range(len(events))]
        assert [e.global_position for e in events] == [
            first.global_position + k for k in range(len(events))
        ], f"batch {key} is interleaved with another append"


def batch_of(thread: int, number: int, size: int) -> list[NewEvent]:
    key = f"t{thread}-n{number}"
    metadata = EventMetadata(correlation_id=key)
    return [
        NewEvent(
            "LineRaced",
            {"t": thread, "n": number, "k": k, "of": size},
            "Race",
            metadata,
            id=f"{key}-k{k}",
        )
        for k in range(size)
    ]


# --- direct appends ------------------------------------------------------------------------------


def test_lockstep_rounds_on_one_stream_have_one_winner_and_every_loser_gets_a_conflict(
    stores: Stores,
) -> None:
    """Each round every thread reads the version, waits for all, then appends 1-4 events."""
    rounds = 4 if stores.slow else 25
    read_together = threading.Barrier(THREADS)
    append_together = threading.Barrier(THREADS)

    def work(t: int) -> list[tuple[int, int, list[NewEvent], list[Event] | WrongExpectedVersion]]:
        store = stores.for_thread(t)
        outcomes: list[tuple[int, int, list[NewEvent], list[Event] | WrongExpectedVersion]] = []
        for r in range(rounds):
            read_together.wait(10)  # everyone's append of the last round has returned
            version = store.stream_version("raced")
            append_together.wait(10)  # everyone has read the same version
            batch = batch_of(t, r, 1 + (t + r) % 4)
            try:
                outcomes.append((r, version, batch, store.append_events("raced", version, batch)))
            except WrongExpectedVersion as conflict:
                outcomes.append((r, version, batch, conflict))
        return outcomes

    outcomes = [o for by_thread in in_threads(THREADS, work) for o in by_thread]

    winners: dict[str, list[Event]] = {}
    refused_ids: set[str] = set()
    for r in range(rounds):
        this_round = [o for o in outcomes if o[0] == r]
        assert len({version for _, version, _, _ in this_round}) == 1
        won = [o for o in this_round if isinstance(o[3], list)]
        assert len(won) == 1, f"round {r}: {len(won)} winners"
        ((_, version, _, recorded),) = won
        assert isinstance(recorded, list)
        winners[f"round-{r}"] = recorded
        assert [e.version for e in recorded] == list(
            range(version + 1, version + 1 + len(recorded))
        )
        for _, _, batch, outcome in this_round:
            if isinstance(outcome, WrongExpectedVersion):
                # The conflict names the stream, the version the loser read, and where the
                # stream is now: exactly past the winner's batch.
                assert outcome.aggregate_id == "raced"
                assert (outcome.expected, outcome.actual) == (version, version + len(recorded))
                refused_ids |= {e.id for e in batch if e.id is not None}
    assert sum(isinstance(o[3], WrongExpectedVersion) for o in outcomes) == rounds * (THREADS - 1)

    store = stores.shared
    check_log(store, winners)
    assert refused_ids.isdisjoint(e.id for e in store.read_all())  # refused: no trace


def free_running_plan(thread: int, count: int, many_streams: bool) -> list[tuple[str, int]]:
    """(stream, batch size) for each batch a thread sends."""
    streams = [f"own-{thread}", "shared-a", "shared-b"] if many_streams else ["shared-a"]
    return [(streams[n % len(streams)], 1 + (thread + n) % 3) for n in range(count)]


@pytest.mark.parametrize("many_streams", [False, True], ids=["one-stream", "many-streams"])
def test_free_running_appends_with_retries_record_every_batch_once_and_whole(
    stores: Stores, many_streams: bool
) -> None:
    """Threads read, append, and on a conflict read again and retry with the same event ids
    (a refused append must leave its ids free); a reader polls the log all the while."""
    count = 8 if stores.slow else 60
    done = threading.Event()

    def read_meanwhile(store: EventStore) -> list[Event]:
        """A catch-up reader: it must never see a gap in positions nor part of a batch."""
        seen: list[Event] = []
        parts: Counter[str] = Counter()
        while True:
            finished = done.is_set()
            page = store.read_all(len(seen) + 1)
            assert [e.global_position for e in page] == list(
                range(len(seen) + 1, len(seen) + 1 + len(page))
            ), "the reader skipped a position"
            seen += page
            for event in page:
                parts[event.metadata.correlation_id or ""] += 1
            assert all(parts[e.metadata.correlation_id or ""] == e.data["of"] for e in page), (
                "the reader saw part of a batch"
            )
            if finished:
                return seen
            time.sleep(0.0005)  # poll, but leave the writers some room

    def work(t: int) -> tuple[dict[str, list[Event]], int] | list[Event]:
        store = stores.for_thread(t)
        if t == THREADS:  # the reader
            return read_meanwhile(store)
        recorded: dict[str, list[Event]] = {}
        conflicts = 0
        try:
            for n, (stream, size) in enumerate(free_running_plan(t, count, many_streams)):
                batch = batch_of(t, n, size)
                while True:
                    version = store.stream_version(stream)
                    # A decision takes time between load and append: yield there, as real
                    # work would, or a fast in-memory store runs each thread's loop in turn.
                    time.sleep(0)
                    try:
                        recorded[f"t{t}-n{n}"] = store.append_events(stream, version, batch)
                        break
                    except WrongExpectedVersion as conflict:
                        assert conflict.expected == version < conflict.actual
                        conflicts += 1
        finally:
            writers_left.wait(30)  # the last writer out tells the reader to finish
        return recorded, conflicts

    writers_left = threading.Barrier(THREADS, action=done.set)
    results = in_threads(THREADS + 1, work)

    writes = [r for r in results if isinstance(r, tuple)]
    batches = {key: events for recorded, _ in writes for key, events in recorded.items()}
    assert len(batches) == THREADS * count  # every batch recorded, after however many retries
    store = stores.shared
    check_log(store, batches)
    assert results[THREADS] == store.read_all()  # the reader got the whole log, in order
    # Each thread's batches to one stream sit in the order it sent them.
    for t in range(THREADS):
        for stream in {s for s, _ in free_running_plan(t, count, many_streams)}:
            mine = [e.data["n"] for e in store.get_events(stream) if e.data["t"] == t]
            assert mine == sorted(mine)
    if not many_streams:  # six threads on one stream: they did race (dozens of conflicts)
        assert sum(conflicts for _, conflicts in writes) > 0


# --- through CommandProcessor ---------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCommand(Command):
    id_field = "ledger_id"


@dataclass(frozen=True)
class PostLines(LedgerCommand):
    """Post ``lines`` lines at once: one command, several events, one append."""

    ledger_id: str
    lines: int
    tag: str


@dataclass(frozen=True)
class RaceLinePosted(DomainEvent):
    tag: str
    line: int  # 1, 2, ... over the whole ledger


class Ledger(Aggregate):
    command_types = (LedgerCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.lines = 0

    def handle_command(self, command: PostLines) -> list[DomainEvent]:
        self.check_target(command)
        return [RaceLinePosted(command.tag, self.lines + i) for i in range(1, command.lines + 1)]

    def apply_event(self, event: Any) -> None:
        self.lines = event.line


class Tally:
    """Appends that succeeded and that conflicted, counted over threads; and, with ``hold``,
    a barrier that holds every thread's first append until all threads have decided."""

    def __init__(self, hold: int = 0) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.held = threading.Barrier(hold) if hold else None
        self.released = threading.local()

    def store(self, inner: EventStore) -> EventStore:
        return CountingStore(inner, self)  # type: ignore[return-value]


class CountingStore:
    """A store that reports each append to a :class:`Tally` (and waits at its barrier)."""

    def __init__(self, inner: EventStore, tally: Tally) -> None:
        self.inner = inner
        self.tally = tally

    def append_events(
        self, aggregate_id: str, expected_version: Any, events: Sequence[NewEvent]
    ) -> list[Event]:
        tally = self.tally
        if tally.held is not None and not getattr(tally.released, "done", False):
            tally.released.done = True
            tally.held.wait(10)  # every thread has loaded and decided: now all append at once
        try:
            recorded = self.inner.append_events(aggregate_id, expected_version, events)
        except WrongExpectedVersion:
            with tally.lock:
                tally.counts["conflict"] += 1
            raise
        with tally.lock:
            tally.counts["success"] += 1
        return recorded

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("shared_processor", [True, False], ids=["one-processor", "own-processors"])
def test_multi_event_commands_racing_through_processors_land_whole(
    stores: Stores, shared_processor: bool
) -> None:
    count = 6 if stores.slow else 40
    tally = Tally()
    counting = [tally.store(stores.for_thread(t)) for t in range(THREADS)]
    one = CommandProcessor(counting[0], Ledger, max_retries=1000)
    processors = [
        one if shared_processor else CommandProcessor(c, Ledger, max_retries=1000) for c in counting
    ]

    def work(t: int) -> list[Any]:
        ledgers = ["ledger-shared", f"ledger-{t}"]
        return [
            processors[t].process_command(
                PostLines(ledgers[n % 2], 1 + (t + n) % 4, f"t{t}-n{n}"),
                correlation_id=f"t{t}-n{n}",
            )
            for n in range(count)
        ]

    results = [r for by_thread in in_threads(THREADS, work) for r in by_thread]

    store = stores.shared
    check_log(store, {r.events[0].metadata.correlation_id: r.events for r in results})
    counts = tally.counts
    # Every attempt appended; every failed attempt was a conflict, and each was retried.
    assert sum(r.attempts for r in results) == counts["success"] + counts["conflict"]
    assert counts["success"] == len(results) == THREADS * count
    for ledger in {r.aggregate_id for r in results}:
        lines = [e.data["line"] for e in store.get_events(ledger)]
        assert lines == list(range(1, len(lines) + 1))  # each decision saw the latest state
        for result in results:
            if result.aggregate_id == ledger:
                assert result.version == result.events[-1].version


@pytest.mark.parametrize("max_retries", [0, 1])
def test_racing_creations_of_one_user_make_one_user_and_every_loser_hears_why(
    stores: Stores, max_retries: int
) -> None:
    """All threads load the empty stream and decide before any appends (held at a barrier).
    Without retries every loser gets ConcurrencyConflict; with one, the retry decides again and
    the rule says UserAlreadyExists. Either way one UserCreated, the winner's, is stored."""
    tally = Tally(hold=THREADS)

    def work(t: int) -> object:
        store = tally.store(stores.for_thread(t))
        processor = CommandProcessor(store, User, max_retries=max_retries)
        try:
            return processor.process_command(CreateUser("u-1", f"t{t}@example.com", f"T{t}"))
        except (ConcurrencyConflict, UserAlreadyExists) as refused:
            return refused

    outcomes = in_threads(THREADS, work)

    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and len(lost) == THREADS - 1
    expected_loss = ConcurrencyConflict if max_retries == 0 else UserAlreadyExists
    assert all(type(o) is expected_loss for o in lost), lost
    for conflict in lost:
        if isinstance(conflict, ConcurrencyConflict):
            assert (conflict.expected, conflict.actual, conflict.attempts) == (0, 1, 1)
    assert tally.counts == Counter(success=1, conflict=THREADS - 1)
    (event,) = stores.shared.read_all()
    assert event.data["email"] == won[0].events[0].data["email"]  # type: ignore[attr-defined]


def test_racing_renames_after_a_held_start_all_land_after_retries(stores: Stores) -> None:
    """The same start (all decided on version 1), but renames: each loser reloads, decides
    again on the new state and lands; the stream ends with every name exactly once."""
    CommandProcessor(stores.shared, User).process_command(CreateUser("u-1", "a@b.co", "A"))
    tally = Tally(hold=THREADS)

    def work(t: int) -> Any:
        processor = CommandProcessor(tally.store(stores.for_thread(t)), User, max_retries=THREADS)
        return processor.process_command(ChangeName("u-1", f"Name {t}"))

    results = in_threads(THREADS, work)

    assert sorted(r.attempts for r in results)[0] == 1
    assert sum(r.attempts for r in results) == THREADS + tally.counts["conflict"]
    assert tally.counts["conflict"] >= THREADS - 1  # the first round had one winner
    names = [e.data["new_name"] for e in stores.shared.get_events("u-1", 2)]
    assert sorted(names) == sorted(f"Name {t}" for t in range(THREADS))
    created = stores.shared.get_events("u-1")[:1]
    check_log(
        stores.shared,
        {"create": created} | {f"rename-{i}": r.events for i, r in enumerate(results)},
    )
