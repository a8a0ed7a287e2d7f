"""``AggregateCache``: bounded, copied in and out, and never stale (flaw 9).

The reference design cached events under ``aggregate_id:from_version`` and never touched the
entry on append, so a reader saw old state after a write. Here the cache keeps an aggregate
and the version it was loaded at; every load asks the store for the events after that version,
so a write by anyone (another processor, another store object on the same file) shows up on
the next load, and a conflict evicts the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from esteach import (
    AggregateCache,
    CommandProcessor,
    ConcurrencyConflict,
    DuckDBEventStore,
    Event,
    EventStore,
    InMemoryEventStore,
    InMemorySnapshotStore,
    InvalidInput,
    NewEvent,
    Repository,
    SeededIds,
    StepClock,
)
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserNotActive,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=1)


def user(user_id: str, version: int = 1, name: str = "Ada") -> User:
    """A ``User`` at ``version``, built without a store (the cache does not care where from)."""
    made = User(user_id)
    made.email, made.name, made.status = f"{user_id}@example.com", name, "active"
    made._version = version
    return made


def memory_store(seed: int = 1) -> InMemoryEventStore:
    return InMemoryEventStore(clock=StepClock(START, STEP), ids=SeededIds(seed))


# --- the cache on its own ---------------------------------------------------------------------


@pytest.mark.parametrize("maxsize", [0, -1, True, False, 2.5, "10", None])
def test_a_maxsize_that_is_not_a_positive_int_is_refused(maxsize: Any) -> None:
    with pytest.raises(InvalidInput, match="maxsize"):
        AggregateCache(maxsize)


def test_the_least_recently_used_aggregate_is_evicted_first() -> None:
    cache = AggregateCache(maxsize=2)
    cache.put(user("u-a"), 0)
    cache.put(user("u-b"), 0)
    cache.put(user("u-c"), 0)

    assert ("User", "u-a") not in cache
    assert ("User", "u-b") in cache and ("User", "u-c") in cache
    assert (len(cache), cache.evictions) == (2, 1)


def test_reading_an_entry_makes_it_the_most_recently_used() -> None:
    cache = AggregateCache(maxsize=2)
    cache.put(user("u-a"), 0)
    cache.put(user("u-b"), 0)
    assert cache.get("User", "u-a") is not None  # u-a is now newer than u-b

    cache.put(user("u-c"), 0)

    assert ("User", "u-b") not in cache
    assert ("User", "u-a") in cache and ("User", "u-c") in cache


def test_putting_an_entry_again_makes_it_the_most_recently_used() -> None:
    cache = AggregateCache(maxsize=2)
    cache.put(user("u-a"), 0)
    cache.put(user("u-b"), 0)
    cache.put(user("u-a", version=2), 0)

    cache.put(user("u-c"), 0)

    assert ("User", "u-b") not in cache
    entry = cache.get("User", "u-a")
    assert entry is not None and entry.aggregate.version == 2


def test_the_cache_never_holds_more_than_maxsize_aggregates() -> None:
    cache = AggregateCache(maxsize=3)
    sizes = []
    for n in range(20):
        cache.put(user(f"u-{n}"), 0)
        sizes.append(len(cache))

    assert sizes == [1, 2, 3] + [3] * 17
    assert cache.evictions == 17
    assert [("User", f"u-{n}") in cache for n in range(20)] == [False] * 17 + [True] * 3


def test_entries_are_kept_per_aggregate_type_and_id() -> None:
    cache = AggregateCache(maxsize=4)
    account = BankAccount("same-id")
    cache.put(user("same-id", name="Ada"), 0)
    cache.put(account, 0)

    user_entry = cache.get("User", "same-id")
    account_entry = cache.get("BankAccount", "same-id")

    assert user_entry is not None and isinstance(user_entry.aggregate, User)
    assert account_entry is not None and isinstance(account_entry.aggregate, BankAccount)


def test_hits_and_misses_are_counted() -> None:
    cache = AggregateCache(maxsize=4)
    assert cache.get("User", "u-a") is None
    cache.put(user("u-a"), 0)
    assert cache.get("User", "u-a") is not None
    assert cache.get("User", "u-a") is not None
    assert cache.get("User", "u-b") is None

    assert (cache.hits, cache.misses) == (2, 2)


def test_the_snapshot_version_is_kept_with_the_aggregate() -> None:
    cache = AggregateCache(maxsize=4)
    cache.put(user("u-a", version=250), 200)

    entry = cache.get("User", "u-a")

    assert entry is not None and (entry.aggregate.version, entry.snapshot_version) == (250, 200)


def test_an_older_copy_never_replaces_a_newer_one() -> None:
    # Two loads racing: the one that read more of the stream wins, whichever finishes last.
    cache = AggregateCache(maxsize=4)
    cache.put(user("u-a", version=5, name="newer"), 0)
    cache.put(user("u-a", version=3, name="older"), 0)

    entry = cache.get("User", "u-a")

    assert entry is not None and (entry.aggregate.version, entry.aggregate.name) == (5, "newer")


def test_evict_and_clear_empty_the_cache() -> None:
    cache = AggregateCache(maxsize=4)
    cache.put(user("u-a"), 0)
    cache.put(user("u-b"), 0)

    cache.evict("User", "u-a")
    cache.evict("User", "u-nobody")  # nothing to evict: not counted

    assert ("User", "u-a") not in cache and cache.evictions == 1
    cache.clear()
    assert len(cache) == 0 and cache.get("User", "u-b") is None


# --- copies in and out ------------------------------------------------------------------------


def test_changing_an_aggregate_after_putting_it_does_not_change_the_cache() -> None:
    cache = AggregateCache(maxsize=4)
    original = user("u-a", name="Ada")
    cache.put(original, 0)

    original.name = "Mallory"

    entry = cache.get("User", "u-a")
    assert entry is not None and entry.aggregate.name == "Ada"
    assert entry.aggregate is not original


def test_changing_a_cached_copy_does_not_change_the_cache() -> None:
    cache = AggregateCache(maxsize=4)
    cache.put(user("u-a", name="Ada"), 0)
    first = cache.get("User", "u-a")
    assert first is not None

    first.aggregate.name = "Mallory"  # type: ignore[attr-defined]

    again = cache.get("User", "u-a")
    assert again is not None and again.aggregate.name == "Ada"  # type: ignore[attr-defined]


def test_changing_a_loaded_aggregate_does_not_change_what_the_next_load_returns() -> None:
    store = memory_store()
    processor = CommandProcessor(store, User, cache=AggregateCache(8), ids=SeededIds(2))
    processor.process_command(CreateUser("u-1", "ada@example.com", "Ada"))

    loaded = processor.load("u-1")
    loaded.name, loaded.status = "Mallory", "deactivated"

    again, report = processor.repository.load_with_report("u-1")
    assert report.source == "cache"
    assert (again.name, again.status) == ("Ada", "active")
    # ... and the processor decides on the real state, not on the learner's edits.
    assert processor.process_command(ChangeName("u-1", "Ada L.")).version == 2


# --- never stale ---------------------------------------------------------------------------------


def test_a_write_by_another_processor_on_the_same_store_is_seen_through_the_cache() -> None:
    store = memory_store()
    cached = CommandProcessor(store, User, cache=AggregateCache(8), ids=SeededIds(2))
    other = CommandProcessor(store, User, ids=SeededIds(3))
    cached.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
    assert cached.load("u-1").name == "Ada"  # now cached

    other.process_command(ChangeName("u-1", "Countess"))

    loaded, report = cached.repository.load_with_report("u-1")
    assert (report.source, report.events_read) == ("cache", 1)
    assert (loaded.version, loaded.name) == (2, "Countess")


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    return tmp_path / "users.duckdb"


def test_a_write_through_a_second_store_object_on_the_same_duckdb_file_is_seen(
    database_file: Path,
) -> None:
    first = DuckDBEventStore(database_file, clock=StepClock(START, STEP), ids=SeededIds(1))
    second = DuckDBEventStore(database_file, clock=StepClock(START, STEP), ids=SeededIds(2))
    try:
        cache = AggregateCache(8)
        cached = CommandProcessor(first, User, cache=cache, ids=SeededIds(3))
        other = CommandProcessor(second, User, ids=SeededIds(4))
        cached.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
        assert cached.load("u-1").version == 1
        hits_before = cache.hits

        other.process_command(ChangeEmail("u-1", "ada@lovelace.org"))
        other.process_command(DeactivateUser("u-1"))

        loaded, report = cached.repository.load_with_report("u-1")
        assert cache.hits == hits_before + 1  # it did come from the cache ...
        assert (report.source, report.events_read) == ("cache", 2)  # ... plus the new events
        assert loaded.state() == {
            "aggregate_id": "u-1",
            "version": 3,
            "email": "ada@lovelace.org",
            "name": "Ada",
            "status": "deactivated",
        }
        # A decision through the cache uses the fresh state: the user is no longer active.
        with pytest.raises(UserNotActive):
            cached.process_command(ChangeName("u-1", "Countess"))
        assert second.stream_version("u-1") == 3
    finally:
        second.close()
        first.close()


@pytest.mark.parametrize("via", ["append", "bulk_import"])
def test_a_cache_hit_never_trusts_a_stale_stream_head(database_file: Path, via: str) -> None:
    # A hit with nothing new may skip reading events, so whatever says "nothing new" (the
    # store's stream version) must know about every write, by any store object, by any path.
    first = DuckDBEventStore(database_file, clock=StepClock(START, STEP), ids=SeededIds(1))
    second = DuckDBEventStore(database_file, clock=StepClock(START, STEP), ids=SeededIds(2))
    try:
        cached = CommandProcessor(first, User, cache=AggregateCache(8), ids=SeededIds(3))
        cached.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
        _, warm = cached.repository.load_with_report("u-1")
        assert (warm.source, warm.events_read) == ("cache", 0)

        renamed = Event(
            "renamed-by-import",
            "u-1",
            "User",
            "UserNameChanged",
            2,
            START + timedelta(days=1),
            {"new_name": "Imported"},
        )
        if via == "append":
            second.append_events("u-1", 1, [NewEvent("UserNameChanged", renamed.data, "User")])
        else:
            assert second.bulk_import([renamed]) == 1

        loaded, report = cached.repository.load_with_report("u-1")
        assert (report.source, report.events_read) == ("cache", 1)
        assert (loaded.version, loaded.name) == (2, "Imported")
    finally:
        second.close()
        first.close()


class ConflictingStore:
    """A real store, except that just before each of the first ``conflicts`` appends another
    writer (``interfere``) changes the stream, so the append meets a stream that moved on."""

    def __init__(self, inner: EventStore, interfere: Callable[[], object], conflicts: int) -> None:
        self.inner = inner
        self.interfere = interfere
        self.conflicts = conflicts
        self.appends_tried = 0

    def append_events(
        self, aggregate_id: str, expected_version: Any, events: Sequence[NewEvent]
    ) -> list[Event]:
        self.appends_tried += 1
        if self.conflicts > 0:
            self.conflicts -= 1
            self.interfere()
        return self.inner.append_events(aggregate_id, expected_version, events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(params=["memory", "duckdb-file"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two store objects on the same events: one object twice, or two on one DuckDB file."""
    if request.param == "memory":
        store = memory_store()
        yield store, store
        store.close()
    else:
        path = tmp_path / "conflict.duckdb"
        first = DuckDBEventStore(path, clock=StepClock(START, STEP), ids=SeededIds(1))
        second = DuckDBEventStore(path, clock=StepClock(START, STEP), ids=SeededIds(2))
        yield first, second
        second.close()
        first.close()


