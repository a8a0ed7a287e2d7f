"""Every exercise's checker: the reference passes, an untouched answer is "not attempted", and
typical wrong answers get the "not yet" that names their mistake."""

from __future__ import annotations

import copy
import os
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from esteach import ANY, CommandProcessor, DomainError, NewEvent, SeededIds, WrongExpectedVersion
from esteach import given as given_
from esteach.domains.account import BankAccount, MoneyDeposited
from esteach.domains.user import User
from esteach.events import EventRegistry
from esteach.exercises import Exercise, ____, fresh_store, nb01, nb02, nb03, nb04, nb05, nb06, nb07
from esteach.exercises.cart import (
    AddItem,
    CartAlreadyCheckedOut,
    CartBase,
    CartCheckedOut,
    CartNotFound,
    CartOpened,
    InvalidQuantity,
    ItemAdded,
    ItemLimitReached,
    ItemRemoved,
)
from esteach.exercises.nb05 import STREAM_LENGTH, StaleCache, write_stream
from esteach.exercises.nb06 import execute
from esteach.repository import Repository
from esteach.snapshots import InMemorySnapshotStore
from esteach.timetravel import state_at

MODULES = [nb01, nb02, nb03, nb04, nb05, nb06, nb07]
EXERCISES: dict[str, Exercise] = {
    value.number: value
    for module in MODULES
    for value in vars(module).values()
    if isinstance(value, Exercise)
}


def registry_with(function: Any, **kwargs: Any) -> EventRegistry:
    registry = EventRegistry()
    registry.upcaster("AccountCredited", from_version=1, **kwargs)(function)
    return registry


# Options a checker needs to run outside a notebook (7.2 looks in a registry of the test's own).
OPTIONS: dict[str, dict[str, Any]] = {
    "7.2": {"registry": registry_with(nb07.credited_to_deposited, to_event_type="MoneyDeposited")},
}


# --- 1.1 ---------------------------------------------------------------------------------------


class ClockCart(nb01.Cart):
    def apply_event(self, event: Any) -> None:
        super().apply_event(event)
        self.updated_at = datetime.now(UTC)


class LoggingCart(nb01.Cart):
    def apply_event(self, event: Any) -> None:
        with open(os.devnull, "a") as log:
            log.write(repr(event))
        super().apply_event(event)


class ReplacingCart(nb01.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemAdded):
            self.items[event.sku] = event.quantity
        else:
            super().apply_event(event)


class StrictRemovalCart(nb01.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemRemoved):
            del self.items[event.sku]
        else:
            super().apply_event(event)


class ZeroingCart(nb01.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemRemoved):
            self.items[event.sku] = 0
        else:
            super().apply_event(event)


# --- 1.2 ---------------------------------------------------------------------------------------


def add_item_rules(cart: Any, command: Any, *, limit_check: str = ">") -> None:
    if not cart.exists:
        raise CartNotFound("no cart")
    if cart.status == "checked_out":
        raise CartAlreadyCheckedOut("checked out")
    if not 1 <= command.quantity <= 10:
        raise InvalidQuantity("bad quantity")
    total = cart.items.get(command.sku, 0) + command.quantity
    if (total >= 10) if limit_check == ">=" else (total > 10):
        raise ItemLimitReached("too many")


