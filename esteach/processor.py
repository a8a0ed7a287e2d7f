"""Command processing: load, decide, save, and retry when another writer got there first.

`CommandProcessor` is the write side of CQRS. For each command it

1. loads the aggregate through its `Repository` (from the cache, a snapshot plus the events
   after it, or a full replay; ``version`` is what it read),
2. calls ``handle_command`` (pure decision),
3. saves the decision through the repository, with metadata (correlation, causation and user
   ids, source, your own headers): appended with ``expected_version = version``.

If another writer appended in between, the store raises `WrongExpectedVersion`; the processor
reloads and decides again, at most ``max_retries`` more times, then raises
`ConcurrencyConflict`.

The store's expected-version check is what protects the stream. The optional per-aggregate lock
(``lock_per_aggregate=True``, the reference design's ``ConcurrentEventProcessor``) only saves
wasted retries among threads of one process; it cannot see another process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from esteach.aggregate import Aggregate
from esteach.caching import AggregateCache
from esteach.checks import check_id, check_int
from esteach.commands import Command
from esteach.decider import Decider, aggregate_class_of
from esteach.determinism import Clock, IdFactory, system_clock, uuid4_ids
from esteach.errors import ConcurrencyConflict, InvalidCommand, WrongExpectedVersion
from esteach.events import Event, EventMetadata
from esteach.repository import Repository
from esteach.snapshots import SnapshotStore
from esteach.store.base import EventStore

__all__ = ["AggregateLocks", "CommandProcessor", "CommandResult"]

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class CommandResult:
    """What one command did: the events it appended (maybe none) and where the stream is now."""

    aggregate_id: str
    events: list[Event]
    version: int  # the stream's version after the command
    attempts: int  # 1 unless a conflict made the processor retry

    @property
    def position(self) -> int | None:
        """Global position of the last appended event; ``None`` when nothing was appended."""
        return self.events[-1].global_position if self.events else None


class AggregateLocks:
    """One lock per aggregate id, created on demand and freed when nobody holds or waits for it.

    The reference design's lock map raced (two threads could each create a lock for the same
    id) and never freed its locks. Here one mutex guards the map and a count of users, so every
    thread for an id gets the same lock, and the entry goes away with its last user.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, aggregate_id: str) -> Iterator[None]:
        with self._mutex:
            lock, users = self._locks.get(aggregate_id, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[aggregate_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._mutex:
                _, users = self._locks[aggregate_id]
                if users == 1:
                    del self._locks[aggregate_id]
                else:
                    self._locks[aggregate_id] = (lock, users - 1)

    def __len__(self) -> int:
        """How many ids have a lock right now (0 when idle: nothing leaks)."""
        with self._mutex:
            return len(self._locks)


class CommandProcessor(Generic[A]):
    """Handles commands for one aggregate class against one event store.

    ``snapshots``, ``snapshot_interval`` and ``cache`` configure how aggregates are loaded (see
    `Repository`); ``clock`` stamps snapshots; ``ids`` makes command
    and event ids.

    >>> from esteach import InMemoryEventStore
    >>> from esteach.domains.user import CreateUser, User
    >>> processor = CommandProcessor(InMemoryEventStore(), User)
    >>> processor.process_command(CreateUser("u-1", "ada@example.com", "Ada")).version
    1
    """

    def __init__(
        self,
        store: EventStore,
        aggregate_class: type[A] | Decider[Any],
        *,
        ids: IdFactory = uuid4_ids,
        max_retries: int = 3,
        source: str = "command_processor",
        lock_per_aggregate: bool = False,
        snapshots: SnapshotStore | None = None,
        snapshot_interval: int = 100,
        cache: AggregateCache | None = None,
        clock: Clock = system_clock,
    ) -> None:
        check_int(max_retries, "max_retries", 0)
        self.aggregate_class: type[A] = aggregate_class_of(aggregate_class)  # type: ignore[assignment]
        self.repository = Repository(
            store,
            self.aggregate_class,
            snapshots=snapshots,
            snapshot_interval=snapshot_interval,
            cache=cache,
            clock=clock,
            ids=ids,
        )
        self.max_retries = max_retries
        self.source = source
        self._ids = ids
        self.locks: AggregateLocks | None = AggregateLocks() if lock_per_aggregate else None

    def load(self, aggregate_id: str) -> A:
        """The aggregate as its stream says now (version 0 if it does not exist yet)."""
        return self.repository.load(aggregate_id)

    def process_command(
        self,
        command: Command,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        user_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        command_id: str | None = None,
    ) -> CommandResult:
        """Decide and record one command; return what was appended.

        ``correlation_id`` and ``causation_id`` default to the command's id, so every event
        can be traced back to the command that caused it; ``user_id`` says who asked;
        ``headers`` (a JSON object) go into every event's metadata as they are.

        ``command_id`` makes the command idempotent: its events get the ids
        ``"{command_id}/1"``, ``"{command_id}/2"``, ..., and the same command id sent again
        (a redelivered message, a process restarted after a crash) returns the events the first
        one recorded and writes nothing. That costs a read of the stream before deciding; a
        command that recorded nothing leaves no trace, so it is decided again. Without it, a
        fresh id is made for each command.

        Raises the aggregate's ``DomainError`` when a rule rejects the command (nothing is
        written) and `ConcurrencyConflict` when retries run out.
        """
        if not isinstance(command, Command):
            raise InvalidCommand(
                f"expected a Command, got {type(command).__name__} {command!r:.60}"
            )
        explicit = command_id is not None
        if command_id is None:
            command_id = self._ids()
        else:
            check_command_id(command_id)
        metadata = EventMetadata(
            correlation_id=command_id if correlation_id is None else correlation_id,
            causation_id=command_id if causation_id is None else causation_id,
            user_id=user_id,
            source=self.source,
            headers={} if headers is None else headers,
        )
        aggregate_id = command.target_id
        prefix = f"{command_id}/" if explicit else None
        if self.locks is None:
            return self._decide_and_save(command, aggregate_id, metadata, prefix)
        with self.locks.hold(aggregate_id):
            return self._decide_and_save(command, aggregate_id, metadata, prefix)

    @property
    def store(self) -> EventStore:
        return self.repository.store

    def _decide_and_save(
        self, command: Command, aggregate_id: str, metadata: EventMetadata, prefix: str | None
    ) -> CommandResult:
        attempts = 0
        while True:
            attempts += 1
            aggregate, report = self.repository.load_with_report(aggregate_id)
            if prefix is not None:
                earlier = [
                    e for e in self.store.get_events(aggregate_id) if e.id.startswith(prefix)
                ]
                if earlier:  # this command was recorded before: answer as it was answered
                    return CommandResult(aggregate_id, earlier, aggregate.version, attempts)
            domain_events = aggregate.handle_command(command)
            event_ids = None
            if prefix is not None:
                event_ids = [f"{prefix}{n}" for n in range(1, len(domain_events) + 1)]
            try:
                recorded = self.repository.save(
                    aggregate, domain_events, metadata, loaded=report, event_ids=event_ids
                )
            except WrongExpectedVersion as conflict:
                if attempts > self.max_retries:
                    raise ConcurrencyConflict(
                        aggregate_id, conflict.expected, conflict.actual, attempts
                    ) from conflict
                continue
            return CommandResult(aggregate_id, recorded, aggregate.version, attempts)


MAX_COMMAND_ID_LENGTH = 200  # room for "/n" in event ids of at most 256 characters


def check_command_id(command_id: object) -> str:
    """Return ``command_id`` if it can prefix event ids, else raise `InvalidInput`."""
    return check_id(command_id, "command_id", MAX_COMMAND_ID_LENGTH)