def test_a_conflict_evicts_the_cached_aggregate_and_the_retry_succeeds(
    two_stores: tuple[EventStore, EventStore],
) -> None:
    mine, theirs = two_stores
    other = CommandProcessor(theirs, User, ids=SeededIds(3))
    wrapped = ConflictingStore(
        mine, lambda: other.process_command(ChangeEmail("u-1", "ada@lovelace.org")), conflicts=0
    )
    cache = AggregateCache(8)
    processor = CommandProcessor(wrapped, User, cache=cache, ids=SeededIds(4))  # type: ignore[arg-type]
    processor.process_command(CreateUser("u-1", "ada@example.com", "Ada"))
    assert ("User", "u-1") in cache
    wrapped.conflicts = 1
    misses_before = cache.misses

    result = processor.process_command(ChangeName("u-1", "Countess"))

    assert result.attempts == 2
    assert wrapped.appends_tried == 3
    assert cache.evictions == 1  # the conflict threw the cached copy away ...
    assert cache.misses == misses_before + 1  # ... so the retry loaded afresh
    assert result.version == 3
    assert [e.event_type for e in theirs.get_events("u-1")] == [
        "UserCreated",
        "UserEmailChanged",
        "UserNameChanged",
    ]
    loaded, report = processor.repository.load_with_report("u-1")
    assert (report.source, report.events_read) == ("cache", 0)
    assert loaded.state() == Repository(theirs, User).load("u-1").state()
    assert (loaded.email, loaded.name) == ("ada@lovelace.org", "Countess")


