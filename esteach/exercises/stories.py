"""The small, fixed histories the exercise notebooks and their checkers work on.

Each builds its events through a :class:`~esteach.CommandProcessor` on a
:func:`~esteach.exercises.fresh_store` (or on the store it is given), so every run records the
same ids and times.
"""

from __future__ import annotations

import random
from datetime import timedelta

from esteach.determinism import SeededIds
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount, WithdrawMoney
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User
from esteach.events import Event
from esteach.exercises.sandbox import ExerciseStore, fresh_store
from esteach.processor import CommandProcessor

__all__ = ["arrived_batch", "bank", "bank_over_days", "users_over_days", "users_story"]


def users_story(store: ExerciseStore | None = None) -> ExerciseStore:
    """Two users' lives, eight events in all, interleaved as they happened, a minute apart."""
    store = fresh_store() if store is None else store
    users = CommandProcessor(store, User, ids=SeededIds(1))
    for command in (
        CreateUser("ada", "ada@example.com", "Ada"),
        CreateUser("grace", "grace@example.com", "Grace"),
        ChangeEmail("ada", "ada@lovelace.org"),
        ChangeName("grace", "Grace Hopper"),
        ChangeEmail("ada", "ada@analytical.engine"),
        ChangeName("ada", "Ada Lovelace"),
        ChangeEmail("grace", "grace@navy.mil"),
        DeactivateUser("grace"),
    ):
        users.process_command(command)
    return store


def arrived_batch(seed: int = 7) -> list[Event]:
    """:func:`users_story`'s events in the order a message queue delivered them: shuffled."""
    events = list(users_story().read_all())
    random.Random(seed).shuffle(events)
    return events


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
    """Ada and Grace over six days, one event a day at 09:00 UTC from 2024-01-01."""
    store = fresh_store(step=timedelta(days=1)) if store is None else store
    users = CommandProcessor(store, User, ids=SeededIds(1))
    for command in (
        CreateUser("ada", "ada@example.com", "Ada"),
        CreateUser("grace", "grace@example.com", "Grace"),
        ChangeEmail("ada", "ada@lovelace.org"),
        ChangeEmail("grace", "grace@navy.mil"),
        ChangeEmail("ada", "ada@analytical.engine"),
        DeactivateUser("ada"),
    ):
        users.process_command(command)
    return store
