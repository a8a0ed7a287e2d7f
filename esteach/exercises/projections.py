"""Exercises for notebook 03, replay and projections: the read side.

* ``ex1`` (3.1): make a projection idempotent, so a redelivered event changes nothing.
* ``ex2`` (3.2): a read model of deposits per day, from the time each deposit was recorded.
* ``ex3`` (3.3): a projection that ends right whatever order a broker delivers the events in,
  and however often it repeats them.
* ``ex4`` (3.4): a projection across streams: the money of each account owner, over all the
  owner's accounts.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

import duckdb

from esteach.determinism import SeededIds
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount, WithdrawMoney
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, User
from esteach.events import Event
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.purity import Impurity, describe, watch
from esteach.exercises.sandbox import ExerciseStore, fresh_store
from esteach.exercises.stories import bank_over_days
from esteach.processor import CommandProcessor
from esteach.projections import EventProcessor, ProjectionError
from esteach.store.base import EventStore

__all__ = [
    "DAILY_SCHEMA",
    "DepositTotals",
    "OwnerBalances",
    "UserDirectory",
    "UserDirectoryBase",
    "bank_over_days",
    "broker_delivery",
    "daily_deposits",
    "deliveries",
    "ex1",
    "ex2",
    "ex3",
    "ex4",
    "on_money_deposited",
    "owners_and_accounts",
    "users_to_deliver",
]

DAILY_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS daily_deposits (
    day   DATE   PRIMARY KEY,  -- the UTC day the deposits were recorded
    total BIGINT NOT NULL      -- cents deposited that day, over all accounts
)
"""


def daily_deposits(store: EventStore, handler: Callable[..., Any]) -> EventProcessor:
    """An `EventProcessor` for the ``daily_deposits`` read model, with
    ``handler`` registered for ``MoneyDeposited``. Call ``catch_up()`` on it."""
    processor = EventProcessor(
        store, name="daily_deposits", schema=DAILY_SCHEMA, tables=["daily_deposits"]
    )
    processor.register_event_handler("MoneyDeposited", handler)
    return processor


# --- reference solutions ----------------------------------------------------------------------


