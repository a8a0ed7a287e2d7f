"""``AggregateCache``: an LRU cache of loaded aggregates that is never stale.

The reference design cached *events* under ``aggregate_id:from_version`` and never updated the
entry on append, so readers saw old state after a write. Here the cache holds an aggregate
together with the version it was loaded at, and the `Repository`
asks the store for the events after that version on every load. With nothing new that reads
zero events; after another writer appended (another processor, another store object on the
same file) it applies just the new ones. A conflict evicts the entry.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass

from esteach.aggregate import Aggregate
from esteach.checks import check_int

__all__ = ["AggregateCache", "CacheEntry"]


@dataclass(frozen=True)
class CacheEntry:
    """A cached aggregate (a private copy) and the version of its latest snapshot."""

    aggregate: Aggregate
    snapshot_version: int


class AggregateCache:
    """Keeps up to ``maxsize`` aggregates, dropping the least recently used.

    Entries are copied in and out, so nobody can change a cached aggregate behind the cache.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        check_int(maxsize, "cache maxsize", 1)
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str], CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, aggregate_type: str, aggregate_id: str) -> CacheEntry | None:
        key = (aggregate_type, aggregate_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return CacheEntry(copy.deepcopy(entry.aggregate), entry.snapshot_version)

    def put(self, aggregate: Aggregate, snapshot_version: int) -> None:
        key = (aggregate.aggregate_type, aggregate.aggregate_id)
        entry = CacheEntry(copy.deepcopy(aggregate), snapshot_version)
        with self._lock:
            kept = self._entries.get(key)
            # Two loads racing: keep whichever saw more of the stream.
            if kept is not None and kept.aggregate.version > aggregate.version:
                return
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
                self.evictions += 1

    def evict(self, aggregate_type: str, aggregate_id: str) -> None:
        with self._lock:
            if self._entries.pop((aggregate_type, aggregate_id), None) is not None:
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
