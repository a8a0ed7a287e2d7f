"""The snapshot store contract: every promise of a snapshot store, run unchanged against each.

Each store gets a subclass of `SnapshotStoreContract` that only says how to open it (and
reopen it), as the event stores do in `test_event_store_contract.py`.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from esteach import (
    DuckDBEventStore,
    DuckDBSnapshotStore,
    InMemorySnapshotStore,
    InvalidInput,
    NewEvent,
    SeededIds,
    Snapshot,
    SnapshotStore,
    StepClock,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=1)

# Every JSON shape a state can hold, including what a careless store would mangle: non-ASCII
# text, quotes and backslashes, an int beyond float precision, a float that is not exact in
# binary, nesting, and the difference between 1, 1.0 and True.
RICH_STATE: dict[str, Any] = {
    "name": 'Zoë "名前" 🧪 back\\slash',
    "big": 2**53 + 1,
    "huge": 10**20,
    "tenth": 0.1,
    "tiny": -1.5e-7,
    "one": 1,
    "one_float": 1.0,
    "flag": True,
    "nothing": None,
    "empty": "",
    "items": [1, "two", {"three": [3, None, False]}],
    "nested": {"deeper": {"deepest": ["x", {"y": {}}]}},
}


def snapshot(
    version: int = 7,
    state: dict[str, Any] | None = None,
    *,
    aggregate_id: str = "user-alpha",
    aggregate_type: str = "User",
    schema_version: int = 1,
    timestamp: datetime = START,
) -> Snapshot:
    return Snapshot(
        aggregate_id=aggregate_id,
        aggregate_type=aggregate_type,
        version=version,
        state={"at": version} if state is None else state,
        schema_version=schema_version,
        timestamp=timestamp,
    )


def exact(value: object) -> str:
    """Canonical JSON text: tells 1 from 1.0 from True, which ``==`` does not."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- one contract, every snapshot store -------------------------------------------------------


