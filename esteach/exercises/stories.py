"""The small, fixed histories the exercise notebooks and their checkers work on.

Each builds its events through a `CommandProcessor` on a
`esteach.exercises.fresh_store` (or on the store it is given), so every run records the
same ids and times.
"""

from __future__ import annotations

import random
from datetime import timedelta

from esteach.determinism import SeededIds
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount, WithdrawMoney
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserDeactivated,
    UserEmailChanged,
)
from esteach.events import DomainEvent, Event, NewEvent
from esteach.exercises.sandbox import ExerciseStore, fresh_store
from esteach.processor import CommandProcessor

__all__ = ["arrived_batch", "bank", "bank_over_days", "users_over_days", "users_story"]


def users_story(store: ExerciseStore | None = None) -> ExerciseStore:
    """Two users' lives, nine events in seven appends, interleaved as they happened, a minute
    apart. Two appends hold two events each, which share the append's timestamp: an import
    set Ada's email twice (first ``ada@babbage.org``, then ``ada@analytical.engine``), and
    Grace's email changed as her account was closed."""
    store = fresh_store() if store is None else store
    users = CommandProcessor(store, User, ids=SeededIds(1))
    ids = SeededIds(2)

    def together(user_id: str, *events: DomainEvent) -> None:
        wrapped = [NewEvent.from_domain(event, "User", id=ids()) for event in events]
        store.append_events(user_id, store.stream_version(user_id), wrapped)

    for command in (
        CreateUser("ada", "ada@example.com", "Ada"),
        CreateUser("grace", "grace@example.com", "Grace"),
        ChangeEmail("ada", "ada@lovelace.org"),
        ChangeName("grace", "Grace Hopper"),
    ):
        users.process_command(command)
    together("ada", UserEmailChanged("ada@babbage.org"), UserEmailChanged("ada@analytical.engine"))
    users.process_command(ChangeName("ada", "Ada Lovelace"))
    together("grace", UserEmailChanged("grace@navy.mil"), UserDeactivated())
    return store


def arrived_batch(seed: int = 7) -> list[Event]:
    """`users_story`'s events in the order a message queue delivered them: shuffled, and
    the two events of each two-event append in reverse order (nothing keeps them in order)."""
    events = list(users_story().read_all())
    random.Random(seed).shuffle(events)
    for first, second in same_append_pairs(events):
        i, j = events.index(first), events.index(second)
        if i < j:
            events[i], events[j] = second, first
    return events


def same_append_pairs(events: list[Event]) -> list[tuple[Event, Event]]:
    """The events that share a stream and a timestamp (one append), in version order."""
    by_append: dict[tuple[str, object], list[Event]] = {}
    for event in events:
        by_append.setdefault((event.aggregate_id, event.timestamp), []).append(event)
    return [
        (group[0], group[1])
        for group in (sorted(g, key=lambda e: e.version) for g in by_append.values())
        if len(group) == 2
    ]


def bank(store: ExerciseStore | None = None, *, balance: int = 1_000) -> ExerciseStore:
    """Account ``acc-1``, opened (no overdraft) and holding ``balance`` cents: version 2."""
    store = fresh_store() if store is None else store
    tellers = CommandProcessor(store, BankAccount, ids=SeededIds(1))
    tellers.process_command(OpenAccount("acc-1", "Ada"))
    tellers.process_command(DepositMoney("acc-1", balance))
    return store


def bank_over_days(store: ExerciseStore | None = None) -> ExerciseStore:
    """Three accounts over three days, one event every 7 hours from 2024-01-01 09:00 UTC.

    ======================  =====================  ===========================
    2024-01-01 09:00        acc-1 opened           16:00 deposit 100.00
    2024-01-01 23:00        acc-1 deposit 2.50
    2024-01-02 06:00        acc-2 opened           13:00 acc-2 deposit 0.40
    2024-01-02 20:00        acc-1 deposit 0.05
    2024-01-03 03:00        acc-1 withdraw 30.00   10:00 acc-2 deposit 0.60
    2024-01-03 17:00        acc-3 opened
    ======================  =====================  ===========================
    """
    store = fresh_store(step=timedelta(hours=7)) if store is None else store
    tellers = CommandProcessor(store, BankAccount, ids=SeededIds(1))
    for command in (
        OpenAccount("acc-1", "Ada"),
        DepositMoney("acc-1", 10_000),
        DepositMoney("acc-1", 250),
        OpenAccount("acc-2", "Grace"),
        DepositMoney("acc-2", 40),
        DepositMoney("acc-1", 5),
        WithdrawMoney("acc-1", 3_000),
        DepositMoney("acc-2", 60),
        OpenAccount("acc-3", "Edsger"),
    ):
        tellers.process_command(command)
    return store


def users_over_days(store: ExerciseStore | None = None) -> ExerciseStore:
    """Ada and Grace over six days, an event a day at 09:00 UTC from 2024-01-01, and one
    afternoon change: Ada's email on 2024-01-04 at 13:00 UTC.

    ======================  ==========================================
    2024-01-01 09:00        ada signs up (ada@example.com)
    2024-01-02 09:00        grace signs up (grace@example.com)
    2024-01-03 09:00        ada's email: ada@lovelace.org
    2024-01-04 09:00        grace's email: grace@navy.mil
    2024-01-04 13:00        ada's email: ada@babbage.org
    2024-01-05 09:00        ada's email: ada@analytical.engine
    2024-01-06 09:00        ada deactivated
    ======================  ==========================================
    """
    store = fresh_store(step=timedelta(days=1)) if store is None else store
    users = CommandProcessor(store, User, ids=SeededIds(1))
    for command in (
        CreateUser("ada", "ada@example.com", "Ada"),
        CreateUser("grace", "grace@example.com", "Grace"),
        ChangeEmail("ada", "ada@lovelace.org"),
        ChangeEmail("grace", "grace@navy.mil"),
    ):
        users.process_command(command)
    store.clock.advance(-timedelta(hours=20))  # the next commit: the same day, 13:00
    users.process_command(ChangeEmail("ada", "ada@babbage.org"))
    store.clock.advance(-timedelta(hours=4))  # and back to 09:00 the day after
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"))
    users.process_command(DeactivateUser("ada"))
    return store