class DepositTotals:
    """Exercise 3.1: money deposited per account, in cents; safe to deliver an event twice."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}  # account id -> cents deposited
        self.position = 0  # the checkpoint: global position of the last event handled

    def handle(self, event: Event) -> None:
        if event.global_position <= self.position:
            return  # handled already: a redelivery changes nothing
        if event.event_type == "MoneyDeposited":
            account = event.aggregate_id
            self.totals[account] = self.totals.get(account, 0) + event.data["amount"]
        self.position = event.global_position


def on_money_deposited(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    """Exercise 3.2: add a deposit to the total of the day it was recorded."""
    conn.execute(
        """
        INSERT INTO daily_deposits VALUES (?, ?)
        ON CONFLICT (day) DO UPDATE SET total = total + excluded.total
        """,
        [event.timestamp.date(), event.data["amount"]],
    )


# --- 3.1 --------------------------------------------------------------------------------------


def deliveries(store: EventStore) -> list[Event]:
    """The log as a message queue might deliver it: in order, with two events delivered again
    (the last one at once, an early one later), then one new event."""
    log = store.read_all()
    return [*log[:6], log[5], log[1], *log[6:8]]


def _state(model: object) -> tuple[object, object]:
    return copy.deepcopy(getattr(model, "totals", None)), getattr(model, "position", None)


def check_deposit_totals(learner: object) -> str:
    if not isinstance(learner, type):
        raise NotYet(
            "pass your class itself: ex1.check(DepositTotals)", mistake="wrong answer type"
        )
    store = bank_over_days()
    model, reference = learner(), DepositTotals()
    seen: set[int] = set()
    for event in deliveries(store):
        before = _state(model)
        doing = f"handle({event.event_type} at position {event.global_position})"
        try:
            model.handle(event)
        except Exception as error:
            raise NotYet(
                f"{doing} raised {describe_error(error)}",
                mistake="raised",
                hint="The account is event.aggregate_id; the amount is event.data['amount'].",
            ) from error
        reference.handle(event)
        (totals, position), again = _state(model), event.global_position in seen
        seen.add(event.global_position)
        if again and totals != before[0]:
            raise NotYet(
                f"the projection double-counts a redelivered event: {event.event_type} at "
                f"position {event.global_position} came again and the totals went from "
                f"{before[0]!r} to {totals!r} (rule 2)",
                mistake="double-counts a redelivered event",
                hint="At the top of handle: if event.global_position <= self.position, return. "
                "That covers the very last event coming again too (<=, not <).",
            )
        if totals != reference.totals:
            counted = event.event_type == "MoneyWithdrawn"
            raise NotYet(
                f"after {doing}, totals is {totals!r}, expected {reference.totals!r}"
                + (": rule 1 counts deposits only" if counted else " (rule 1)"),
                mistake="counted a withdrawal" if counted else "wrong totals",
                hint="Add only when event.event_type == 'MoneyDeposited'; other events just "
                "move the checkpoint."
                if counted
                else None,
            )
        if position != reference.position:
            raise NotYet(
                f"after {doing}, position is {position!r}, expected {reference.position}: the "
                f"checkpoint moves past every new event, handled or not (rule 3)",
                mistake="checkpoint not moved",
                hint="Set self.position = event.global_position at the end of handle, for every "
                "event that was not a redelivery.",
            )
    return (
        "every deposit is counted once, redelivered events change nothing, and the checkpoint "
        "follows the log"
    )


ex1 = Exercise(
    "3.1",
    "Make a projection idempotent",
    ["DepositTotals"],
    check_deposit_totals,
    [DepositTotals],
    [
        "Each event's global_position is its place in the log: 1, 2, 3, ... Compare it with "
        "self.position, the last one you handled.",
        "Three steps in handle: return at once if event.global_position <= self.position; add "
        "a MoneyDeposited's amount; set self.position = event.global_position.",
    ],
)


# --- 3.2 --------------------------------------------------------------------------------------

_EXPECTED: Final = [("2024-01-01", 10_250), ("2024-01-02", 45), ("2024-01-03", 60)]


def _rows(processor: EventProcessor) -> list[tuple[Any, ...]]:
    rows = processor.query("SELECT day, total FROM daily_deposits ORDER BY day")
    # Days as ISO strings: messages read ('2024-01-01', 250), not datetime.date(2024, 1, 1).
    return [(day.isoformat() if isinstance(day, date) else day, *rest) for day, *rest in rows]


def _run(action: Callable[[], object], impure: list[Impurity]) -> None:
    try:
        action()
    except ProjectionError as error:
        cause = error.__cause__
        if impure:
            raise _clock_mistake(impure) from error
        if isinstance(cause, duckdb.ConstraintException):
            raise NotYet(
                "the second deposit of 2024-01-01 failed with a duplicate key: a plain INSERT "
                "cannot add to the day's row (rule 2)",
                mistake="insert instead of upsert",
                hint="INSERT INTO daily_deposits VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET "
                "total = total + excluded.total",
            ) from error
        raise NotYet(
            f"your handler raised {describe_error(cause or error)}",
            mistake="raised",
            hint="The day is event.timestamp.date(); the amount is event.data['amount'].",
        ) from error


def _clock_mistake(impure: list[Impurity]) -> NotYet:
    return NotYet(
        f"your handler {describe(impure)}: a deposit belongs to the day it was recorded, "
        f"event.timestamp, never to the day the projection runs; a rebuild next month would "
        f"move every deposit to that day (rule 1)",
        mistake="clock in a projection",
        hint="event.timestamp.date() is the UTC day the store recorded the deposit.",
    )


def check_daily_deposits(learner: object) -> str:
    if not callable(learner):
        raise NotYet(
            "pass your handler itself: ex2.check(on_money_deposited)", mistake="not callable"
        )
    impure: list[Impurity] = []

    def watched(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
        _, calls = watch(learner, conn, event)
        impure.extend(call for call in calls if call not in impure)

    with daily_deposits(bank_over_days(), watched) as processor:
        _run(processor.catch_up, impure)
        if impure:
            raise _clock_mistake(impure)
        rows = _rows(processor)
        _run(processor.rebuild, impure)
        rebuilt = _rows(processor)
    days = {row[0] for row in rows if row}
    if rows != _EXPECTED:
        today = datetime.now(UTC).date().isoformat()
        if today in days and today not in {day for day, _ in _EXPECTED}:
            raise NotYet(
                "the deposits landed on today's date: the SQL read the database's clock "
                "(current_date, now()); use the day each deposit was recorded, "
                "event.timestamp.date() (rule 1)",
                mistake="clock in a projection",
                hint="conn.execute(sql, [event.timestamp.date(), event.data['amount']]): the day "
                "comes from the event, as a parameter.",
            )
        if rows == [("2024-01-01", 250), ("2024-01-02", 5), ("2024-01-03", 60)]:
            raise NotYet(
                f"the read model holds {rows!r}: each deposit replaced the day's total (INSERT "
                f"OR REPLACE, or DO UPDATE SET total = excluded.total) instead of adding to it "
                f"(rule 2)",
                mistake="replace instead of add",
                hint="ON CONFLICT (day) DO UPDATE SET total = total + excluded.total adds.",
            )
        if rows == [("2024-01-01", 10_000), ("2024-01-02", 40), ("2024-01-03", 60)]:
            raise NotYet(
                f"the read model holds {rows!r}: only each day's first deposit counted (ON "
                f"CONFLICT DO NOTHING); a later deposit of the day must add to the total "
                f"(rule 2)",
                mistake="kept the first deposit",
                hint="ON CONFLICT (day) DO UPDATE SET total = total + excluded.total adds.",
            )
        raise NotYet(f"the read model holds {rows!r}, expected {_EXPECTED!r}", mistake="wrong")
    if rebuilt != rows:
        raise NotYet(
            f"after rebuild() the read model holds {rebuilt!r}, not {rows!r}",
            mistake="rebuild differs",
        )
    return "deposits add up per recorded day, and a rebuild gives the same table"


ex2 = Exercise(
    "3.2",
    "Deposits per day",
    ["on_money_deposited"],
    check_daily_deposits,
    [on_money_deposited],
    [
        "The handler runs one SQL statement through conn: conn.execute(sql, [day, amount]).",
        "The day: event.timestamp.date(). The amount: event.data['amount'].",
        "An upsert adds to an existing row: INSERT INTO daily_deposits VALUES (?, ?) ON "
        "CONFLICT (day) DO UPDATE SET total = total + excluded.total",
    ],
)


# --- 3.3: out-of-order and duplicate delivery ---------------------------------------------------


def users_to_deliver(store: ExerciseStore | None = None) -> ExerciseStore:
    """Three users, each created and then changed again and again, their events interleaved:
    eighteen events in all, the log a broker will deliver out of order."""
    store = fresh_store() if store is None else store
    users = CommandProcessor(store, User, ids=SeededIds(3))
    commands: list[Any] = [
        CreateUser("ada", "ada@example.com", "Ada"),
        CreateUser("grace", "grace@example.com", "Grace"),
        ChangeEmail("ada", "ada@babbage.org"),
        CreateUser("alan", "alan@example.com", "Alan"),
        ChangeName("ada", "Ada Lovelace"),
        ChangeEmail("grace", "grace@navy.mil"),
        ChangeEmail("ada", "ada@analytical.engine"),
        ChangeName("grace", "Grace Hopper"),
        ChangeEmail("alan", "alan@bletchley.uk"),
        ChangeName("alan", "Alan Turing"),
        ChangeEmail("grace", "grace@cobol.org"),
        ChangeEmail("alan", "alan@manchester.ac.uk"),
        ChangeName("ada", "Countess of Lovelace"),
        ChangeEmail("ada", "ada@lovelace.name"),
        ChangeName("grace", "Rear Admiral Hopper"),
        ChangeEmail("grace", "grace@harvard.edu"),
        ChangeName("alan", "A. M. Turing"),
        ChangeEmail("alan", "alan@kings.cam.ac.uk"),
    ]
    for command in commands:
        users.process_command(command)
    return store


def broker_delivery(events: list[Event], seed: int, *, repeats: float = 0.4) -> list[Event]:
    """``events`` as an at-least-once broker might deliver them: every one at least once, some
    (``repeats`` of them, on average) again, all shuffled with ``random.Random(seed)``."""
    rng = random.Random(seed)
    delivered = [*events, *(event for event in events if rng.random() < repeats)]
    rng.shuffle(delivered)
    return delivered


class UserDirectoryBase:
    """A read model of each user's email and name, and ``apply``, which changes it by one event,
    assuming the events of each user come in order, each once. ``handle`` is exercise 3.3."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, str]] = {}  # user id -> {"email": ..., "name": ...}
        self.applied: dict[str, int] = {}  # user id -> the version of the last event applied
        self.waiting: dict[str, dict[int, Event]] = {}  # user id -> {version: early event}

    def apply(self, event: Event) -> None:
        """Change the read model by one event, the next one of its user's stream."""
        user = event.aggregate_id
        if event.event_type == "UserCreated":
            self.users[user] = {"email": event.data["email"], "name": event.data["name"]}
        elif event.event_type == "UserEmailChanged":
            self.users[user]["email"] = event.data["new_email"]
        elif event.event_type == "UserNameChanged":
            self.users[user]["name"] = event.data["new_name"]

    def handle(self, event: Event) -> None:
        raise NotImplementedError("UserDirectoryBase leaves handle to you (exercise 3.3)")