class SnapshotStoreContract(abc.ABC):
    """Every promise of a snapshot store. Subclasses say how to open (and reopen) theirs."""

    @abc.abstractmethod
    def make_store(self) -> SnapshotStore:
        """A new, empty snapshot store."""

    def reopen(self, store: SnapshotStore) -> SnapshotStore:
        """Close ``store`` and open its data again; skip when the store cannot be reopened."""
        pytest.skip(f"{type(store).__name__} keeps its snapshots only while it is open")

    @pytest.fixture(autouse=True)
    def _close_afterwards(self) -> Iterator[None]:
        self._opened: list[Any] = []
        yield
        for opened in reversed(self._opened):
            with contextlib.suppress(Exception):  # a test may have closed it already
                opened.close()

    @pytest.fixture
    def store(self) -> SnapshotStore:
        store = self.make_store()
        self._opened.append(store)
        return store

    def open_again(self, store: SnapshotStore) -> SnapshotStore:
        again = self.reopen(store)
        self._opened.append(again)
        return again

    # --- round trip --------------------------------------------------------------------------

    def test_a_saved_snapshot_comes_back_with_every_field_equal(self, store: SnapshotStore) -> None:
        saved = snapshot(
            41,
            RICH_STATE,
            aggregate_type="BankAccount",
            schema_version=3,
            timestamp=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        )
        store.save(saved)

        got = store.get_latest("user-alpha")

        assert got is not None
        assert got.aggregate_id == "user-alpha"
        assert got.aggregate_type == "BankAccount"
        assert got.version == 41
        assert got.schema_version == 3
        assert got.timestamp == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        assert exact(got.state) == exact(RICH_STATE)
        assert got == saved

    def test_a_timestamp_with_another_utc_offset_comes_back_as_the_same_instant(
        self, store: SnapshotStore
    ) -> None:
        two_hours_east = timezone(timedelta(hours=2))
        store.save(snapshot(timestamp=datetime(2024, 5, 6, 9, 0, tzinfo=two_hours_east)))

        got = store.get_latest("user-alpha")

        assert got is not None
        assert got.timestamp == datetime(2024, 5, 6, 7, 0, tzinfo=UTC)

    def test_an_aggregate_without_a_snapshot_has_none(self, store: SnapshotStore) -> None:
        store.save(snapshot(aggregate_id="user-alpha"))

        assert store.get_latest("user-beta") is None

    def test_snapshots_of_different_aggregates_are_kept_apart(self, store: SnapshotStore) -> None:
        store.save(snapshot(3, {"who": "alpha"}, aggregate_id="user-alpha"))
        store.save(snapshot(9, {"who": "beta"}, aggregate_id="user-beta"))

        alpha, beta = store.get_latest("user-alpha"), store.get_latest("user-beta")

        assert alpha is not None and beta is not None
        assert (alpha.version, alpha.state) == (3, {"who": "alpha"})
        assert (beta.version, beta.state) == (9, {"who": "beta"})

    # --- the newest snapshot wins ----------------------------------------------------------------

    def test_a_newer_snapshot_replaces_an_older_one(self, store: SnapshotStore) -> None:
        store.save(snapshot(5, {"at": 5}, schema_version=1))
        store.save(snapshot(8, {"at": 8}, schema_version=2, timestamp=START + STEP))

        got = store.get_latest("user-alpha")

        assert got == snapshot(8, {"at": 8}, schema_version=2, timestamp=START + STEP)

    def test_an_older_snapshot_never_replaces_a_newer_one(self, store: SnapshotStore) -> None:
        newer = snapshot(8, {"at": 8}, schema_version=1, timestamp=START)
        store.save(newer)
        # A slow writer finishing last, with an older version (and even a newer schema and time).
        store.save(snapshot(5, {"at": 5}, schema_version=2, timestamp=START + STEP))

        assert store.get_latest("user-alpha") == newer

    def test_a_snapshot_at_the_same_version_replaces_the_kept_one(
        self, store: SnapshotStore
    ) -> None:
        # SnapshotStore.save promises to keep a snapshot "unless a snapshot at a *later* version
        # is already kept". Re-taking a snapshot at the same version is how a stale snapshot
        # (older state schema) is replaced after the code changed.
        store.save(snapshot(8, {"old_shape": 1}, schema_version=1))
        store.save(snapshot(8, {"new_shape": 1}, schema_version=2, timestamp=START + STEP))

        got = store.get_latest("user-alpha")

        assert got is not None
        assert (got.schema_version, got.state) == (2, {"new_shape": 1})

    # --- delete --------------------------------------------------------------------------------

    def test_delete_removes_only_that_aggregates_snapshot(self, store: SnapshotStore) -> None:
        store.save(snapshot(aggregate_id="user-alpha"))
        store.save(snapshot(aggregate_id="user-beta"))

        store.delete("user-alpha")

        assert store.get_latest("user-alpha") is None
        assert store.get_latest("user-beta") is not None

    def test_after_delete_an_older_snapshot_can_be_saved_again(self, store: SnapshotStore) -> None:
        store.save(snapshot(9))
        store.delete("user-alpha")
        store.save(snapshot(2, {"at": 2}))

        got = store.get_latest("user-alpha")

        assert got is not None and got.version == 2

    def test_deleting_a_snapshot_that_does_not_exist_is_harmless(
        self, store: SnapshotStore
    ) -> None:
        store.delete("user-nobody")

        assert store.get_latest("user-nobody") is None

    # --- state is copied ---------------------------------------------------------------------

    def test_changing_the_saved_state_dict_afterwards_does_not_change_the_stored_one(
        self, store: SnapshotStore
    ) -> None:
        state: dict[str, Any] = {"name": "Ada", "tags": ["a"], "address": {"city": "Paris"}}
        store.save(snapshot(4, state))

        state["name"] = "Mallory"
        state["tags"].append("b")
        state["address"]["city"] = "Nowhere"

        got = store.get_latest("user-alpha")
        assert got is not None
        assert got.state == {"name": "Ada", "tags": ["a"], "address": {"city": "Paris"}}

    def test_changing_a_returned_state_does_not_change_the_stored_one(
        self, store: SnapshotStore
    ) -> None:
        store.save(snapshot(4, {"name": "Ada", "tags": ["a"], "address": {"city": "Paris"}}))
        first = store.get_latest("user-alpha")
        assert first is not None

        first.state["name"] = "Mallory"
        first.state["tags"].append("b")
        first.state["address"]["city"] = "Nowhere"

        again = store.get_latest("user-alpha")
        assert again is not None
        assert again.state == {"name": "Ada", "tags": ["a"], "address": {"city": "Paris"}}

    def test_a_state_that_is_not_json_is_refused_and_nothing_is_kept(
        self, store: SnapshotStore
    ) -> None:
        with pytest.raises(InvalidInput):
            store.save(snapshot(3, {"when": datetime(2024, 1, 1, tzinfo=UTC)}))

        assert store.get_latest("user-alpha") is None

    # --- reopening -------------------------------------------------------------------------------

    def test_a_reopened_store_still_has_the_newest_snapshot(self, store: SnapshotStore) -> None:
        store.save(snapshot(3, {"at": 3}))
        store.save(snapshot(12, RICH_STATE, schema_version=2, timestamp=START + STEP))

        again = self.open_again(store)

        got = again.get_latest("user-alpha")
        assert got is not None
        assert (got.version, got.schema_version, got.timestamp) == (12, 2, START + STEP)
        assert exact(got.state) == exact(RICH_STATE)
        again.save(snapshot(11, {"at": 11}))  # still refuses an older one after reopening
        assert again.get_latest("user-alpha") == got


