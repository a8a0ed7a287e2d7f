"""Properties of loading: however an aggregate is loaded, it is the aggregate its events say.

Hypothesis writes random command sequences (valid or not: a rejected command records nothing)
for ``User`` and ``BankAccount``, sent through two processors on one store:

* ``cached`` loads through an :class:`AggregateCache` and takes snapshots;
* ``other`` has no cache (it stands for another process) and takes snapshots too.

Then, for several snapshot intervals:

* snapshot + the events after it == full replay (``state()`` and version);
* a load through the cache == a load without it, after every command by either processor;
* a snapshot load reads fewer events than the interval.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esteach import (
    Aggregate,
    AggregateCache,
    Command,
    CommandProcessor,
    DomainError,
    DuckDBEventStore,
    DuckDBSnapshotStore,
    EventStore,
    InMemoryEventStore,
    InMemorySnapshotStore,
    Repository,
    SeededIds,
    SnapshotStore,
    StepClock,
)
from esteach.domains.account import (
    BankAccount,
    CloseAccount,
    DepositMoney,
    OpenAccount,
    WithdrawMoney,
)
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User

START = datetime(2024, 1, 1, tzinfo=UTC)
INTERVALS = (1, 2, 3, 7)
USER = "user-1"
ACCOUNT = "acc-1"


def weighted(*choices: tuple[int, st.SearchStrategy[Command]]) -> st.SearchStrategy[Command]:
    """Draw from each strategy ``weight`` times as often (``st.one_of`` drops repeated ones)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


# Few distinct values, so "change to the same value" (no event) happens often; one invalid
# value each, so rejected commands happen too; non-ASCII, so a store's JSON round trip is tested.
EMAILS = st.sampled_from(["ada@example.com", "ada@lovelace.org", "zoë@exämple.com", "no-at-sign"])
NAMES = st.sampled_from(["Ada", "Countess", "Zoë 名前", " "])
AMOUNTS = st.sampled_from([100, 250, 1_000, 10**12, 0, -5])

create_valid_user = st.builds(
    CreateUser, st.just(USER), st.sampled_from(["ada@example.com", "zoë@exämple.com"]), NAMES
).filter(lambda command: command.name.strip() != "")
# Changes six times as often as creating again or deactivating (which ends most sequences).
user_commands = weighted(
    (3, st.builds(ChangeEmail, st.just(USER), EMAILS)),
    (3, st.builds(ChangeName, st.just(USER), NAMES)),
    (1, st.builds(CreateUser, st.just(USER), EMAILS, NAMES)),
    (1, st.builds(DeactivateUser, st.just(USER))),
)

open_valid_account = st.builds(OpenAccount, st.just(ACCOUNT), st.just("Ada"), st.just(500))
account_commands = weighted(
    (2, st.builds(DepositMoney, st.just(ACCOUNT), AMOUNTS)),
    (2, st.builds(WithdrawMoney, st.just(ACCOUNT), AMOUNTS)),
    (1, st.builds(OpenAccount, st.just(ACCOUNT), st.sampled_from(["Ada", " "]), AMOUNTS)),
    (1, st.builds(CloseAccount, st.just(ACCOUNT))),
)

# Each step: which processor sends it, and the command. Most sequences start by validly creating
# the aggregate (else nearly every command would be rejected); some do not.
WRITERS = st.sampled_from(["cached", "other"])
USUALLY = st.sampled_from([True, True, True, False])


def steps(first: st.SearchStrategy[Command], then: st.SearchStrategy[Command]) -> Any:
    return st.builds(
        lambda start, head, tail: ([head] if start else []) + tail,
        USUALLY,
        st.tuples(WRITERS, first),
        # A length first, then exactly that many: plain st.lists would rarely pass 10 steps,
        # and a stream that never reaches an interval of 7 would test no snapshot at all.
        st.integers(0, 30).flatmap(
            lambda n: st.lists(st.tuples(WRITERS, then), min_size=n, max_size=n)
        ),
    )


user_steps = steps(create_valid_user, user_commands)
account_steps = steps(open_valid_account, account_commands)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a red test stays red
)


