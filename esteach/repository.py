"""``Repository``: load an aggregate the cheapest correct way, and say how it was loaded.

Three ways to load, tried in this order:

1. **cache**: the cached copy, fast-forwarded with the events after its version (zero when
   nothing is new);
2. **snapshot**: the latest snapshot, plus only the events after it;
3. **replay**: every event of the stream.

Each load returns a :class:`LoadReport` (where it started, how many events it read), and the
repository keeps totals, so a notebook can show what snapshots and caching save in events read,
not just in milliseconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from esteach.aggregate import Aggregate
from esteach.caching import AggregateCache
from esteach.determinism import Clock, system_clock
from esteach.events import Event
from esteach.snapshots import SnapshotManager, SnapshotStore
from esteach.store.base import EventStore, check_aggregate_id

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
        aggregate_class: type[A],
        *,
        snapshots: SnapshotStore | None = None,
        snapshot_interval: int = 100,
        cache: AggregateCache | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.aggregate_class = aggregate_class
        self.snapshots = (
            SnapshotManager(snapshots, aggregate_class, interval=snapshot_interval, clock=clock)
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
        """The reference design's name for :meth:`load`; the report is in ``last_report``."""
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
            stale_before = self.snapshots.stale_ignored
            aggregate = self.snapshots.restore(aggregate_id)
            stale = self.snapshots.stale_ignored > stale_before
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

    def saved(self, aggregate: A, recorded: list[Event], report: LoadReport) -> None:
        """After a successful append: bring ``aggregate`` up to date, cache it, maybe snapshot.

        ``aggregate`` and ``report`` are what :meth:`load_with_report` returned before the
        append; ``aggregate`` is changed in place.
        """
        for event in recorded:
            aggregate.apply(event)
        snapshot_version = report.snapshot_version
        snapshots = self.snapshots
        if snapshots is not None and snapshots.due(snapshot_version, aggregate.version):
            taken = snapshots.take(aggregate)
            snapshot_version = aggregate.version if taken else snapshot_version
        if self.cache is not None:
            self.cache.put(aggregate, snapshot_version)

    def forget(self, aggregate_id: str) -> None:
        """Drop the cached copy (after a conflict: never trust what we thought we knew)."""
        if self.cache is not None:
            self.cache.evict(self.aggregate_class.aggregate_type, aggregate_id)