class UserDirectory(UserDirectoryBase):
    """Exercise 3.3: apply each user's events in version order, each once, however they come."""

    def handle(self, event: Event) -> None:
        user = event.aggregate_id
        if event.version <= self.applied.get(user, 0):
            return  # applied already: a repeat changes nothing
        waiting = self.waiting.setdefault(user, {})
        waiting[event.version] = event  # too early, or next: it waits its turn
        next_version = self.applied.get(user, 0) + 1
        while next_version in waiting:  # apply every event whose turn has come
            self.apply(waiting.pop(next_version))
            self.applied[user] = next_version
            next_version += 1


_SEEDS: Final = (1, 2, 3, 4, 5)


class _ArrivalOrder(UserDirectoryBase):
    def handle(self, event: Event) -> None:
        if event.aggregate_id in self.users or event.event_type == "UserCreated":
            self.apply(event)


class _ArrivalOrderOnce(UserDirectoryBase):
    """Repeats ignored by event id, but still in arrival order."""

    def handle(self, event: Event) -> None:
        seen = self.waiting.setdefault("*", {})
        if hash(event.id) in seen:
            return
        seen[hash(event.id)] = event
        if event.aggregate_id in self.users or event.event_type == "UserCreated":
            self.apply(event)


class _DropLate(UserDirectoryBase):
    def handle(self, event: Event) -> None:
        user = event.aggregate_id
        if event.version > self.applied.get(user, 0) and (
            user in self.users or event.event_type == "UserCreated"
        ):
            self.apply(event)
            self.applied[user] = event.version


