"""Snapshots: a saved copy of an aggregate's state at a version, so a load replays only the tail.

A load with snapshots reads the latest snapshot and then only the events after it. Three rules
keep that correct (the reference design broke each):

* the policy is "at least ``interval`` events since the last snapshot", checked after every
  append, so a command that appends several events cannot jump over it;
* every snapshot records the aggregate's ``snapshot_version`` (the shape of its state); one
  taken by older code is ignored, counted, and the aggregate rebuilt by full replay;
* taking a snapshot is an optimisation: if it fails, the command that triggered it still
  succeeds (the failure is counted and logged).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from esteach.aggregate import Aggregate
from esteach.checks import check_aggregate_id, check_int
from esteach.determinism import Clock, system_clock
from esteach.duck import json_text, naive_utc, open_file, utc
from esteach.jsondata import ensure_json_data

__all__ = [
    "DuckDBSnapshotStore",
    "InMemorySnapshotStore",
    "Restored",
    "Snapshot",
    "SnapshotManager",
    "SnapshotStore",
]

log = logging.getLogger(__name__)
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An aggregate's state after event ``version``, in the shape ``schema_version`` names."""

    aggregate_id: str
    aggregate_type: str
    version: int
    state: dict[str, Any]
    schema_version: int
    timestamp: datetime