class MutatingCart(nb01.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command)
            self.items[command.sku] = self.items.get(command.sku, 0) + command.quantity
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class ForgetfulCart(nb01.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            if not self.exists:
                raise CartNotFound("no cart")
            if not 1 <= command.quantity <= 10:
                raise InvalidQuantity("bad quantity")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class ValueErrorCart(nb01.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            if not self.exists:
                raise CartNotFound("no cart")
            if self.status == "checked_out":
                raise CartAlreadyCheckedOut("checked out")
            if not 1 <= command.quantity <= 10:
                raise ValueError("bad quantity")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class OffByOneCart(nb01.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command, limit_check=">=")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class OutOfOrderCart(nb01.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            if not 1 <= command.quantity <= 10:
                raise InvalidQuantity("bad quantity")
            add_item_rules(self, command)
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


# --- 1.3 ---------------------------------------------------------------------------------------


def learner_test_happy_path_only(cart_class: Any) -> None:
    given_(CartOpened("cart-1", "Ada"), aggregate=cart_class).when(
        AddItem("cart-1", "tea", 1)
    ).then(ItemAdded("tea", 1))


def learner_test_any_domain_error(cart_class: Any) -> None:
    given_(
        CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), CartCheckedOut(), aggregate=cart_class
    ).when(AddItem("cart-1", "cake", 1)).then_raises(DomainError)


def learner_test_without_the_class(cart_class: Any) -> None:
    given_(CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), CartCheckedOut()).when(
        AddItem("cart-1", "cake", 1)
    ).then_raises(CartAlreadyCheckedOut)


# --- 2.1 ---------------------------------------------------------------------------------------


def rebuild_unsorted(batch: Any, user_id: str) -> User:
    return User.load_from_events([e for e in batch if e.aggregate_id == user_id], user_id)


def rebuild_in_arrival_order(batch: Any, user_id: str) -> User:
    user = User(user_id)
    for event in batch:
        if event.aggregate_id == user_id:
            user.apply_event(User.events.to_domain(event))
    return user


def rebuild_every_stream(batch: Any, user_id: str) -> User:
    return User.load_from_events(sorted(batch, key=lambda e: e.version), user_id)


# --- 2.2 ---------------------------------------------------------------------------------------


def deposit_with_new_ids(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    version = store.stream_version(account_id)
    for _ in range(3):
        event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
        try:
            return store.append_events(account_id, version, [event])
        except TimeoutError:
            pass
    return None


def deposit_with_any(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    for _ in range(3):
        event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
        try:
            return store.append_events(account_id, ANY, [event])
        except TimeoutError:
            pass
    return None


def deposit_once(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    return store.append_events(account_id, store.stream_version(account_id), [event])


def deposit_for_ever(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    version = store.stream_version(account_id)
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    while True:
        try:
            return store.append_events(account_id, version, [event])
        except TimeoutError:
            pass


# --- 3.1 ---------------------------------------------------------------------------------------


class CountsEverything:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.position = 0

    def handle(self, event: Any) -> None:
        if event.event_type == "MoneyDeposited":
            account = event.aggregate_id
            self.totals[account] = self.totals.get(account, 0) + event.data["amount"]
        self.position = event.global_position


class StrictlyBelow(CountsEverything):
    def handle(self, event: Any) -> None:
        if event.global_position < self.position:
            return
        super().handle(event)


class MovesOnlyOnDeposits(CountsEverything):
    def handle(self, event: Any) -> None:
        if event.global_position <= self.position or event.event_type != "MoneyDeposited":
            return
        super().handle(event)


class CountsWithdrawals(CountsEverything):
    def handle(self, event: Any) -> None:
        if event.global_position <= self.position:
            return
        if event.event_type == "MoneyWithdrawn":
            account = event.aggregate_id
            self.totals[account] = self.totals.get(account, 0) + event.data["amount"]
        super().handle(event)


# --- 3.2 ---------------------------------------------------------------------------------------

UPSERT = "ON CONFLICT (day) DO UPDATE SET total = total + excluded.total"


def plain_insert(conn: Any, event: Any) -> None:
    conn.execute(
        "INSERT INTO daily_deposits VALUES (?, ?)",
        [event.timestamp.date(), event.data["amount"]],
    )


def insert_or_replace(conn: Any, event: Any) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO daily_deposits VALUES (?, ?)",
        [event.timestamp.date(), event.data["amount"]],
    )


def on_the_day_it_runs(conn: Any, event: Any) -> None:
    conn.execute(
        f"INSERT INTO daily_deposits VALUES (?, ?) {UPSERT}",
        [datetime.now(UTC).date(), event.data["amount"]],
    )


def on_the_databases_day(conn: Any, event: Any) -> None:
    conn.execute(
        f"INSERT INTO daily_deposits VALUES (current_date, ?) {UPSERT}", [event.data["amount"]]
    )


# --- 4.1 ---------------------------------------------------------------------------------------


def email_strictly_before(store: Any, user_id: str, moment: datetime) -> Any:
    events = [e for e in store.get_events(user_id) if e.timestamp < moment]
    user = User.load_from_events(events, user_id)
    return user.email if user.exists else None


def email_now(store: Any, user_id: str, moment: datetime) -> Any:
    return User.load_from_events(store.get_events(user_id), user_id).email


def email_or_blank(store: Any, user_id: str, moment: datetime) -> Any:
    return state_at(store, User, user_id, at=moment).email


# --- 4.2 ---------------------------------------------------------------------------------------

QUERY = nb04.BALANCES_AT
STRICT_QUERY = QUERY.replace("timestamp <= ?", "timestamp < ?")
PLUS_QUERY = QUERY.replace("THEN -CAST", "THEN CAST")
NULL_QUERY = QUERY.replace("coalesce(sum", "(sum").replace("END), 0) AS", "END)) AS")
NO_PARAMETER_QUERY = QUERY.replace(" AND timestamp <= ?", "")


# --- 5.1 ---------------------------------------------------------------------------------------


def read_without_writer_snapshots(interval: int) -> int:
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    write_stream(CommandProcessor(store, User, ids=SeededIds(1)), "ada", STREAM_LENGTH)
    loader = Repository(store, User, snapshots=snapshots, snapshot_interval=interval)
    return loader.load_with_report("ada")[1].events_read


def read_hard_coded(interval: int) -> int:
    return 8


# --- 5.2 ---------------------------------------------------------------------------------------


class ReloadsEverything(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        account = BankAccount.load_from_events(self.store.get_events(account_id), account_id)
        self.entries[account_id] = account
        return copy.deepcopy(account)


class InclusiveFromVersion(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        kept = self.entries.get(account_id) or BankAccount(account_id)
        for event in self.store.get_events(account_id, kept.version):
            kept.apply(event)
        self.entries[account_id] = kept
        return copy.deepcopy(kept)


class HandsOutItsOwn(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        kept = self.entries.get(account_id) or BankAccount(account_id)
        for event in self.store.get_events(account_id, kept.version + 1):
            kept.apply(event)
        self.entries[account_id] = kept
        return kept


# --- 6.1 ---------------------------------------------------------------------------------------


def execute_with(expected: str) -> Any:
    def execute(store: Any, account_id: str, command: Any) -> Any:
        account = BankAccount.load_from_events(store.get_events(account_id), account_id)
        new_events = [
            NewEvent.from_domain(e, "BankAccount") for e in account.handle_command(command)
        ]
        version = {
            "any": ANY,
            "again": store.stream_version(account_id),
            "next": account.version + 1,
        }[expected]
        return store.append_events(account_id, version, new_events)

    return execute


# --- 6.2 ---------------------------------------------------------------------------------------


def no_retry(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    return execute(store, account_id, command)


def retry_for_ever(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    while True:
        try:
            return execute(store, account_id, command)
        except WrongExpectedVersion:
            pass


def retry_then_shrug(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    for _ in range(max_attempts):
        try:
            return execute(store, account_id, command)
        except WrongExpectedVersion:
            pass
    return None


def retry_anything(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    for attempt in range(max_attempts):
        try:
            return execute(store, account_id, command)
        except Exception:
            if attempt == max_attempts - 1:
                raise
    return None


def retry_old_decision(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    account = BankAccount.load_from_events(store.get_events(account_id), account_id)
    new_events = [NewEvent.from_domain(e, "BankAccount") for e in account.handle_command(command)]
    version = account.version
    for attempt in range(max_attempts):
        try:
            return store.append_events(account_id, version, new_events)
        except WrongExpectedVersion as conflict:
            version = conflict.actual
            if attempt == max_attempts - 1:
                raise
    return None


# --- 7.1 ---------------------------------------------------------------------------------------


def split_in_place(data: dict[str, Any]) -> dict[str, Any]:
    first, _, last = data.pop("name").partition(" ")
    data["first_name"], data["last_name"] = first, last
    return data


def split_at_last_space(data: dict[str, Any]) -> dict[str, Any]:
    first, _, last = data["name"].rpartition(" ")
    return {
        "guest_id": data["guest_id"],
        "first_name": first,
        "last_name": last,
        "email": data["email"],
    }


def keeps_the_name(data: dict[str, Any]) -> dict[str, Any]:
    first, last = data["name"].split(" ", 1) if " " in data["name"] else (data["name"], "")
    return {**data, "first_name": first, "last_name": last}


# --- 7.2 ---------------------------------------------------------------------------------------


def through_a_float(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": int(float(data["amount_euros"]) * 100)}


def converts_in_place(data: dict[str, Any]) -> dict[str, Any]:
    data["amount"] = int(data.pop("amount_euros").replace(".", ""))
    return data


def older_definition(function: Any) -> Any:
    return types.FunctionType(function.__code__, function.__globals__, function.__name__)


def exact(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": int(data["amount_euros"].replace(".", ""))}


# --- the table -----------------------------------------------------------------------------------

WRONG: list[tuple[str, tuple[Any, ...], dict[str, Any], str, str]] = [
    ("1.1", (ClockCart,), {}, "impure apply_event", "read the clock (datetime.now)"),
    ("1.1", (LoggingCart,), {}, "impure apply_event", "did I/O (io.open)"),
    ("1.1", (ReplacingCart,), {}, "replaced instead of added", "replaced the count"),
    ("1.1", (StrictRemovalCart,), {}, "apply_event refuses an event", "an event is a fact"),
    ("1.1", (ZeroingCart,), {}, "removed line kept", "leave items entirely"),
    ("1.1", ("Cart",), {}, "wrong answer type", "pass your class itself"),
    ("1.2", (MutatingCart,), {}, "state changed in handle_command", "without an event"),
    ("1.2", (ForgetfulCart,), {}, "rule missing", "rule 2 says raise CartAlreadyCheckedOut"),
    ("1.2", (ValueErrorCart,), {}, "wrong error", "rule 3 asks for InvalidQuantity"),
    ("1.2", (OffByOneCart,), {}, "off by one", "10 of one sku are allowed"),
    ("1.2", (OutOfOrderCart,), {}, "wrong error", "checked in order"),
    ("1.3", (learner_test_happy_path_only,), {}, "test does not test the rule", "lets items into"),
    ("1.3", (learner_test_any_domain_error,), {}, "test accepts any error", "CartNotFound"),
    (
        "1.3",
        (learner_test_without_the_class,),
        {},
        "test ignores cart_class",
        "aggregate=cart_class",
    ),
    ("2.1", (rebuild_unsorted,), {}, "events applied out of order", "EventsOutOfOrder"),
    ("2.1", (rebuild_in_arrival_order,), {}, "events applied out of order", "to *arrive*"),
    ("2.1", (rebuild_every_stream,), {}, "mixed streams", "several users' events"),
    ("2.2", (deposit_with_new_ids,), {}, "new id on retry", "new_id() on every attempt"),
    ("2.2", (deposit_with_any,), {}, "recorded twice", "recorded 2 deposits"),
    ("2.2", (deposit_once,), {}, "no retry", "try the same append again"),
    ("2.2", (deposit_for_ever,), {}, "retries forever", "retried more than 50 times"),
    ("3.1", (CountsEverything,), {}, "double-counts a redelivered event", "came again"),
    ("3.1", (StrictlyBelow,), {}, "double-counts a redelivered event", "position 6"),
    ("3.1", (MovesOnlyOnDeposits,), {}, "checkpoint not moved", "handled or not"),
    ("3.1", (CountsWithdrawals,), {}, "counted a withdrawal", "deposits only"),
    ("3.2", (plain_insert,), {}, "insert instead of upsert", "duplicate key"),
    ("3.2", (insert_or_replace,), {}, "replace instead of add", "INSERT OR REPLACE"),
    ("3.2", (on_the_day_it_runs,), {}, "clock in a projection", "read the clock (datetime.now)"),
    ("3.2", (on_the_databases_day,), {}, "clock in a projection", "today's date"),
    ("4.1", (email_strictly_before,), {}, "missed the event at the moment", "at or before"),
    ("4.1", (email_now,), {}, "current state instead of the past", "the email today"),
    ("4.1", (email_or_blank,), {}, "answer before the user existed", "return None"),
    ("4.2", (STRICT_QUERY,), {}, "missed the event at the moment", "timestamp <= ?"),
    ("4.2", (PLUS_QUERY,), {}, "added withdrawals", "counts negative"),
    ("4.2", (NULL_QUERY,), {}, "NULL balance", "coalesce"),
    ("4.2", (NO_PARAMETER_QUERY,), {}, "SQL error", "use one ?"),
    ("5.1", (50, nb05.events_read), {}, "interval too large", "reads 49 events"),
    ("5.1", (40, nb05.events_read), {}, "interval too small", "41 would take fewer"),
    ("5.1", (41, read_without_writer_snapshots), {}, "no snapshot taken", "read all 500"),
    ("5.1", (41, read_hard_coded), {}, "wrong measurement", "events_read(100) gave 8"),
    ("5.2", (StaleCache,), {}, "stale cache", "the cache is stale"),
    ("5.2", (ReloadsEverything,), {}, "reads the whole stream", "only the 2 new ones"),
    ("5.2", (InclusiveFromVersion,), {}, "events applied out of order", "version + 1"),
    ("5.2", (HandsOutItsOwn,), {}, "hands out the cached object", "Return a copy"),
    ("6.1", (execute_with("any"),), {}, "lost update", "lost update"),
    ("6.1", (execute_with("again"),), {}, "lost update", "read again just before"),
    ("6.1", (execute_with("next"),), {}, "expected the next version", "not the next one"),
    ("6.2", (no_retry,), {}, "no retry", "gave up at the first conflict"),
    ("6.2", (retry_for_ever,), {}, "retries forever", "kept retrying"),
    ("6.2", (retry_then_shrug,), {}, "swallowed the last conflict", "raise it"),
    ("6.2", (retry_anything,), {}, "retried a domain error", "an answer, not a conflict"),
    ("6.2", (retry_old_decision,), {}, "retried the old decision", "the old decision again"),
    ("7.1", (split_in_place,), {}, "upcaster mutates its input", "changed the dict"),
    ("7.1", (split_at_last_space,), {}, "split at the last space", "first space"),
    ("7.1", (keeps_the_name,), {}, "old field kept", "'name'"),
    ("7.2", (through_a_float,), OPTIONS["7.2"], "float rounding", "28.999999999999996"),
    ("7.2", (converts_in_place,), OPTIONS["7.2"], "upcaster mutates its input", "changed"),
    ("7.2", (exact,), {"registry": EventRegistry()}, "not registered", "register your function"),
    (
        "7.2",
        (exact,),
        {"registry": registry_with(exact)},
        "registered without the rename",
        "to_event_type='MoneyDeposited'",
    ),
    (
        "7.2",
        (exact,),
        # The function as it was before the learner ran its cell again: same name, other object.
        {"registry": registry_with(older_definition(exact), to_event_type="MoneyDeposited")},
        "stale registration",
        "an older definition",
    ),
]


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_the_reference_solution_passes_its_own_checker(number: str) -> None:
    exercise = EXERCISES[number]
    detail = exercise.checker(*exercise.reference, **OPTIONS.get(number, {}))
    assert isinstance(detail, str) and detail


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_an_untouched_answer_is_not_attempted(number: str) -> None:
    exercise = EXERCISES[number]
    result = exercise.check(*[____] * len(exercise.answers))
    assert result.status == "not attempted", result
    assert "fill in the ____" in result.message


@pytest.mark.parametrize(
    ("number", "answers", "options", "mistake", "fragment"),
    WRONG,
    ids=[f"{row[0]}-{row[3]}-{i}" for i, row in enumerate(WRONG)],
)
def test_a_typical_wrong_answer_gets_the_right_not_yet(
    number: str, answers: tuple[Any, ...], options: dict[str, Any], mistake: str, fragment: str
) -> None:
    result = EXERCISES[number].check(*answers, **options)
    assert (result.status, result.mistake) == ("not yet", mistake), result
    assert fragment in result.message, result
    assert "\n" not in repr(result)


def test_every_exercise_has_typical_wrong_answers_tested() -> None:
    assert {row[0] for row in WRONG} == set(EXERCISES)


def test_at_least_ten_exercises_spread_over_notebooks_01_to_07() -> None:
    assert len(EXERCISES) >= 10
    assert {number.split(".")[0] for number in EXERCISES} == {str(n) for n in range(1, 8)}


def test_the_typical_event_sourcing_mistakes_are_each_recognised_by_name() -> None:
    recognised = {row[3] for row in WRONG}
    assert {
        "state changed in handle_command",
        "impure apply_event",
        "events applied out of order",
        "double-counts a redelivered event",
        "upcaster mutates its input",
    } <= recognised


def test_after_a_recognised_mistake_the_first_hint_is_about_it() -> None:
    exercise = EXERCISES["3.1"]
    exercise.check(CountsEverything)
    assert "event.global_position <= self.position" in repr(exercise.hint())


def test_checkers_say_what_to_pass_when_given_the_wrong_kind_of_answer() -> None:
    for number, answer in [("2.1", 42), ("3.1", "DepositTotals"), ("4.2", 42), ("5.1", 4.5)]:
        exercise = EXERCISES[number]
        result = exercise.check(*[answer] * len(exercise.answers))
        assert result.status == "not yet", result


def test_the_retry_check_uses_the_reference_execute_and_puts_the_learners_back() -> None:
    namespace: dict[str, Any] = {"execute": "the learner's own"}
    exec(
        "def execute_with_retry(store, account_id, command, max_attempts=3):\n"
        "    assert execute.__module__ == 'esteach.exercises.nb06'\n"
        "    return execute(store, account_id, command)\n",
        namespace,
    )
    result = EXERCISES["6.2"].check(namespace["execute_with_retry"])
    assert result.mistake == "no retry"
    assert namespace["execute"] == "the learner's own"


def test_a_cart_subclass_that_is_only_the_base_has_no_apply_event_of_its_own() -> None:
    class Bare(CartBase):
        pass

    assert EXERCISES["1.1"].check(Bare).mistake == "no apply_event"


def test_every_recognised_mistake_is_in_the_instructors_notes() -> None:
    notes = (Path(__file__).resolve().parent.parent / "notebooks" / "INSTRUCTORS.md").read_text()
    missing = sorted({row[3] for row in WRONG if f"`{row[3]}`" not in notes})
    assert not missing, f"notebooks/INSTRUCTORS.md does not explain {missing}"