class _GlobalCheckpoint(UserDirectoryBase):
    position = 0

    def handle(self, event: Event) -> None:
        if event.global_position > self.position and (
            event.aggregate_id in self.users or event.event_type == "UserCreated"
        ):
            self.apply(event)
            self.position = event.global_position


class _NoDrain(UserDirectoryBase):
    def handle(self, event: Event) -> None:
        user = event.aggregate_id
        if event.version == self.applied.get(user, 0) + 1:
            self.apply(event)
            self.applied[user] = event.version


def _deliver(model_class: type, delivery: list[Event], doing: str) -> Any:
    model = model_class()
    for event in delivery:
        try:
            model.handle(event)
        except Exception as error:
            if any(model_class is simulation for _, simulation in _SIMULATIONS):
                raise
            late = f"{event.event_type} of {event.aggregate_id!r} (version {event.version})"
            if isinstance(error, KeyError):
                raise NotYet(
                    f"{doing}, handle raised {describe_error(error)} for {late}: it arrived "
                    f"before its user's UserCreated, and apply assumes each user's events come "
                    f"in order. A broker promises no order: hold an early event back until its "
                    f"turn (rule 1)",
                    mistake="applied in arrival order",
                    hint="Apply an event only when its version is the user's next one "
                    "(self.applied.get(user, 0) + 1); keep an early one in self.waiting[user], "
                    "keyed by version, until its turn.",
                ) from error
            raise NotYet(
                f"{doing}, handle raised {describe_error(error)}", mistake="raised"
            ) from error
    return copy.deepcopy(getattr(model, "users", None))