class SnapshotStore(Protocol):
    """Keeps the newest snapshot of each aggregate."""

    def save(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` unless a snapshot at a later version is already kept.

        One at the same version replaces the kept one: after a change of the state's shape,
        the new snapshot must win over the stale one.
        """
        ...

    def get_latest(self, aggregate_id: str) -> Snapshot | None: ...

    def delete(self, aggregate_id: str) -> None: ...


class InMemorySnapshotStore:
    """Snapshots in a dict; thread-safe."""

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def save(self, snapshot: Snapshot) -> None:
        state = ensure_json_data(snapshot.state, "snapshot state")  # a copy: no shared dicts
        with self._lock:
            kept = self._snapshots.get(snapshot.aggregate_id)
            if kept is None or snapshot.version >= kept.version:
                self._snapshots[snapshot.aggregate_id] = dataclasses.replace(snapshot, state=state)

    def get_latest(self, aggregate_id: str) -> Snapshot | None:
        with self._lock:
            kept = self._snapshots.get(check_aggregate_id(aggregate_id))
        if kept is None:
            return None
        return dataclasses.replace(kept, state=ensure_json_data(kept.state, "snapshot state"))

    def delete(self, aggregate_id: str) -> None:
        with self._lock:
            self._snapshots.pop(aggregate_id, None)

    def __len__(self) -> int:
        return len(self._snapshots)


SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_id   VARCHAR PRIMARY KEY,
    aggregate_type VARCHAR   NOT NULL,
    version        BIGINT    NOT NULL,
    schema_version INTEGER   NOT NULL,
    state          JSON      NOT NULL,
    timestamp      TIMESTAMP NOT NULL  -- UTC
)
"""
# An older snapshot never replaces a newer one, whichever writer finishes last; one at the
# same version does (a re-take after a change of the state's shape).
SAVE_SNAPSHOT = """
INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (aggregate_id) DO UPDATE SET
    aggregate_type = excluded.aggregate_type, version = excluded.version,
    schema_version = excluded.schema_version, state = excluded.state,
    timestamp = excluded.timestamp
WHERE excluded.version >= snapshots.version
"""
GET_SNAPSHOT = """
SELECT aggregate_id, aggregate_type, version, state, schema_version, timestamp
FROM snapshots WHERE aggregate_id = ?
"""
DELETE_SNAPSHOT = "DELETE FROM snapshots WHERE aggregate_id = ?"


class DuckDBSnapshotStore:
    """Snapshots in a DuckDB ``snapshots`` table; may share the event store's file."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        # Names the cause (a file another process holds, a full disk...) and leaves no file
        # behind when the open fails (esteach.duck).
        self._conn = open_file(self.path, setup=lambda conn: conn.execute(SNAPSHOT_SCHEMA))
        self._lock = threading.Lock()

    def save(self, snapshot: Snapshot) -> None:
        state = json_text(ensure_json_data(snapshot.state, "snapshot state"))
        timestamp = naive_utc(snapshot.timestamp)
        params = [
            snapshot.aggregate_id,
            snapshot.aggregate_type,
            snapshot.version,
            snapshot.schema_version,
            state,
            timestamp,
        ]
        with self._lock:
            self._conn.execute(SAVE_SNAPSHOT, params)

    def get_latest(self, aggregate_id: str) -> Snapshot | None:
        with self._lock:
            rows = self._conn.execute(GET_SNAPSHOT, [check_aggregate_id(aggregate_id)]).fetchall()
            row = rows[0] if rows else None
        if row is None:
            return None
        aggregate_id, aggregate_type, version, state, schema_version, timestamp = row
        return Snapshot(
            aggregate_id,
            aggregate_type,
            version,
            json.loads(state),
            schema_version,
            utc(timestamp),
        )

    def delete(self, aggregate_id: str) -> None:
        with self._lock:
            self._conn.execute(DELETE_SNAPSHOT, [aggregate_id])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclass(frozen=True, slots=True)
class Restored(Generic[A]):
    """What `SnapshotManager.restore` found: the aggregate, or ``None`` and why not."""

    aggregate: A | None
    stale: bool = False  # a snapshot of another state shape was there, and ignored


class SnapshotManager(Generic[A]):
    """Takes and restores snapshots of one aggregate class under an every-N-events policy.

    >>> from esteach.domains.user import User
    >>> manager = SnapshotManager(InMemorySnapshotStore(), User, interval=100)
    >>> manager.due(last_snapshot_version=0, version=99), manager.due(0, 100)
    (False, True)
    """

    def __init__(
        self,
        snapshot_store: SnapshotStore,
        aggregate_class: type[A],
        *,
        interval: int = 100,
        clock: Clock = system_clock,
    ) -> None:
        check_int(interval, "snapshot interval", 1)
        self.snapshot_store = snapshot_store
        self.aggregate_class = aggregate_class
        self.interval = interval
        self._clock = clock
        self.taken = 0
        self.stale_ignored = 0
        self.failures = 0

    def due(self, last_snapshot_version: int, version: int) -> bool:
        """At least ``interval`` events since the last snapshot (never "exactly on a multiple")."""
        return version - last_snapshot_version >= self.interval

    def restore(self, aggregate_id: str) -> Restored[A]:
        """The aggregate from its latest usable snapshot (``None``: none, stale or unreadable),
        and whether a stale snapshot was ignored.

        Like taking one, reading a snapshot never fails a load: an unreadable snapshot is
        counted in ``failures`` and the aggregate replayed.
        """
        try:
            snapshot = self.snapshot_store.get_latest(aggregate_id)
            if snapshot is None:
                return Restored(None)
            current = self.aggregate_class.snapshot_version
            if snapshot.schema_version != current:
                self.stale_ignored += 1
                log.info(
                    "ignoring snapshot of %s at version %d: state schema %d, code expects %d",
                    aggregate_id,
                    snapshot.version,
                    snapshot.schema_version,
                    current,
                )
                return Restored(None, stale=True)
            state = snapshot.state
            return Restored(
                self.aggregate_class.from_snapshot(aggregate_id, snapshot.version, state)
            )
        except Exception:
            self.failures += 1
            log.warning("snapshot of %s unreadable; replaying", aggregate_id, exc_info=True)
            return Restored(None)

    def take(self, aggregate: A) -> bool:
        """Save a snapshot of ``aggregate``; never raises (a failed snapshot costs only speed)."""
        try:
            self.snapshot_store.save(
                Snapshot(
                    aggregate_id=aggregate.aggregate_id,
                    aggregate_type=aggregate.aggregate_type,
                    version=aggregate.version,
                    state=aggregate.to_snapshot(),
                    schema_version=aggregate.snapshot_version,
                    timestamp=self._clock(),
                )
            )
        except Exception:
            self.failures += 1
            log.warning("snapshot of %s failed; continuing without it", aggregate.aggregate_id,
                        exc_info=True)  # fmt: skip
            return False
        self.taken += 1
        return True