def test_when_conflicts_exhaust_the_retries_the_cache_keeps_nothing_for_that_aggregate() -> None:
    store = memory_store()
    other = CommandProcessor(store, BankAccount, ids=SeededIds(3))
    wrapped = ConflictingStore(
        store, lambda: other.process_command(DepositMoney("acc-1", 100)), conflicts=0
    )
    cache = AggregateCache(8)
    processor = CommandProcessor(
        wrapped,  # type: ignore[arg-type]
        BankAccount,
        cache=cache,
        max_retries=2,
        ids=SeededIds(4),
    )
    processor.process_command(OpenAccount("acc-1", "Ada"))
    assert ("BankAccount", "acc-1") in cache
    wrapped.conflicts = 10

    with pytest.raises(ConcurrencyConflict):
        processor.process_command(DepositMoney("acc-1", 5))

    assert ("BankAccount", "acc-1") not in cache
    assert store.stream_version("acc-1") == 4  # opened, then the other writer's 3 deposits
    loaded, report = processor.repository.load_with_report("acc-1")
    assert (report.source, loaded.balance) == ("replay", 300)


# --- counts, not times: what the cache saves on a long stream ------------------------------------

LONG = 10_000  # the stream of the long_stream_store fixture (tests/conftest.py)


def test_a_cached_10000_event_stream_reads_no_events_and_then_exactly_the_new_one(
    long_stream_store: EventStore,
) -> None:
    event_store = long_stream_store
    snapshots = InMemorySnapshotStore()
    cache = AggregateCache(8)
    cached = CommandProcessor(
        event_store, User, snapshots=snapshots, snapshot_interval=100, cache=cache, ids=SeededIds(2)
    )
    # Another processor: its own repository, no cache shared with the first.
    other = CommandProcessor(
        event_store, User, snapshots=snapshots, snapshot_interval=100, ids=SeededIds(3)
    )

    _, first = cached.repository.load_with_report("u-long")
    assert (first.source, first.events_read) == ("replay", LONG)

    cached.process_command(ChangeName("u-long", "after the import"))  # snapshot at LONG + 1
    _, hit = cached.repository.load_with_report("u-long")
    assert (hit.source, hit.events_read, hit.version) == ("cache", 0, LONG + 1)

    other.process_command(ChangeEmail("u-long", "long@lovelace.org"))
    assert other.repository.last_report is not None
    assert other.repository.last_report.events_read == 0  # it loaded from the snapshot

    loaded, after = cached.repository.load_with_report("u-long")
    assert (after.source, after.events_read, after.version) == ("cache", 1, LONG + 2)
    assert (loaded.name, loaded.email) == ("after the import", "long@lovelace.org")
    # In total: one full replay, then nothing, nothing, and the one new event.
    assert cached.repository.events_read == LONG + 1
    assert cached.repository.loads == 4


def test_load_aggregate_is_load_and_leaves_its_report() -> None:
    store = InMemoryEventStore()
    CommandProcessor(store, User).process_command(CreateUser("u-1", "ada@example.com", "Ada"))
    repository = Repository(store, User, snapshots=InMemorySnapshotStore(), snapshot_interval=1)
    user = repository.load_aggregate("u-1")
    assert (user.version, user.name) == (1, "Ada")
    assert repository.last_report is not None
    assert (repository.last_report.source, repository.last_report.events_read) == ("replay", 1)