_SIMULATIONS: Final[list[tuple[str, type]]] = [
    ("applied in arrival order", _ArrivalOrder),
    ("applied in arrival order", _ArrivalOrderOnce),
    ("late event dropped", _DropLate),
    ("global checkpoint drops late events", _GlobalCheckpoint),
    ("waiting events never applied", _NoDrain),
]
_WHY: Final = {
    "applied in arrival order": (
        "your handle applies events in the order they arrive, so an old email delivered late "
        "(or again) overwrites a newer one (rules 1 and 2)",
        "Apply an event only when its version is the user's next one (self.applied.get(user, "
        "0) + 1); keep an early one in self.waiting[user], keyed by version, until its turn; "
        "ignore a version already applied.",
    ),
    "late event dropped": (
        "your handle skips an event whose version is below the newest one seen, but an older "
        "event that arrives late still has to be applied: a name change lost because an email "
        "change overtook it (rule 1)",
        "A version below the newest seen is not necessarily a repeat: it may not have been "
        "applied yet. Keep early events waiting and apply them in version order.",
    ),
    "global checkpoint drops late events": (
        "your handle skips every event at or below the highest global position seen, as in "
        "exercise 3.1; that works only for in-order delivery, and here events of other users "
        "overtake each other, so late ones are lost (rule 1)",
        "Track each user's own stream: self.applied[user] is the version of that user's last "
        "applied event, and event.version says where an event belongs.",
    ),
    "waiting events never applied": (
        "your handle applies the next event of a user, but an event that came too early is "
        "never applied when its turn comes (rule 3)",
        "After applying the next event, look in self.waiting[user] for the one after it, and "
        "the one after that, in a while loop.",
    ),
}


def check_user_directory(learner: object) -> str:
    if not (isinstance(learner, type) and issubclass(learner, UserDirectoryBase)):
        raise NotYet(
            "pass your class itself, a subclass of UserDirectoryBase: ex3.check(UserDirectory)",
            mistake="wrong answer type",
        )
    if learner.handle is UserDirectoryBase.handle:
        raise NotYet("your class has no handle of its own", mistake="no handle")
    log = users_to_deliver().read_all()
    expected = _deliver(UserDirectory, log, "in order")
    in_order = _deliver(learner, log, "delivered in order")
    if in_order != expected:
        raise NotYet(
            f"delivered in order, each event once, the read model ends as {in_order!r}, "
            f"expected {expected!r}",
            mistake="wrong in order",
            hint="In order, every event is its user's next one: apply it with self.apply(event) "
            "and remember its version in self.applied[user].",
        )
    for seed in _SEEDS:
        delivery = broker_delivery(log, seed)
        doing = f"delivered shuffled and with repeats (seed {seed}, {len(delivery)} deliveries)"
        got = _deliver(learner, delivery, doing)
        if got == expected:
            continue
        for tag, simulation in _SIMULATIONS:
            if _deliver(simulation, delivery, doing) == got:
                why, hint = _WHY[tag]
                raise NotYet(f"{doing}: {why}", mistake=tag, hint=hint)
        wrong_users = sorted(user for user in expected if (got or {}).get(user) != expected[user])
        raise NotYet(
            f"{doing}, the read model ends with {wrong_users[0] if wrong_users else 'a user'} "
            f"as {(got or {}).get(wrong_users[0]) if wrong_users else got!r}, expected "
            f"{expected[wrong_users[0]] if wrong_users else expected!r}",
            mistake="wrong",
        )
    return (
        f"delivered in order, and five times shuffled with repeats, the read model ends the same "
        f"({len(expected)} users, each at their last email and name)"
    )