class TestInMemorySnapshotStore(SnapshotStoreContract):
    def make_store(self) -> SnapshotStore:
        return InMemorySnapshotStore()


class TestDuckDBSnapshotStoreInMemory(SnapshotStoreContract):
    def make_store(self) -> SnapshotStore:
        return DuckDBSnapshotStore(":memory:")


class TestDuckDBSnapshotStoreOnAFile(SnapshotStoreContract):
    @pytest.fixture(autouse=True)
    def _database_file(self, tmp_path: Path) -> None:
        self.path = tmp_path / "snapshots.duckdb"

    def make_store(self) -> SnapshotStore:
        return DuckDBSnapshotStore(self.path)

    def reopen(self, store: SnapshotStore) -> SnapshotStore:
        store.close()  # type: ignore[attr-defined]
        return self.make_store()


class TestDuckDBSnapshotStoreSharingTheEventStoreFile(SnapshotStoreContract):
    """Snapshots in the same DuckDB file as the events, the way a notebook keeps one file."""

    @pytest.fixture(autouse=True)
    def _database_file(self, tmp_path: Path) -> None:
        self.path = tmp_path / "shop.duckdb"
        self.events: DuckDBEventStore | None = None

    def make_store(self) -> SnapshotStore:
        self.events = self.open_events()
        self.events.append_events("user-alpha", 0, [user_created("user-alpha")])
        return DuckDBSnapshotStore(self.path)

    def reopen(self, store: SnapshotStore) -> SnapshotStore:
        assert self.events is not None
        store.close()  # type: ignore[attr-defined]
        self.events.close()
        self.events = self.open_events()
        assert self.events.stream_version("user-alpha") == 1  # the events are still there
        return DuckDBSnapshotStore(self.path)

    def open_events(self) -> DuckDBEventStore:
        events = DuckDBEventStore(self.path, clock=StepClock(START, STEP), ids=SeededIds(1))
        self._opened.append(events)
        return events


def user_created(user_id: str, name: str = "Ada") -> NewEvent:
    return NewEvent(
        "UserCreated",
        {"user_id": user_id, "email": f"{user_id}@example.com", "name": name},
        aggregate_type="User",
    )
