"""Snapshots: the manager's policy, stale shapes, failing stores (the reference design's flaw 8).

The reference design took a snapshot only when ``version % interval == 0`` (a command that
appends several events jumps over it), stored the aggregate as is (old snapshots stop fitting
when the code changes) and had no fallback. Here:

* every snapshot store keeps the same promises: tests/contract/test_snapshot_store_contract.py;
* the policy is "at least ``interval`` events since the last snapshot";
* a snapshot in an older state schema is ignored, counted, and the load falls back to replay;
* a failing snapshot store costs speed, never a command;
* the savings are shown in events read, not in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from contract.test_snapshot_store_contract import user_created

from esteach import (
    ANY,
    Aggregate,
    AggregateCache,
    Command,
    CommandProcessor,
    DomainEvent,
    DuckDBEventStore,
    DuckDBSnapshotStore,
    EventStore,
    InMemoryEventStore,
    InMemorySnapshotStore,
    InvalidInput,
    NewEvent,
    Repository,
    SeededIds,
    Snapshot,
    SnapshotManager,
    SnapshotStore,
    StepClock,
)
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User
from esteach.snapshots import Restored

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=1)


def test_snapshots_and_events_in_one_duckdb_file_survive_closing_and_reopening(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.duckdb"
    events = DuckDBEventStore(path, clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = DuckDBSnapshotStore(path)
    processor = CommandProcessor(
        events, User, snapshots=snapshots, snapshot_interval=3, ids=SeededIds(2)
    )
    processor.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
    for name in ["Ada L.", "Ada Lovelace", "Countess"]:
        processor.process_command(ChangeName("u-1", name))
    assert snapshots.get_latest("u-1") is not None
    tables = events.sql("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()
    assert tables == [("events",), ("snapshots",)]
    snapshots.close()
    events.close()

    events = DuckDBEventStore(path, clock=StepClock(START, STEP), ids=SeededIds(3))
    snapshots = DuckDBSnapshotStore(path)
    try:
        kept = snapshots.get_latest("u-1")
        assert kept is not None
        assert (kept.version, kept.state["name"]) == (3, "Ada Lovelace")
        loaded, report = Repository(
            events, User, snapshots=snapshots, snapshot_interval=3
        ).load_with_report("u-1")
        replayed = Repository(events, User).load("u-1")
        assert (report.source, report.snapshot_version, report.events_read) == ("snapshot", 3, 1)
        assert loaded.state() == replayed.state()
        assert loaded.name == "Countess"
    finally:
        snapshots.close()
        events.close()


# --- SnapshotManager: the policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "last", "version", "due"),
    [
        (100, 0, 0, False),
        (100, 0, 99, False),
        (100, 0, 100, True),
        (100, 0, 101, True),  # jumped over 100: still due (version % 100 would say no)
        (100, 100, 199, False),
        (100, 100, 200, True),
        (100, 103, 202, False),  # 202 - 103 = 99 events since the last snapshot
        (100, 103, 203, True),  # 100 events since, though 203 is no multiple of 100
        (5, 3, 7, False),
        (5, 3, 8, True),
        (5, 0, 6, True),  # the multi-event command of flaw 8: 6 % 5 != 0
        (1, 0, 1, True),
        (1, 41, 42, True),
        (1, 42, 42, False),  # nothing new since the last snapshot
    ],
)
def test_a_snapshot_is_due_after_at_least_interval_events_since_the_last(
    interval: int, last: int, version: int, due: bool
) -> None:
    manager = SnapshotManager(InMemorySnapshotStore(), User, interval=interval)

    assert manager.due(last, version) is due


@pytest.mark.parametrize("interval", [0, -1, -100, True, False, 1.5, "10", None])
def test_an_interval_that_is_not_a_positive_int_is_refused(interval: Any) -> None:
    with pytest.raises(InvalidInput, match="interval"):
        SnapshotManager(InMemorySnapshotStore(), User, interval=interval)


def test_a_processor_with_an_invalid_snapshot_interval_is_refused() -> None:
    with pytest.raises(InvalidInput):
        CommandProcessor(
            InMemoryEventStore(), User, snapshots=InMemorySnapshotStore(), snapshot_interval=0
        )


def ada(user_id: str = "u-1", *names: str) -> User:
    """A user replayed from ``UserCreated`` and one ``UserNameChanged`` per name."""
    store = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(9))
    store.append_events(user_id, 0, [user_created(user_id)])
    for name in names:
        store.append_events(user_id, ANY, [NewEvent("UserNameChanged", {"new_name": name})])
    return Repository(store, User).load(user_id)


def test_take_saves_the_state_version_schema_and_the_clocks_time() -> None:
    snapshots = InMemorySnapshotStore()
    manager = SnapshotManager(snapshots, User, interval=2, clock=StepClock(START, STEP))
    user = ada("u-1", "Ada L.", "Countess")

    assert manager.take(user) is True

    kept = snapshots.get_latest("u-1")
    assert kept == Snapshot(
        aggregate_id="u-1",
        aggregate_type="User",
        version=3,
        state={"email": "u-1@example.com", "name": "Countess", "status": "active"},
        schema_version=User.snapshot_version,
        timestamp=START,
    )
    assert (manager.taken, manager.failures, manager.stale_ignored) == (1, 0, 0)


def test_restore_rebuilds_the_aggregate_the_snapshot_was_taken_of() -> None:
    manager = SnapshotManager(InMemorySnapshotStore(), User, interval=2)
    user = ada("u-1", "Ada L.", "Countess")
    manager.take(user)

    restored = manager.restore("u-1")

    assert isinstance(restored.aggregate, User)
    assert restored.aggregate.state() == user.state()
    assert restored.stale is False
    assert restored.aggregate.version == 3


def test_restore_without_a_snapshot_returns_none_and_counts_nothing() -> None:
    manager = SnapshotManager(InMemorySnapshotStore(), User)

    assert manager.restore("u-nobody") == Restored(None, stale=False)
    assert manager.stale_ignored == 0


# --- stale snapshots: a changed state schema falls back to full replay -------------------------


class UserWithNewSnapshotShape(User):
    """The same aggregate after a code change that altered the shape of its snapshot state."""

    aggregate_type = "User"
    snapshot_version = User.snapshot_version + 1


def write_user_with_snapshots(
    events: EventStore, snapshots: SnapshotStore, interval: int, names: Sequence[str]
) -> CommandProcessor[User]:
    processor = CommandProcessor(
        events, User, snapshots=snapshots, snapshot_interval=interval, ids=SeededIds(2)
    )
    processor.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
    for name in names:
        processor.process_command(ChangeName("u-1", name))
    return processor


def test_a_snapshot_in_an_older_state_schema_is_ignored_and_the_load_replays_everything() -> None:
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = InMemorySnapshotStore()
    write_user_with_snapshots(events, snapshots, 2, ["B", "C", "D", "E"])  # snapshot at 4
    old = snapshots.get_latest("u-1")
    assert old is not None and (old.version, old.schema_version) == (4, 1)

    repository = Repository(events, UserWithNewSnapshotShape, snapshots=snapshots)
    loaded, report = repository.load_with_report("u-1")

    assert report.source == "replay"
    assert report.stale_snapshot_ignored is True
    assert report.events_read == 5  # all of them, not the one after the snapshot
    assert report.snapshot_version == 0
    assert repository.snapshots is not None and repository.snapshots.stale_ignored == 1
    assert isinstance(loaded, UserWithNewSnapshotShape)
    assert loaded.state() == Repository(events, User).load("u-1").state()


def test_a_snapshot_in_the_current_state_schema_is_used() -> None:
    # The twin of the test above, so it cannot pass by never restoring anything.
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = InMemorySnapshotStore()
    write_user_with_snapshots(events, snapshots, 2, ["B", "C", "D", "E"])

    repository = Repository(events, User, snapshots=snapshots)
    _, report = repository.load_with_report("u-1")

    assert (report.source, report.snapshot_version, report.events_read) == ("snapshot", 4, 1)
    assert report.stale_snapshot_ignored is False
    assert repository.snapshots is not None and repository.snapshots.stale_ignored == 0


def test_each_load_that_meets_a_stale_snapshot_counts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshots = InMemorySnapshotStore()
    manager = SnapshotManager(snapshots, User, interval=1)
    manager.take(ada("u-1", "B"))
    monkeypatch.setattr(User, "snapshot_version", User.snapshot_version + 1)

    assert manager.restore("u-1") == Restored(None, stale=True)
    assert manager.restore("u-1") == Restored(None, stale=True)
    assert manager.stale_ignored == 2


def test_after_a_stale_snapshot_the_next_due_snapshot_is_taken_in_the_new_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = InMemorySnapshotStore()
    write_user_with_snapshots(events, snapshots, 2, ["B", "C", "D", "E"])  # schema 1 at 4
    monkeypatch.setattr(User, "snapshot_version", 7)  # the code changed; undone after the test

    upgraded = CommandProcessor(
        events, User, snapshots=snapshots, snapshot_interval=2, ids=SeededIds(3)
    )
    upgraded.process_command(ChangeName("u-1", "F"))

    kept = snapshots.get_latest("u-1")
    assert kept is not None
    assert (kept.version, kept.schema_version) == (6, 7)
    _, report = Repository(events, User, snapshots=snapshots).load_with_report("u-1")
    assert (report.source, report.events_read, report.stale_snapshot_ignored) == (
        "snapshot",
        0,
        False,
    )


def test_a_snapshot_ahead_of_its_stream_is_not_trusted() -> None:
    # A notebook keeps its snapshots in a DuckDB file but starts a fresh in-memory event store
    # on every run: the snapshot of "u-1" at version 2 describes events this store never had.
    snapshots = InMemorySnapshotStore()
    lost = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    write_user_with_snapshots(lost, snapshots, 1, ["Ada L."])
    kept = snapshots.get_latest("u-1")
    assert kept is not None and kept.version == 2
    fresh = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(5))
    processor = CommandProcessor(
        fresh, User, snapshots=snapshots, snapshot_interval=1, ids=SeededIds(6)
    )

    loaded, report = processor.repository.load_with_report("u-1")

    assert (loaded.version, loaded.exists, report.source) == (0, False, "replay")
    # Trusting the snapshot would answer UserAlreadyExists for a user this stream never had.
    assert processor.process_command(CreateUser("u-1", "bob@example.com", "Bob")).version == 1
    assert processor.load("u-1").name == "Bob"


def test_re_taking_a_snapshot_after_a_schema_change_replaces_the_stale_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After raising snapshot_version, a notebook (or a migration script) re-snapshots every
    # aggregate at its current version. take() must not report success while the stale
    # snapshot stays in place and is ignored on every load.
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = InMemorySnapshotStore()
    write_user_with_snapshots(events, snapshots, 2, ["B", "C", "D"])  # schema 1 at version 4
    monkeypatch.setattr(User, "snapshot_version", 2)
    manager = SnapshotManager(snapshots, User, interval=2)
    user = Repository(events, User).load("u-1")

    taken = manager.take(user)

    kept = snapshots.get_latest("u-1")
    assert kept is not None
    assert taken is (kept.schema_version == 2), "take() said True but the stale snapshot stayed"
    assert manager.restore("u-1").aggregate is not None
    assert manager.stale_ignored == 0


# --- a failing snapshot store costs speed, never a command --------------------------------------


class FailingSnapshotStore:
    """A snapshot store whose disk is full: every save raises."""

    def __init__(self) -> None:
        self.saves_tried = 0

    def save(self, snapshot: Snapshot) -> None:
        self.saves_tried += 1
        raise OSError("No space left on device")

    def get_latest(self, aggregate_id: str) -> Snapshot | None:
        return None

    def delete(self, aggregate_id: str) -> None:
        pass


def test_take_on_a_failing_store_returns_false_and_counts_the_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = FailingSnapshotStore()
    manager = SnapshotManager(failing, User, interval=1)

    with caplog.at_level(logging.WARNING, logger="esteach.snapshots"):
        assert manager.take(ada("u-1")) is False

    assert failing.saves_tried == 1
    assert (manager.taken, manager.failures) == (0, 1)
    assert any("u-1" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_commands_succeed_and_their_events_are_stored_when_every_snapshot_fails(
    cache: bool,
) -> None:
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    failing = FailingSnapshotStore()
    processor = CommandProcessor(
        events,
        User,
        snapshots=failing,
        snapshot_interval=1,
        cache=AggregateCache(8) if cache else None,
        ids=SeededIds(2),
    )

    results = [
        processor.process_command(CreateUser("u-1", "ada@example.com", "Ada")),
        processor.process_command(ChangeEmail("u-1", "ada@lovelace.org")),
        processor.process_command(DeactivateUser("u-1")),
    ]

    assert [r.version for r in results] == [1, 2, 3]
    assert [e.event_type for e in events.get_events("u-1")] == [
        "UserCreated",
        "UserEmailChanged",
        "UserDeactivated",
    ]
    assert failing.saves_tried == 3  # it kept trying: every command was due a snapshot
    manager = processor.repository.snapshots
    assert manager is not None and (manager.taken, manager.failures) == (0, 3)
    assert processor.load("u-1").state() == Repository(events, User).load("u-1").state()


# --- flaw 8: a command that appends several events cannot jump over a snapshot -------------------


@dataclass(frozen=True)
class RelayCommand(Command):
    id_field = "relay_id"


@dataclass(frozen=True)
class RunLegs(RelayCommand):
    relay_id: str
    legs: int


@dataclass(frozen=True)
class LegRun(DomainEvent):
    leg: int


class Relay(Aggregate):
    """A test-only aggregate: one ``RunLegs`` command records ``legs`` events."""

    command_types: ClassVar[tuple[type[Command], ...]] = (RelayCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.legs_run = 0

    def handle_command(self, command: RunLegs) -> list[DomainEvent]:
        self.check_target(command)
        return [LegRun(self.legs_run + i) for i in range(1, command.legs + 1)]

    def apply_event(self, event: Any) -> None:
        self.legs_run = event.leg


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_a_multi_event_command_that_jumps_over_a_multiple_of_the_interval_still_snapshots(
    cache: bool,
) -> None:
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = InMemorySnapshotStore()
    processor = CommandProcessor(
        events,
        Relay,
        snapshots=snapshots,
        snapshot_interval=5,
        cache=AggregateCache(8) if cache else None,
        ids=SeededIds(2),
    )
    kept_after: list[int | None] = []
    for _ in range(4):
        processor.process_command(RunLegs("relay-1", 3))  # versions 3, 6, 9, 12
        kept = snapshots.get_latest("relay-1")
        kept_after.append(None if kept is None else kept.version)

    # The reference design's `version % 5 == 0` never holds at 3, 6, 9 or 12: no snapshot at all.
    assert kept_after == [None, 6, 6, 12]
    kept = snapshots.get_latest("relay-1")
    assert kept is not None and kept.state == {"legs_run": 12}
    _, report = Repository(events, Relay, snapshots=snapshots).load_with_report("relay-1")
    assert (report.source, report.version, report.events_read) == ("snapshot", 12, 0)


def test_the_events_after_a_snapshot_are_read_from_the_version_after_it() -> None:
    # from_version is inclusive: a load from a snapshot at 6 must start at 7, neither at 6
    # (applying 6 twice) nor at 8 (skipping 7).
    events = InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(1))
    snapshots = InMemorySnapshotStore()
    processor = CommandProcessor(
        events, Relay, snapshots=snapshots, snapshot_interval=5, ids=SeededIds(2)
    )
    processor.process_command(RunLegs("relay-1", 6))  # snapshot at 6
    events.append_events("relay-1", 6, [NewEvent("LegRun", {"leg": 7}, "Relay")])
    events.append_events("relay-1", 7, [NewEvent("LegRun", {"leg": 8}, "Relay")])

    loaded, report = Repository(events, Relay, snapshots=snapshots).load_with_report("relay-1")

    assert (report.source, report.snapshot_version, report.events_read) == ("snapshot", 6, 2)
    assert (loaded.version, loaded.legs_run) == (8, 8)


# --- counts, not times: what snapshots save on a long stream -----------------------------------

LONG = 10_000  # the stream of the long_stream_store fixture (tests/conftest.py)


def test_a_snapshot_load_of_a_10000_event_stream_reads_fewer_than_100_events(
    long_stream_store: EventStore,
) -> None:
    event_store = long_stream_store
    snapshots = InMemorySnapshotStore()

    full = Repository(event_store, User)
    replayed, full_report = full.load_with_report("u-long")
    assert (full_report.source, full_report.events_read, full.events_read) == (
        "replay",
        LONG,
        LONG,
    )
    assert replayed.name == f"Ada {LONG}"

    # One command through a processor with snapshots: its load replays, then it snapshots.
    processor = CommandProcessor(
        event_store, User, snapshots=snapshots, snapshot_interval=100, ids=SeededIds(2)
    )
    processor.process_command(ChangeName("u-long", "after the import"))
    kept = snapshots.get_latest("u-long")
    assert kept is not None and kept.version == LONG + 1
    # Another writer, which takes no snapshots, adds 42 more.
    for n in range(42):
        event_store.append_events(
            "u-long", LONG + 1 + n, [NewEvent("UserNameChanged", {"new_name": f"late {n}"}, "User")]
        )

    with_snapshots = Repository(event_store, User, snapshots=snapshots, snapshot_interval=100)
    loaded, report = with_snapshots.load_with_report("u-long")

    assert report.source == "snapshot"
    assert report.snapshot_version == LONG + 1
    assert report.events_read == 42 < 100
    assert with_snapshots.events_read == 42
    assert loaded.state() == {
        "aggregate_id": "u-long",
        "version": LONG + 43,
        "email": "ada@example.com",
        "name": "late 41",
        "status": "active",
    }