ex3 = Exercise(
    "3.3",
    "Out-of-order and repeated delivery",
    ["UserDirectory"],
    check_user_directory,
    [UserDirectory],
    [
        "Each event's version is its place in its own user's stream: 1, 2, 3, ... "
        "self.applied[user] is the version applied last (0 before the first).",
        "Three cases in handle: a version already applied is a repeat (return); the next "
        "version is applied; a later one waits in self.waiting[user][event.version].",
        "After applying, look for the next version in self.waiting[user], in a while loop: "
        "an early event's turn may have come.",
    ],
)


# --- 3.4: a projection across streams -----------------------------------------------------------


def owners_and_accounts(store: ExerciseStore | None = None) -> ExerciseStore:
    """Three owners, four accounts: Ada has two (a current and a savings account), Grace one,
    Alan one he never paid into. Their events interleave, as in any real log."""
    store = fresh_store() if store is None else store
    accounts = CommandProcessor(store, BankAccount, ids=SeededIds(4))
    commands: list[Any] = [
        OpenAccount("acc-1", "Ada"),
        DepositMoney("acc-1", 5_000),
        OpenAccount("acc-2", "Grace"),
        DepositMoney("acc-2", 3_000),
        OpenAccount("acc-3", "Ada"),  # Ada's savings
        DepositMoney("acc-1", 1_500),  # into Ada's current account, after Grace's opened
        DepositMoney("acc-3", 10_000),
        WithdrawMoney("acc-1", 2_000),
        OpenAccount("acc-4", "Alan"),
        WithdrawMoney("acc-2", 500),
        DepositMoney("acc-3", 250),
    ]
    for command in commands:
        accounts.process_command(command)
    return store