@contextlib.contextmanager
def memory_backend() -> Iterator[tuple[EventStore, SnapshotStore]]:
    yield (
        InMemoryEventStore(clock=StepClock(START, timedelta(seconds=1)), ids=SeededIds(1)),
        InMemorySnapshotStore(),
    )


@contextlib.contextmanager
def duckdb_backend() -> Iterator[tuple[EventStore, SnapshotStore]]:
    events = DuckDBEventStore(":memory:", clock=StepClock(START), ids=SeededIds(1))
    snapshots = DuckDBSnapshotStore(":memory:")
    try:
        yield events, snapshots
    finally:
        snapshots.close()
        events.close()


def run_and_check(
    aggregate_class: type[Aggregate],
    aggregate_id: str,
    steps: list[tuple[str, Command]],
    interval: int,
    backend: Any,
) -> None:
    with backend() as (events, snapshots):
        cache = AggregateCache(4)
        processors = {
            "cached": CommandProcessor(
                events,
                aggregate_class,
                snapshots=snapshots,
                snapshot_interval=interval,
                cache=cache,
                ids=SeededIds(2),
            ),
            "other": CommandProcessor(
                events,
                aggregate_class,
                snapshots=snapshots,
                snapshot_interval=interval,
                ids=SeededIds(3),  # not the cached processor's seed: event ids must differ
            ),
        }
        replay = Repository(events, aggregate_class)
        for writer, command in steps:
            with contextlib.suppress(DomainError):  # rejected: nothing recorded
                processors[writer].process_command(command)
            # Cached == uncached, after every command of either writer.
            through_cache = processors["cached"].load(aggregate_id)
            replayed = replay.load(aggregate_id)
            assert through_cache.state() == replayed.state()
            assert through_cache.version == replayed.version == events.stream_version(aggregate_id)

        replayed, full = replay.load_with_report(aggregate_id)
        assert (full.source, full.events_read) == ("replay", replayed.version)

        # Snapshot + tail == full replay, through a repository that has never loaded it.
        fresh = Repository(events, aggregate_class, snapshots=snapshots, snapshot_interval=interval)
        loaded, report = fresh.load_with_report(aggregate_id)
        assert loaded.state() == replayed.state()
        assert loaded.version == replayed.version
        assert report.events_read == loaded.version - report.snapshot_version
        # Both writers snapshot when due, so no load ever has a whole interval to replay.
        assert report.events_read < interval
        kept = snapshots.get_latest(aggregate_id)
        if loaded.version >= interval:
            assert kept is not None and report.source == "snapshot"
            assert kept.version == report.snapshot_version
        else:
            assert kept is None and report.source == "replay"

        # And the cached processor, after all that, still agrees.
        through_cache, cached_report = processors["cached"].repository.load_with_report(
            aggregate_id
        )
        assert through_cache.state() == replayed.state()
        if steps:
            assert cached_report.source == "cache"
            assert cached_report.events_read == 0


@SETTINGS
@given(steps=user_steps)
def test_every_way_of_loading_a_user_gives_the_same_user(steps: list[tuple[str, Command]]) -> None:
    for interval in INTERVALS:
        run_and_check(User, USER, steps, interval, memory_backend)


@SETTINGS
@given(steps=account_steps)
def test_every_way_of_loading_a_bank_account_gives_the_same_account(
    steps: list[tuple[str, Command]],
) -> None:
    for interval in INTERVALS:
        run_and_check(BankAccount, ACCOUNT, steps, interval, memory_backend)


@settings(SETTINGS, max_examples=6)
@given(user=user_steps, account=account_steps)
def test_every_way_of_loading_gives_the_same_aggregate_on_duckdb(
    user: list[tuple[str, Command]], account: list[tuple[str, Command]]
) -> None:
    # Fewer examples and one interval: each example opens DuckDB databases, which takes time.
    run_and_check(User, USER, user, 3, duckdb_backend)
    run_and_check(BankAccount, ACCOUNT, account, 3, duckdb_backend)
