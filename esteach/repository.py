"""``Repository``: load an aggregate the cheapest correct way, and say how it was loaded.

Three ways to load, tried in this order:

1. **cache**: the cached copy, fast-forwarded with the events after its version (zero when
   nothing is new);
2. **snapshot**: the latest snapshot, plus only the events after it;
3. **replay**: every event of the stream.

Each load returns a `LoadReport` (where it started, how many events it read), and the
repository keeps totals, so a notebook can show what snapshots and caching save in events read,
not just in milliseconds.

`Repository.save` is the one place a decision is written: it wraps the domain events in
envelopes, appends them at the version the aggregate was loaded at, and then brings the
aggregate up to date, takes a snapshot when one is due and caches it. On a conflict it drops
the cached copy, so the next load reads the stream again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from esteach.aggregate import Aggregate
from esteach.caching import AggregateCache
from esteach.checks import check_aggregate_id
from esteach.decider import Decider, aggregate_class_of
from esteach.determinism import Clock, IdFactory, system_clock, uuid4_ids
from esteach.errors import DuplicateEventId, InvalidInput, WrongExpectedVersion
from esteach.events import DomainEvent, Event, EventMetadata, NewEvent
from esteach.snapshots import SnapshotManager, SnapshotStore
from esteach.store.base import EventStore

__all__ = ["LoadReport", "Repository"]

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class LoadReport:
    """How one load went."""

    aggregate_id: str
    version: int
    source: Literal["cache", "snapshot", "replay"]
    events_read: int
    snapshot_version: int  # version of the latest snapshot known (0: none)
    stale_snapshot_ignored: bool = False


class Repository(Generic[A]):
    """Loads and keeps aggregates of one class, with optional snapshots and cache.

    >>> from esteach import InMemoryEventStore
    >>> from esteach.domains.user import User
    >>> repository = Repository(InMemoryEventStore(), User, cache=AggregateCache(100))
    >>> repository.load("nobody").version
    0
    """

    def __init__(
        self,
        store: EventStore,
        aggregate_class: type[A] | Decider[Any],
        *,
        snapshots: SnapshotStore | None = None,
        snapshot_interval: int = 100,
        cache: AggregateCache | None = None,
        clock: Clock = system_clock,
        ids: IdFactory = uuid4_ids,
    ) -> None:
        self.store = store
        self._ids = ids
        self.aggregate_class: type[A] = aggregate_class_of(aggregate_class)  # type: ignore[assignment]
        self.snapshots = (
            SnapshotManager(
                snapshots, self.aggregate_class, interval=snapshot_interval, clock=clock
            )
            if snapshots is not None
            else None
        )
        self.cache = cache
        self._lock = threading.Lock()
        self.loads = 0
        self.events_read = 0
        self.discarded = 0  # cached or snapshot copies found ahead of their stream
        self.last_report: LoadReport | None = None

    def load(self, aggregate_id: str) -> A:
        """The aggregate as its stream says now (version 0 if it does not exist yet)."""
        return self.load_with_report(aggregate_id)[0]

    def load_aggregate(self, aggregate_id: str) -> A:
        """The same as `load`, under the reference design's name."""
        return self.load(aggregate_id)

    def load_with_report(self, aggregate_id: str) -> tuple[A, LoadReport]:
        check_aggregate_id(aggregate_id)
        kind = self.aggregate_class.aggregate_type
        aggregate: A | None = None
        source: Literal["cache", "snapshot", "replay"] = "replay"
        snapshot_version = 0
        stale = False
        entry = self.cache.get(kind, aggregate_id) if self.cache is not None else None
        if entry is not None:
            aggregate = entry.aggregate  # type: ignore[assignment]
            snapshot_version, source = entry.snapshot_version, "cache"
        elif self.snapshots is not None:
            restored = self.snapshots.restore(aggregate_id)
            aggregate, stale = restored.aggregate, restored.stale
            if aggregate is not None:
                snapshot_version, source = aggregate.version, "snapshot"
        current = None if aggregate is None else self.store.stream_version(aggregate_id)
        if aggregate is not None and current is not None and current < aggregate.version:
            # A copy ahead of its stream came from another store (a snapshot file kept beside
            # a new in-memory log, say): trust the log, and drop the copy.
            self.discarded += 1
            self.forget(aggregate_id)
            if source == "snapshot" and self.snapshots is not None:
                self.snapshots.snapshot_store.delete(aggregate_id)
            aggregate, source, snapshot_version = None, "replay", 0
        if aggregate is None:
            aggregate = self.aggregate_class(aggregate_id)
        if current == aggregate.version:
            tail = []  # nothing new since the copy: no events read (on DuckDB often no query)
        else:
            tail = self.store.get_events(aggregate_id, aggregate.version + 1)
        for event in tail:
            aggregate.apply(event)
        if self.cache is not None and (source != "cache" or tail):
            self.cache.put(aggregate, snapshot_version)
        report = LoadReport(
            aggregate_id, aggregate.version, source, len(tail), snapshot_version, stale
        )
        with self._lock:
            self.loads += 1
            self.events_read += len(tail)
            self.last_report = report
        return aggregate, report

    def save(
        self,
        aggregate: A,
        domain_events: Sequence[DomainEvent],
        metadata: EventMetadata | None = None,
        *,
        loaded: LoadReport | None = None,
        event_ids: Sequence[str] | None = None,
    ) -> list[Event]:
        """Record what ``aggregate`` decided; return the recorded events (none for none).

        The events are appended with ``expected_version = aggregate.version``, so a writer that
        got there first makes this raise `WrongExpectedVersion` (and the cached copy is
        dropped). After the append ``aggregate`` is changed in place to the new version, a
        snapshot is taken if one is due, and the aggregate is cached. ``loaded`` is the report
        of the load that gave ``aggregate`` (it says when the last snapshot was taken).
        ``event_ids`` are the events' ids (one each), when the caller chooses them; else the
        repository's id factory makes them.
        """
        if not domain_events:
            return []
        aggregate_id = aggregate.aggregate_id
        chosen_ids = event_ids is not None
        if event_ids is None:
            event_ids = [self._ids() for _ in domain_events]
        elif len(event_ids) != len(domain_events):
            raise InvalidInput(
                f"save got {len(event_ids)} event ids for {len(domain_events)} events: one each"
            )
        new_events = [
            NewEvent.from_domain(event, aggregate.aggregate_type, metadata=metadata, id=event_id)
            for event, event_id in zip(domain_events, event_ids, strict=True)
        ]
        try:
            recorded = self.store.append_events(aggregate_id, aggregate.version, new_events)
        except WrongExpectedVersion:
            self.forget(aggregate_id)  # never trust what we thought we knew
            raise
        if recorded[0].version <= aggregate.version and chosen_ids:
            return recorded  # the caller's ids were recorded meanwhile: a retry that landed
        if recorded[0].version <= aggregate.version:
            # The store took this for a retry of events the aggregate had already applied:
            # fresh ids cannot do that, so the id factory repeats ids another writer used.
            raise DuplicateEventId(
                f"event id {recorded[0].id!r} is already stored as {recorded[0].event_type} "
                f"version {recorded[0].version} of stream {aggregate_id!r}, which this "
                f"{aggregate.aggregate_type} had applied before it decided: its id factory "
                f"hands out ids already in the log (two id factories with the same seed on one "
                f"store?). Nothing was written."
            )
        for event in recorded:
            aggregate.apply(event)
        snapshot_version = self._snapshot_version(aggregate_id, loaded)
        snapshots = self.snapshots
        due = snapshots is not None and snapshots.due(snapshot_version, aggregate.version)
        if due and snapshots is not None and snapshots.take(aggregate):
            snapshot_version = aggregate.version
        if self.cache is not None:
            self.cache.put(aggregate, snapshot_version)
        return recorded

    def _snapshot_version(self, aggregate_id: str, loaded: LoadReport | None) -> int:
        if loaded is not None and loaded.aggregate_id == aggregate_id:
            return loaded.snapshot_version
        if self.snapshots is None:
            return 0
        latest = self.snapshots.snapshot_store.get_latest(aggregate_id)
        return 0 if latest is None else latest.version

    def forget(self, aggregate_id: str) -> None:
        """Drop the cached copy (after a conflict: never trust what we thought we knew)."""
        if self.cache is not None:
            self.cache.evict(self.aggregate_class.aggregate_type, aggregate_id)