class OwnerBalances:
    """Exercise 3.4: the money of each owner, in cents, over all their accounts."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}  # owner -> cents, over all the owner's accounts
        self.owner_of: dict[str, str] = {}  # account id -> owner: only AccountOpened says it

    def handle(self, event: Event) -> None:
        account = event.aggregate_id
        if event.event_type == "AccountOpened":
            owner = event.data["owner"]
            self.owner_of[account] = owner
            self.balances.setdefault(owner, 0)  # a second account keeps what the first holds
        elif event.event_type == "MoneyDeposited":
            self.balances[self.owner_of[account]] += event.data["amount"]
        elif event.event_type == "MoneyWithdrawn":
            self.balances[self.owner_of[account]] -= event.data["amount"]


class _PerAccount(OwnerBalances):
    def handle(self, event: Event) -> None:
        if event.event_type in ("MoneyDeposited", "MoneyWithdrawn"):
            sign = 1 if event.event_type == "MoneyDeposited" else -1
            account = event.aggregate_id
            self.balances[account] = self.balances.get(account, 0) + sign * event.data["amount"]
        elif event.event_type == "AccountOpened":
            self.balances.setdefault(event.aggregate_id, 0)


class _LastOpened(OwnerBalances):
    current = ""

    def handle(self, event: Event) -> None:
        if event.event_type == "AccountOpened":
            self.current = event.data["owner"]
            self.balances.setdefault(self.current, 0)
        elif event.event_type in ("MoneyDeposited", "MoneyWithdrawn"):
            sign = 1 if event.event_type == "MoneyDeposited" else -1
            self.balances[self.current] += sign * event.data["amount"]


class _ResetOnOpen(OwnerBalances):
    def handle(self, event: Event) -> None:
        if event.event_type == "AccountOpened":
            self.owner_of[event.aggregate_id] = event.data["owner"]
            self.balances[event.data["owner"]] = 0
        else:
            super().handle(event)


class _WithdrawalAdded(OwnerBalances):
    def handle(self, event: Event) -> None:
        if event.event_type == "MoneyWithdrawn":
            self.balances[self.owner_of[event.aggregate_id]] += event.data["amount"]
        else:
            super().handle(event)


class _ZeroOwnersMissing(OwnerBalances):
    def handle(self, event: Event) -> None:
        account = event.aggregate_id
        if event.event_type == "AccountOpened":
            self.owner_of[account] = event.data["owner"]
        elif event.event_type in ("MoneyDeposited", "MoneyWithdrawn"):
            sign = 1 if event.event_type == "MoneyDeposited" else -1
            owner = self.owner_of[account]
            self.balances[owner] = self.balances.get(owner, 0) + sign * event.data["amount"]


_OWNER_MISTAKES: Final[list[tuple[type, str, str, str]]] = [
    (
        _PerAccount,
        "balances per account",
        "the balances are keyed by account id (acc-1, ...), not by owner: Ada's two accounts "
        "must add up to one figure (rule 1)",
        "Remember each account's owner from its AccountOpened (self.owner_of[account] = "
        "owner), and add to self.balances[self.owner_of[account]].",
    ),
    (
        _LastOpened,
        "owner of the last opened account",
        "every deposit went to the owner of the account opened last, not to the owner of the "
        "account it was paid into: streams interleave in the log, so the owner is looked up "
        "per account (rule 2)",
        "Keep a dict, account id -> owner, filled by AccountOpened; look up "
        "self.owner_of[event.aggregate_id] for each deposit and withdrawal.",
    ),
    (
        _ResetOnOpen,
        "second account reset the total",
        "opening Ada's second account set her total back to 0, and the money in her first "
        "account was lost: a new account adds nothing, it takes nothing away (rule 3)",
        "On AccountOpened: self.balances.setdefault(owner, 0) keeps what the owner holds already.",
    ),
    (
        _WithdrawalAdded,
        "withdrawal added",
        "withdrawals were added to the balance: a MoneyWithdrawn takes its amount away (rule 1)",
        "MoneyWithdrawn: self.balances[owner] -= event.data['amount'].",
    ),
    (
        _ZeroOwnersMissing,
        "owner without money missing",
        "an owner who has an account but never paid in (Alan) is missing: he is in the read "
        "model with 0 from the moment his account opens (rule 3)",
        "On AccountOpened: self.balances.setdefault(owner, 0).",
    ),
]


def check_owner_balances(learner: object) -> str:
    if not isinstance(learner, type):
        raise NotYet(
            "pass your class itself: ex4.check(OwnerBalances)", mistake="wrong answer type"
        )
    log = owners_and_accounts().read_all()

    def run(model_class: type) -> Any:
        model = model_class()
        for event in log:
            model.handle(event)
        return copy.deepcopy(getattr(model, "balances", None))

    expected = run(OwnerBalances)
    try:
        got = run(learner)
    except KeyError as error:
        if "owner" in describe_error(error):
            raise NotYet(
                f"handle raised {describe_error(error)}: only AccountOpened carries the owner; "
                f"a deposit or a withdrawal says only its amount, and its stream "
                f"(event.aggregate_id) is the account (rule 2)",
                mistake="owner read from a deposit",
                hint="Remember each account's owner when it opens: self.owner_of[account] = "
                "event.data['owner']; later events of that account look it up.",
            ) from error
        raise NotYet(f"handle raised {describe_error(error)}", mistake="raised") from error
    if got == expected:
        return (
            f"the balances add up per owner over all their accounts: {expected}, Alan included "
            f"with 0"
        )
    for simulation, tag, why, hint in _OWNER_MISTAKES:
        if run(simulation) == got:
            raise NotYet(f"the read model ends as {got!r}: {why}", mistake=tag, hint=hint)
    raise NotYet(f"the read model ends as {got!r}, expected {expected!r}", mistake="wrong")


ex4 = Exercise(
    "3.4",
    "Balances per owner, across accounts",
    ["OwnerBalances"],
    check_owner_balances,
    [OwnerBalances],
    [
        "Two dicts: self.owner_of (account id -> owner, from AccountOpened) and self.balances "
        "(owner -> cents).",
        "The account of any event is event.aggregate_id; only AccountOpened has "
        "event.data['owner'].",
        "AccountOpened: remember the owner and setdefault(owner, 0). MoneyDeposited: add "
        "event.data['amount'] to the owner's balance; MoneyWithdrawn: subtract it.",
    ],
)
