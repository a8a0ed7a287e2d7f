"""The mistake catalogue: for every exercise, the wrong answers a learner typically writes, each
refused with the tag that names its mistake, and right answers written differently from the
reference, each accepted. A checker that refuses only a named list has not learnt the rule:
the right-but-different answers keep it honest."""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import re
import sys
import textwrap
import types
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from esteach import (
    ANY,
    CommandProcessor,
    DomainError,
    InvalidInput,
    NewEvent,
    SeededIds,
    WrongExpectedVersion,
)
from esteach import given as given_
from esteach.domains.account import BankAccount, MoneyDeposited
from esteach.domains.user import User
from esteach.events import EventRegistry
from esteach.exercises import TOPICS, Exercise, ____, fresh_store
from esteach.exercises import analytics as an
from esteach.exercises import cart as cart_module
from esteach.exercises import commands_and_events as ce
from esteach.exercises import concurrency as cc
from esteach.exercises import deciders as dc
from esteach.exercises import event_store as es
from esteach.exercises import flaws as fl
from esteach.exercises import projections as pj
from esteach.exercises import snapshots_and_caching as sc
from esteach.exercises import time_travel as tt
from esteach.exercises import versioning as vv
from esteach.exercises.cart import (
    MAX_PER_ITEM,
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
from esteach.exercises.concurrency import execute
from esteach.exercises.loan import LoanBase
from esteach.exercises.snapshots_and_caching import STREAM_LENGTH, Profile, StaleCache
from esteach.repository import Repository
from esteach.snapshots import InMemorySnapshotStore
from esteach.timetravel import state_at


@dataclass
class Case:
    """One answer to one exercise: ``tag`` is the mistake it must be refused with (``None``:
    it is right and must be accepted); ``says`` a piece of the message."""

    number: str
    answers: tuple[Any, ...]
    tag: str | None
    says: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    name: str = ""


CATALOGUE: list[Case] = []


def wrong(number: str, *answers: Any, tag: str, says: str = "", **options: Any) -> None:
    CATALOGUE.append(Case(number, answers, tag, says, options, _name(answers)))


def right(number: str, *answers: Any, **options: Any) -> None:
    CATALOGUE.append(Case(number, answers, None, "", options, _name(answers)))


def _name(answers: tuple[Any, ...]) -> str:
    named = [getattr(a, "__name__", None) or repr(a)[:20] for a in answers]
    return "+".join(re.sub(r"\W+", "_", n) for n in named)


def learner_code(source: str, **names: Any) -> dict[str, Any]:
    """A learner's cell run in a notebook-like namespace (where ``____`` is defined)."""
    namespace: dict[str, Any] = {"____": ____, "__name__": "__main__", **names}
    exec(source, namespace)
    return namespace


# --- 1.1: apply_event --------------------------------------------------------------------------


class ClockCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        super().apply_event(event)
        self.updated_at = datetime.now(UTC)


class LoggingCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        with open(os.devnull, "a") as log:
            log.write(repr(event))
        super().apply_event(event)


class RandomLineIdCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        super().apply_event(event)
        self.last_change = uuid.uuid4().hex


class ReplacingCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemAdded):
            self.items[event.sku] = event.quantity
        else:
            super().apply_event(event)


class StrictRemovalCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemRemoved):
            del self.items[event.sku]
        else:
            super().apply_event(event)


class ZeroingCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemRemoved):
            self.items[event.sku] = 0
        else:
            super().apply_event(event)


class RuleCheckingCart(ce.Cart):
    """The rule of 1.2 in apply_event: refuses what an old release recorded."""

    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemAdded) and self.status == "checked_out":
            raise CartAlreadyCheckedOut("checked out")
        super().apply_event(event)


class SkippingCart(ce.Cart):
    """The same rule, as a silent skip."""

    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemAdded) and self.status != "open":
            return
        super().apply_event(event)


class LimitCheckingCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        if isinstance(event, ItemAdded) and self.items.get(event.sku, 0) + event.quantity > 10:
            raise ItemLimitReached("too many")
        super().apply_event(event)


class VersionCountingCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        super().apply_event(event)
        self.version += 1  # type: ignore[misc]


class ForgetfulCheckoutCart(ce.Cart):
    def apply_event(self, event: Any) -> None:
        if not isinstance(event, CartCheckedOut):
            super().apply_event(event)


class MatchCart(CartBase):
    def apply_event(self, event: Any) -> None:
        match event:
            case CartOpened(customer=customer):
                self.customer, self.status = customer, "open"
            case ItemAdded(sku=sku, quantity=quantity):
                self.items[sku] = self.items.get(sku, 0) + quantity
            case ItemRemoved(sku=sku):
                if sku in self.items:
                    del self.items[sku]
            case CartCheckedOut():
                self.status = "checked_out"


class DispatchCart(CartBase):
    """One method per event type, found by name; a new dict on every change."""

    def apply_event(self, event: Any) -> None:
        getattr(self, f"_on_{type(event).__name__}")(event)

    def _on_CartOpened(self, event: Any) -> None:
        self.customer = event.customer
        self.status = "open"

    def _on_ItemAdded(self, event: Any) -> None:
        self.items = {**self.items, event.sku: self.items.get(event.sku, 0) + event.quantity}

    def _on_ItemRemoved(self, event: Any) -> None:
        self.items = {sku: n for sku, n in self.items.items() if sku != event.sku}

    def _on_CartCheckedOut(self, event: Any) -> None:
        self.status = "checked_out"


wrong("1.1", ClockCart, tag="impure apply_event", says="read the clock (datetime.now)")
wrong("1.1", LoggingCart, tag="impure apply_event", says="did I/O")
wrong("1.1", RandomLineIdCart, tag="impure apply_event", says="drew random numbers")
wrong("1.1", ReplacingCart, tag="replaced instead of added", says="replaced the count")
wrong("1.1", StrictRemovalCart, tag="apply_event refuses an event", says="an event is a fact")
wrong("1.1", ZeroingCart, tag="removed line kept", says="leave items entirely")
wrong("1.1", RuleCheckingCart, tag="rule in apply_event", says="to a checked-out cart raised")
wrong("1.1", SkippingCart, tag="rule in apply_event", says="skipped an event")
wrong("1.1", LimitCheckingCart, tag="rule in apply_event", says="beyond 10 'jam'")
wrong("1.1", VersionCountingCart, tag="version set by hand", says="the base class counts")
wrong("1.1", ForgetfulCheckoutCart, tag="wrong state", says="rule 4")
wrong("1.1", "Cart", tag="wrong answer type", says="pass your class itself")
right("1.1", MatchCart)
right("1.1", DispatchCart)


# --- 1.2: handle_command -----------------------------------------------------------------------


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


class MutatingCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command)
            self.items[command.sku] = self.items.get(command.sku, 0) + command.quantity
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class ForgetfulCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            if not self.exists:
                raise CartNotFound("no cart")
            if not 1 <= command.quantity <= 10:
                raise InvalidQuantity("bad quantity")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class ValueErrorCart(ce.Cart):
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


class OffByOneCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command, limit_check=">=")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class OutOfOrderCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            if not 1 <= command.quantity <= 10:
                raise InvalidQuantity("bad quantity")
            add_item_rules(self, command)
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class IgnoresHeldCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            if not self.exists:
                raise CartNotFound("no cart")
            if self.status == "checked_out":
                raise CartAlreadyCheckedOut("checked out")
            if not 1 <= command.quantity <= 10:
                raise InvalidQuantity("bad quantity")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class FallThroughCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command)
        return super().handle_command(command)


class SingleEventCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command)
            return ItemAdded(command.sku, command.quantity)
        return super().handle_command(command)


class TimestampingCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            add_item_rules(self, command)
            self.decided_at = datetime.now(UTC)
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class HelperRulesCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        if isinstance(command, AddItem):
            self._check(command)
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)

    def _check(self, command: Any) -> None:
        if self.status is None:
            raise CartNotFound()
        if self.status != "open":
            raise CartAlreadyCheckedOut()
        if command.quantity < 1 or command.quantity > MAX_PER_ITEM:
            raise InvalidQuantity()
        if not self.items.get(command.sku, 0) + command.quantity <= MAX_PER_ITEM:
            raise ItemLimitReached()


class MatchRulesCart(ce.Cart):
    def handle_command(self, command: Any) -> Any:
        match command:
            case AddItem(sku=sku, quantity=quantity):
                match self.status:
                    case None:
                        raise CartNotFound(sku)
                    case "checked_out":
                        raise CartAlreadyCheckedOut(sku)
                if quantity not in range(1, 11):
                    raise InvalidQuantity(quantity)
                if self.items.get(sku, 0) + quantity > 10:
                    raise ItemLimitReached(sku)
                return [ItemAdded(sku, quantity)]
        return super().handle_command(command)


UNFINISHED_CART = learner_code(
    "class Cart(CartBase):\n"
    "    def apply_event(self, event):\n"
    "        ____  # your code here\n"
    "\n"
    "class CartWithRules(Cart):\n"
    "    def handle_command(self, command):\n"
    "        if isinstance(command, AddItem):\n"
    "            return [ItemAdded(command.sku, command.quantity)]\n"
    "        return super().handle_command(command)\n",
    CartBase=CartBase,
    AddItem=AddItem,
    ItemAdded=ItemAdded,
)["CartWithRules"]

wrong("1.2", MutatingCart, tag="state changed in handle_command", says="without an event")
wrong("1.2", ForgetfulCart, tag="rule missing", says="rule 2 says raise CartAlreadyCheckedOut")
wrong("1.2", ValueErrorCart, tag="wrong error", says="rule 3 asks for InvalidQuantity")
wrong("1.2", OffByOneCart, tag="off by one", says="10 of one sku are allowed")
wrong("1.2", OutOfOrderCart, tag="wrong error", says="checked in order")
wrong("1.2", IgnoresHeldCart, tag="rule missing", says="7 already in the cart + 4 more")
wrong("1.2", FallThroughCart, tag="AddItem not decided", says="leaves AddItem to you")
wrong("1.2", SingleEventCart, tag="not a list", says="returns a list of events")
wrong("1.2", TimestampingCart, tag="impure handle_command", says="read the clock")
wrong("1.2", UNFINISHED_CART, tag="unfinished dependency", says="uses Cart, which still has")
right("1.2", HelperRulesCart)
right("1.2", MatchRulesCart)


# --- 1.3: the test of a rule -------------------------------------------------------------------


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


def learner_test_that_returns_a_bool(cart_class: Any) -> bool:
    cart = cart_class("cart-1")
    try:
        cart.handle_command(AddItem("cart-1", "cake", 1))
    except CartNotFound:
        return True
    return False


def learner_test_nothing(cart_class: Any) -> None:
    cart_class("cart-1")


def learner_test_never_checked_out(cart_class: Any) -> None:
    given_(CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), aggregate=cart_class).when(
        AddItem("cart-1", "cake", 1)
    ).then_raises(CartAlreadyCheckedOut)


def learner_test_pytest_raises_any_domain_error(cart_class: Any) -> None:
    cart = cart_class.load_from_events([], "cart-1")
    for event in (CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), CartCheckedOut()):
        cart.apply_event(event)
    with pytest.raises(DomainError):
        cart.handle_command(AddItem("cart-1", "cake", 1))


def learner_test_swallowing_everything(cart_class: Any) -> None:
    cart = cart_class("cart-1")
    for event in (CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), CartCheckedOut()):
        cart.apply_event(event)
    try:
        cart.handle_command(AddItem("cart-1", "cake", 1))
    except Exception:  # a learner's way of writing contextlib.suppress
        return


def learner_test_without_a_parameter() -> None:
    pass


def learner_test_with_pytest_raises(cart_class: Any) -> None:
    cart = cart_class("cart-1")
    for event in (CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), CartCheckedOut()):
        cart.apply_event(event)
    with pytest.raises(CartAlreadyCheckedOut):
        cart.handle_command(AddItem("cart-1", "cake", 1))


def learner_test_with_try_except(cart_class: Any) -> None:
    cart = cart_class("cart-1")
    for event in (CartOpened("cart-1", "Ada"), ItemAdded("tea", 1), CartCheckedOut()):
        cart.apply_event(event)
    try:
        cart.handle_command(AddItem("cart-1", "cake", 1))
    except CartAlreadyCheckedOut:
        return
    raise AssertionError("a checked-out cart took an item")


def learner_test_other_history(cart_class: Any) -> None:
    given_(
        CartOpened("cart-1", "Bob"),
        ItemAdded("jam", 2),
        ItemAdded("tea", 3),
        CartCheckedOut(),
        aggregate=cart_class,
    ).when(AddItem("cart-1", "jam", 1)).then_raises(CartAlreadyCheckedOut)


wrong(
    "1.3", learner_test_happy_path_only, tag="test does not test the rule", says="lets items into"
)
wrong("1.3", learner_test_any_domain_error, tag="test accepts any error", says="CartNotFound")
wrong(
    "1.3",
    learner_test_without_the_class,
    tag="test ignores cart_class",
    says="aggregate=cart_class",
)
wrong(
    "1.3",
    learner_test_that_returns_a_bool,
    tag="test returns instead of asserting",
    says="returned",
)
wrong("1.3", learner_test_nothing, tag="test ignores cart_class", says="never ran a command")
wrong(
    "1.3", learner_test_never_checked_out, tag="test fails on a correct cart", says="correct cart"
)
wrong(
    "1.3",
    learner_test_pytest_raises_any_domain_error,
    tag="test accepts any error",
    says="name the",
)
wrong(
    "1.3", learner_test_swallowing_everything, tag="test does not test the rule", says="lets items"
)
wrong("1.3", learner_test_without_a_parameter, tag="test signature", says="takes one argument")
right("1.3", learner_test_with_pytest_raises)
right("1.3", learner_test_with_try_except)
right("1.3", learner_test_other_history)


# --- 1.4: model the events yourself -------------------------------------------------------------

LOAN_NAMES = {"dataclass": dataclass, "DomainEvent": ce.DomainEvent, "LoanBase": LoanBase}
# The reference's events and apply, as a learner writes them in the notebook: the slips below
# replace one of them.
LOAN_EVENTS_SOURCE = """
@dataclass(frozen=True)
class BookBorrowed(DomainEvent):
    member_id: str
    book_id: str
    due_on: str

@dataclass(frozen=True)
class LoanExtended(DomainEvent):
    due_on: str

@dataclass(frozen=True)
class BookReturned(DomainEvent):
    returned_on: str

@dataclass(frozen=True)
class FineCharged(DomainEvent):
    amount_cents: int
"""
LOAN_BRANCHES = {
    "BookBorrowed": "self.member_id, self.book_id, self.due_on = (\n"
    "                event.member_id, event.book_id, event.due_on)",
    "LoanExtended": "self.due_on = event.due_on",
    "BookReturned": "self.returned_on = event.returned_on",
    "FineCharged": "self.fines_cents += event.amount_cents",
}


def loan_answer(
    events: str = "", steps: dict[str, str] | None = None, **branches: str
) -> tuple[Any, Any]:
    """(events, Loan) as a learner's cells make them: the reference's event classes with
    ``events`` (more class definitions, which replace theirs) after them, ``steps`` (step ->
    class name) instead of the reference's dict, and ``branches`` (event class name -> the
    body of its branch in apply_event; "" leaves the branch out) instead of the reference's."""
    chosen = {**LOAN_BRANCHES, **branches}
    apply = "".join(
        f"        {'if' if not index else 'elif'} isinstance(event, {name}):\n            {body}\n"
        for index, (name, body) in enumerate((n, b) for n, b in chosen.items() if b)
    )
    steps = steps or {
        "borrow": "BookBorrowed",
        "extend": "LoanExtended",
        "return": "BookReturned",
        "fine": "FineCharged",
    }
    return loan_cells(
        LOAN_EVENTS_SOURCE
        + textwrap.dedent(events)
        + "\nevents = {"
        + ", ".join(f"{step!r}: {name}" for step, name in steps.items())
        + "}\n\nclass Loan(LoanBase):\n    def apply_event(self, event):\n"
        + apply
    )


def loan_cells(source: str) -> tuple[Any, Any]:
    """(events, Loan) as the learner's cells of exercise 1.4 define them."""
    namespace = learner_code(textwrap.dedent(source), **LOAN_NAMES)
    return namespace["events"], namespace["Loan"]


def renamed(**names: str) -> dict[str, str]:
    """The steps' class names, with ``names`` (step -> a learner's class name) put in."""
    reference = {step: cls.__name__ for step, cls in ce.LOAN_EVENTS.items()}
    return {**reference, **names}


def loan_events(**changes: Any) -> dict[str, Any]:
    """The reference's event classes, with ``changes`` (step -> a learner's answer) put in."""
    return {**ce.LOAN_EVENTS, **changes}


# The names and the data of the events.
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class BorrowBook(DomainEvent):
            member_id: str
            book_id: str
            due_on: str
        """,
        steps=renamed(borrow="BorrowBook"),
        BookBorrowed="",
    ),
    tag="command-like name",
    says="reads as a command",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class LoanUpdated(DomainEvent):
            due_on: str
        """,
        steps=renamed(extend="LoanUpdated"),
    ),
    tag="vague name",
    says="something changed",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class LoanExtend(DomainEvent):
            due_on: str
        """,
        steps=renamed(extend="LoanExtend"),
    ),
    tag="not past tense",
    says="past tense",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class BookReturned(DomainEvent):
            returned_on: str
            was_late: bool
        """
    ),
    tag="derived data stored",
    says="'was_late'",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class LoanExtended(DomainEvent):
            old_due_on: str
            due_on: str
        """
    ),
    tag="derived data stored",
    says="old due date",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class FineCharged(DomainEvent):
            pass
        """,
        FineCharged="self.fines_cents += 100",
    ),
    tag="data missing",
    says="how much",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class BookBorrowed(DomainEvent):
            member_id: str
            book_id: str
        """
    ),
    tag="data missing",
    says="when it is due",
)
wrong(
    "1.4",
    loan_events(fine=ce.BookReturned),
    ce.Loan,
    tag="one event for two facts",
    says="both 'BookReturned'",
)
wrong("1.4", {"borrow": ce.BookBorrowed}, ce.Loan, tag="step left out", says="'extend'")
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class fine_charged(DomainEvent):
            amount_cents: int
        """,
        steps=renamed(fine="fine_charged"),
    ),
    tag="not a class name",
    says="CamelCase",
)
wrong("1.4", loan_events(fine="FineCharged"), ce.Loan, tag="wrong answer type", says="a frozen")
wrong(
    "1.4",
    loan_events(fine=("FineCharged", ["amount_cents"])),
    ce.Loan,
    tag="wrong answer type",
    says="write an event class",
)
wrong(
    "1.4",
    loan_events(fine=ce.FineCharged(150)),
    ce.Loan,
    tag="wrong answer type",
    says="without the brackets",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class FineCharged(DomainEvent):
            amount_cents: int
            clerk: str
        """
    ),
    tag="field not understood",
    says="a field 'clerk'",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass(frozen=True)
        class FineCharged(DomainEvent):
            amount_cents: str
        """
    ),
    tag="field type",
    says="amount_cents must be str, got int 150",
)
# The apply_event: the histories played through it.
wrong("1.4", *loan_answer(LoanExtended=""), tag="event ignored", says="ignores LoanExtended")
wrong("1.4", *loan_answer(BookReturned=""), tag="event ignored", says="ignores BookReturned")
wrong(
    "1.4",
    *loan_answer(FineCharged="self.fines_cents = event.amount_cents"),
    tag="replaced instead of added",
    says="replaced the total",
)
wrong(
    "1.4",
    *loan_answer(
        BookBorrowed="self.member_id, self.book_id, self.due_date = (\n"
        "                event.member_id, event.book_id, event.due_on)"
    ),
    tag="field not set",
    says="went to self.due_date",
)
wrong(
    "1.4",
    *loan_answer(FineCharged="self.fines_cents += event.amount_cents / 100"),
    tag="wrong state",
    says="fines_cents is 1.5, expected 150",
)
wrong(
    "1.4",
    *loan_answer(BookReturned="self.returned_on = self.due_on"),
    tag="wrong state",
    says="returned_on is '2025-04-07', expected '2025-04-10'",
)
wrong(
    "1.4",
    *loan_answer(
        BookReturned="self.returned_on = event.returned_on\n"
        "            self.returned_late = self.returned_on > self.due_on"
    ),
    tag="derived state set by hand",
    says="set self.returned_late",
)
wrong(
    "1.4",
    *loan_answer(
        FineCharged="event.amount_cents += self.fines_cents\n"
        "            self.fines_cents = event.amount_cents"
    ),
    tag="event changed",
    says="an event is a fact",
)
wrong(
    "1.4",
    *loan_answer(
        """
        @dataclass
        class FineCharged(DomainEvent):
            amount_cents: int
        """,
        FineCharged="event.amount_cents += self.fines_cents\n"
        "            self.fines_cents = event.amount_cents",
    ),
    tag="event changed",
    says="changed the event's amount_cents",
)
wrong(
    "1.4",
    *loan_answer(BookReturned="self.returned_on = event.due_on"),
    tag="raised",
    says="has no attribute 'due_on'",
)
wrong(
    "1.4",
    *loan_answer(
        BookReturned="import datetime\n"
        "            self.returned_on = datetime.date.today().isoformat()"
    ),
    tag="impure apply_event",
    says="read the clock",
)
wrong("1.4", ce.LOAN_EVENTS, type("Loan", (LoanBase,), {}), tag="no apply_event", says="Loan")
wrong("1.4", ce.LOAN_EVENTS, ce.Loan("loan-1"), tag="wrong answer type", says="LoanBase")
right(
    "1.4",
    *loan_cells(
        """
        @dataclass(frozen=True)
        class LoanStarted(DomainEvent):
            patron_id: str
            isbn: str
            borrowed_on: str
            due_date: str

        @dataclass(frozen=True)
        class LoanRenewed(DomainEvent):
            new_due_date: str

        @dataclass(frozen=True)
        class BookBroughtBack(DomainEvent):
            date: str

        @dataclass(frozen=True)
        class FeeCharged(DomainEvent):
            fee_cents: int
            reason: str

        events = {
            "fine": FeeCharged,
            "return": BookBroughtBack,
            "extend": LoanRenewed,
            "borrow": LoanStarted,
        }

        class Loan(LoanBase):
            def apply_event(self, event):
                match event:
                    case LoanStarted(patron_id=who, isbn=book, due_date=due):
                        self.member_id, self.book_id, self.due_on = who, book, due
                    case LoanRenewed(new_due_date=due):
                        self.due_on = due
                    case BookBroughtBack(date=day):
                        self.returned_on = day
                    case FeeCharged(fee_cents=cents):
                        self.fines_cents = self.fines_cents + cents
        """
    ),
)
right(
    "1.4",
    *loan_cells(
        """
        @dataclass
        class BookLent(DomainEvent):
            member: str
            book: str
            due_on: str

        @dataclass
        class DueDateExtended(DomainEvent):
            until: str
            extended_on: str

        @dataclass
        class LoanEnded(DomainEvent):
            returned_on: str
            book_id: str

        @dataclass
        class FineImposed(DomainEvent):
            amountCents: int
            memberId: str

        events = {"borrow": BookLent, "extend": DueDateExtended, "return": LoanEnded,
                  "fine": FineImposed}

        class Loan(LoanBase):
            def apply_event(self, event):
                getattr(self, "on_" + type(event).__name__)(event)

            def on_BookLent(self, event):
                self.member_id = event.member
                self.book_id = event.book
                self.due_on = event.due_on

            def on_DueDateExtended(self, event):
                self.due_on = event.until

            def on_LoanEnded(self, event):
                self.returned_on = event.returned_on

            def on_FineImposed(self, event):
                self.fines_cents = sum([self.fines_cents, event.amountCents])
        """
    ),
)


# --- 2.1: rebuild from a shuffled batch --------------------------------------------------------


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


def rebuild_by_timestamp(batch: Any, user_id: str) -> User:
    mine = [e for e in batch if e.aggregate_id == user_id]
    return User.load_from_events(sorted(mine, key=lambda e: e.timestamp), user_id)


def rebuild_by_timestamp_by_hand(batch: Any, user_id: str) -> User:
    user = User(user_id)
    for event in sorted(batch, key=lambda e: e.timestamp):
        if event.aggregate_id == user_id:
            user.apply_event(User.events.to_domain(event))
    return user


def rebuild_newest_first(batch: Any, user_id: str) -> User:
    mine = [e for e in batch if e.aggregate_id == user_id]
    return User.load_from_events(sorted(mine, key=lambda e: e.version, reverse=True), user_id)


def rebuild_with_apply_event(batch: Any, user_id: str) -> User:
    user = User(user_id)
    for event in sorted(batch, key=lambda e: e.version):
        if event.aggregate_id == user_id:
            user.apply_event(User.events.to_domain(event))
    return user


def rebuild_without_the_id(batch: Any, user_id: str) -> User:
    mine = sorted((e for e in batch if e.aggregate_id == user_id), key=lambda e: e.version)
    return User.load_from_events(mine)


def rebuild_state(batch: Any, user_id: str) -> Any:
    mine = sorted((e for e in batch if e.aggregate_id == user_id), key=lambda e: e.version)
    return User.load_from_events(mine, user_id).state()


def rebuild_by_position(batch: Any, user_id: str) -> User:
    mine = [e for e in batch if e.aggregate_id == user_id]
    return User.load_from_events(sorted(mine, key=lambda e: e.global_position), user_id)


def rebuild_by_time_then_version(batch: Any, user_id: str) -> User:
    user = User(user_id)
    for event in sorted(batch, key=lambda e: (e.timestamp, e.version)):
        if event.aggregate_id == user_id:
            user.apply(event)
    return user


wrong("2.1", rebuild_unsorted, tag="events applied out of order", says="EventsOutOfOrder")
wrong("2.1", rebuild_in_arrival_order, tag="events applied out of order", says="*arrive*")
wrong("2.1", rebuild_every_stream, tag="mixed streams", says="several users' events")
wrong("2.1", rebuild_by_timestamp, tag="sorted by timestamp", says="share a timestamp")
wrong("2.1", rebuild_by_timestamp_by_hand, tag="sorted by timestamp", says="Sort by version")
wrong("2.1", rebuild_newest_first, tag="events applied out of order", says="rule 2")
wrong("2.1", rebuild_with_apply_event, tag="version not counted", says="counts the version")
wrong("2.1", rebuild_without_the_id, tag="raised", says="rebuild(batch, 'nobody')")
wrong("2.1", rebuild_state, tag="not a User", says="return the User")
wrong("2.1", 42, tag="not callable", says="pass your function itself")
right("2.1", rebuild_by_position)
right("2.1", rebuild_by_time_then_version)


# --- 2.2: a deposit that survives a lost reply -------------------------------------------------


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


def deposit_and_shrug(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    version = store.stream_version(account_id)
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    for _ in range(3):
        try:
            return store.append_events(account_id, version, [event])
        except TimeoutError:
            pass
    return []


def deposit_reading_the_version_again(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    for attempt in range(3):
        try:
            return store.append_events(account_id, store.stream_version(account_id), [event])
        except TimeoutError:
            if attempt == 2:
                raise
    return None


def deposit_with_any_and_one_id(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    for attempt in range(3):
        try:
            return store.append_events(account_id, ANY, [event])
        except TimeoutError:
            if attempt == 2:
                raise
    return None


def deposit_with_a_while_loop(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    expected = store.stream_version(account_id)
    events = [NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())]
    attempts = 0
    while True:
        attempts += 1
        try:
            return store.append_events(account_id, expected, events)
        except TimeoutError:
            if attempts >= 3:
                raise


def deposit_with_for_else(store: Any, account_id: str, amount: int, new_id: Any) -> Any:
    version = store.stream_version(account_id)
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    last: TimeoutError | None = None
    for _ in range(3):
        try:
            return store.append_events(account_id, version, [event])
        except TimeoutError as error:
            last = error
    assert last is not None
    raise last


wrong("2.2", deposit_with_new_ids, tag="new id on retry", says="new_id() on every attempt")
wrong("2.2", deposit_with_any, tag="recorded twice", says="recorded 2 deposits")
wrong("2.2", deposit_once, tag="no retry", says="try the same append again")
wrong("2.2", deposit_for_ever, tag="retries forever", says="retried more than 50 times")
wrong("2.2", deposit_and_shrug, tag="swallowed the timeout", says="returned normally")
wrong("2.2", deposit_with_any_and_one_id, tag="ANY", says="you appended with ANY")
right("2.2", deposit_with_a_while_loop)
right("2.2", deposit_with_for_else)
# The store takes a re-append of the same events as an idempotent success whatever the expected
# version (store/base.py), so reading the version again for the retry is right too.
right("2.2", deposit_reading_the_version_again)


# --- 3.1: an idempotent projection -------------------------------------------------------------


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


class AccountFromData(CountsEverything):
    def handle(self, event: Any) -> None:
        if event.global_position <= self.position:
            return
        if event.event_type == "MoneyDeposited":
            account = event.data["account_id"]
            self.totals[account] = self.totals.get(account, 0) + event.data["amount"]
        self.position = event.global_position


class SeenIdsOnly(CountsEverything):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def handle(self, event: Any) -> None:
        if event.id in self.seen:
            return
        self.seen.add(event.id)
        if event.event_type == "MoneyDeposited":
            account = event.aggregate_id
            self.totals[account] = self.totals.get(account, 0) + event.data["amount"]


class GreaterThanBlock(CountsEverything):
    def handle(self, event: Any) -> None:
        if event.global_position > self.position:
            self.position = event.global_position
            if event.event_type == "MoneyDeposited":
                amount = int(event.data.get("amount", 0))
                self.totals[event.aggregate_id] = self.totals.get(event.aggregate_id, 0) + amount


class SeenPositionsAndCheckpoint(CountsEverything):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def handle(self, event: Any) -> None:
        if event.global_position in self.seen:
            return
        self.seen.add(event.global_position)
        self.position = max(self.position, event.global_position)
        if event.event_type == "MoneyDeposited":
            self.totals.setdefault(event.aggregate_id, 0)
            self.totals[event.aggregate_id] += event.data["amount"]


wrong("3.1", CountsEverything, tag="double-counts a redelivered event", says="came again")
wrong("3.1", StrictlyBelow, tag="double-counts a redelivered event", says="position 6")
wrong("3.1", MovesOnlyOnDeposits, tag="checkpoint not moved", says="handled or not")
wrong("3.1", CountsWithdrawals, tag="counted a withdrawal", says="deposits only")
wrong("3.1", AccountFromData, tag="raised", says="KeyError: 'account_id'")
wrong("3.1", SeenIdsOnly, tag="checkpoint not moved", says="position is 0")
wrong("3.1", "DepositTotals", tag="wrong answer type", says="pass your class itself")
right("3.1", GreaterThanBlock)
right("3.1", SeenPositionsAndCheckpoint)


# --- 3.2: deposits per day ---------------------------------------------------------------------

UPSERT = "ON CONFLICT (day) DO UPDATE SET total = total + excluded.total"


def plain_insert(conn: Any, event: Any) -> None:
    conn.execute(
        "INSERT INTO daily_deposits VALUES (?, ?)", [event.timestamp.date(), event.data["amount"]]
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


def do_nothing_on_conflict(conn: Any, event: Any) -> None:
    conn.execute(
        "INSERT INTO daily_deposits VALUES (?, ?) ON CONFLICT (day) DO NOTHING",
        [event.timestamp.date(), event.data["amount"]],
    )


def upsert_that_replaces(conn: Any, event: Any) -> None:
    conn.execute(
        "INSERT INTO daily_deposits VALUES (?, ?) "
        "ON CONFLICT (day) DO UPDATE SET total = excluded.total",
        [event.timestamp.date(), event.data["amount"]],
    )


def read_then_write(conn: Any, event: Any) -> None:
    day = event.timestamp.date()
    row = conn.execute("SELECT total FROM daily_deposits WHERE day = ?", [day]).fetchone()
    if row is None:
        conn.execute("INSERT INTO daily_deposits VALUES (?, ?)", [day, event.data["amount"]])
    else:
        conn.execute(
            "UPDATE daily_deposits SET total = ? WHERE day = ?",
            [row[0] + event.data["amount"], day],
        )


def upsert_with_the_table_name(conn: Any, event: Any) -> None:
    conn.execute(
        "INSERT INTO daily_deposits (day, total) VALUES (CAST(? AS DATE), ?) "
        "ON CONFLICT (day) DO UPDATE SET total = daily_deposits.total + excluded.total",
        [event.timestamp.date().isoformat(), event.data["amount"]],
    )


wrong("3.2", plain_insert, tag="insert instead of upsert", says="duplicate key")
wrong("3.2", insert_or_replace, tag="replace instead of add", says="INSERT OR REPLACE")
wrong("3.2", upsert_that_replaces, tag="replace instead of add", says="replaced the day's total")
wrong("3.2", do_nothing_on_conflict, tag="kept the first deposit", says="DO NOTHING")
wrong("3.2", on_the_day_it_runs, tag="clock in a projection", says="read the clock")
wrong("3.2", on_the_databases_day, tag="clock in a projection", says="today's date")
right("3.2", read_then_write)
right("3.2", upsert_with_the_table_name)


# --- 3.3: out-of-order and repeated delivery ----------------------------------------------------


def directory(body: str) -> type:
    """A learner's ``UserDirectory`` with ``body`` as its ``handle``."""
    source = (
        "class UserDirectory(UserDirectoryBase):\n"
        "    def handle(self, event):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), " " * 8)
        + "\n"
    )
    cls: type = learner_code(source, UserDirectoryBase=pj.UserDirectoryBase)["UserDirectory"]
    return cls


wrong("3.3", directory("self.apply(event)"), tag="applied in arrival order", says="UserCreated")
wrong(
    "3.3",
    directory(
        """
        if event.id in self.waiting:
            return
        self.waiting[event.id] = event
        if event.aggregate_id in self.users or event.event_type == "UserCreated":
            self.apply(event)
        """
    ),
    tag="applied in arrival order",
    says="in the order they arrive",
)
wrong(
    "3.3",
    directory(
        """
        user = event.aggregate_id
        if event.version > self.applied.get(user, 0):
            if user in self.users or event.event_type == "UserCreated":
                self.apply(event)
                self.applied[user] = event.version
        """
    ),
    tag="late event dropped",
    says="below the newest",
)
wrong(
    "3.3",
    directory(
        """
        position = self.applied.get("*", 0)
        if event.global_position <= position:
            return
        if event.aggregate_id in self.users or event.event_type == "UserCreated":
            self.apply(event)
            self.applied["*"] = event.global_position
        """
    ),
    tag="global checkpoint drops late events",
    says="global position",
)
wrong(
    "3.3",
    directory(
        """
        user = event.aggregate_id
        if event.version == self.applied.get(user, 0) + 1:
            self.apply(event)
            self.applied[user] = event.version
        elif event.version > self.applied.get(user, 0):
            self.waiting.setdefault(user, {})[event.version] = event
        """
    ),
    tag="waiting events never applied",
    says="never applied",
)
wrong(
    "3.3",
    directory("self.applied[event.aggregate_id] = event.version"),
    tag="wrong in order",
    says="delivered in order",
)
wrong("3.3", pj.UserDirectory(), tag="wrong answer type", says="class itself")
right(
    "3.3",
    directory(
        """
        # One buffer for the whole log: positions 1, 2, 3, ... have no gaps in one store.
        position = getattr(self, "position", 0)
        if event.global_position <= position:
            return
        early = self.waiting.setdefault("log", {})
        early[event.global_position] = event
        while position + 1 in early:
            position += 1
            self.apply(early.pop(position))
        self.position = position
        """
    ),
)
right(
    "3.3",
    directory(
        """
        # Keep every event of the user by version; replay the unbroken run from version 1.
        user = event.aggregate_id
        seen = self.waiting.setdefault(user, {})
        seen[event.version] = event
        run = []
        while len(run) + 1 in seen:
            run.append(seen[len(run) + 1])
        self.users.pop(user, None)
        for each in run:
            self.apply(each)
        self.applied[user] = len(run)
        """
    ),
)


# --- 3.4: balances per owner, across accounts --------------------------------------------------


def owner_balances(body: str) -> type:
    """A learner's ``OwnerBalances`` (the notebook's ``__init__``) with ``body`` as ``handle``."""
    source = (
        "class OwnerBalances:\n"
        "    def __init__(self):\n"
        "        self.balances = {}\n"
        "        self.owner_of = {}\n\n"
        "    def handle(self, event):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), " " * 8)
        + "\n"
    )
    cls: type = learner_code(source)["OwnerBalances"]
    return cls


wrong(
    "3.4",
    owner_balances(
        """
        sign = {"MoneyDeposited": 1, "MoneyWithdrawn": -1}.get(event.event_type, 0)
        account = event.aggregate_id
        self.balances[account] = self.balances.get(account, 0) + sign * event.data.get("amount", 0)
        """
    ),
    tag="balances per account",
    says="keyed by account id",
)
wrong(
    "3.4",
    owner_balances(
        """
        if event.event_type == "AccountOpened":
            self.owner = event.data["owner"]
            self.balances.setdefault(self.owner, 0)
        elif event.event_type == "MoneyDeposited":
            self.balances[self.owner] += event.data["amount"]
        elif event.event_type == "MoneyWithdrawn":
            self.balances[self.owner] -= event.data["amount"]
        """
    ),
    tag="owner of the last opened account",
    says="opened last",
)
wrong(
    "3.4",
    owner_balances(
        """
        if event.event_type == "AccountOpened":
            self.owner_of[event.aggregate_id] = event.data["owner"]
            self.balances[event.data["owner"]] = 0
        elif event.event_type == "MoneyDeposited":
            self.balances[self.owner_of[event.aggregate_id]] += event.data["amount"]
        elif event.event_type == "MoneyWithdrawn":
            self.balances[self.owner_of[event.aggregate_id]] -= event.data["amount"]
        """
    ),
    tag="second account reset the total",
    says="back to 0",
)
wrong(
    "3.4",
    owner_balances(
        """
        if event.event_type == "AccountOpened":
            self.owner_of[event.aggregate_id] = event.data["owner"]
            self.balances.setdefault(event.data["owner"], 0)
        elif event.event_type in ("MoneyDeposited", "MoneyWithdrawn"):
            self.balances[self.owner_of[event.aggregate_id]] += event.data["amount"]
        """
    ),
    tag="withdrawal added",
    says="withdrawals were added",
)
wrong(
    "3.4",
    owner_balances(
        """
        if event.event_type == "AccountOpened":
            self.owner_of[event.aggregate_id] = event.data["owner"]
        elif event.event_type in ("MoneyDeposited", "MoneyWithdrawn"):
            owner = self.owner_of[event.aggregate_id]
            sign = 1 if event.event_type == "MoneyDeposited" else -1
            self.balances[owner] = self.balances.get(owner, 0) + sign * event.data["amount"]
        """
    ),
    tag="owner without money missing",
    says="Alan",
)
wrong(
    "3.4",
    owner_balances(
        """
        if event.event_type == "MoneyDeposited":
            owner = event.data["owner"]
            self.balances[owner] = self.balances.get(owner, 0) + event.data["amount"]
        """
    ),
    tag="owner read from a deposit",
    says="only AccountOpened carries the owner",
)
wrong("3.4", pj.OwnerBalances(), tag="wrong answer type", says="class itself")
right(
    "3.4",
    owner_balances(
        """
        match event.event_type, dict(event.data):
            case "AccountOpened", {"owner": owner}:
                self.owner_of[event.aggregate_id] = owner
                if owner not in self.balances:
                    self.balances[owner] = 0
            case "MoneyDeposited", {"amount": amount}:
                self.balances[self.owner_of[event.aggregate_id]] += amount
            case "MoneyWithdrawn", {"amount": amount}:
                self.balances[self.owner_of[event.aggregate_id]] -= amount
        """
    ),
)
right(
    "3.4",
    owner_balances(
        """
        # Balances per account, summed per owner each time: slower, and just as right.
        accounts = self.__dict__.setdefault("per_account", {})
        if event.event_type == "AccountOpened":
            self.owner_of[event.aggregate_id] = event.data["owner"]
        change = {"MoneyDeposited": 1, "MoneyWithdrawn": -1}.get(event.event_type, 0)
        key = event.aggregate_id
        accounts[key] = accounts.get(key, 0) + change * event.data.get("amount", 0)
        self.balances = {}
        for account, owner in self.owner_of.items():
            self.balances[owner] = self.balances.get(owner, 0) + accounts.get(account, 0)
        """
    ),
)


# --- 4.1: an email at a moment -----------------------------------------------------------------


def email_strictly_before(store: Any, user_id: str, moment: datetime) -> Any:
    events = [e for e in store.get_events(user_id) if e.timestamp < moment]
    user = User.load_from_events(events, user_id)
    return user.email if user.exists else None


def email_now(store: Any, user_id: str, moment: datetime) -> Any:
    return User.load_from_events(store.get_events(user_id), user_id).email


def email_or_blank(store: Any, user_id: str, moment: datetime) -> Any:
    return state_at(store, User, user_id, at=moment).email


def email_at_wall_clock(store: Any, user_id: str, moment: datetime) -> Any:
    naive = moment.replace(tzinfo=None)
    events = [e for e in store.get_events(user_id) if e.timestamp.replace(tzinfo=None) <= naive]
    user = User.load_from_events(events, user_id)
    return user.email if user.exists else None


def email_with_moment_taken_as_utc(store: Any, user_id: str, moment: datetime) -> Any:
    user = state_at(store, User, user_id, at=moment.replace(tzinfo=UTC))
    return user.email if user.exists else None


def email_on_the_day(store: Any, user_id: str, moment: datetime) -> Any:
    events = [e for e in store.get_events(user_id) if e.timestamp.date() <= moment.date()]
    user = User.load_from_events(events, user_id)
    return user.email if user.exists else None


def name_instead_of_email(store: Any, user_id: str, moment: datetime) -> Any:
    user = state_at(store, User, user_id, at=moment)
    return user.name if user.exists else None


def email_by_hand(store: Any, user_id: str, moment: datetime) -> Any:
    email = None
    for event in store.get_events(user_id):
        if event.timestamp > moment:
            break
        email = event.data.get("email", event.data.get("new_email", email))
    return email


def email_in_naive_utc(store: Any, user_id: str, moment: datetime) -> Any:
    cut = moment.astimezone(UTC).replace(tzinfo=None)
    events = [e for e in store.get_events(user_id) if e.timestamp.replace(tzinfo=None) <= cut]
    return User.load_from_events(events, user_id).email if events else None


wrong("4.1", email_strictly_before, tag="missed the event at the moment", says="at or before")
wrong("4.1", email_now, tag="current state instead of the past", says="the email today")
wrong("4.1", email_or_blank, tag="answer before the user existed", says="return None")
wrong("4.1", email_at_wall_clock, tag="time zone ignored", says="14:00+0200 is 12:00 UTC")
wrong("4.1", email_with_moment_taken_as_utc, tag="time zone ignored", says="time zones")
wrong("4.1", email_on_the_day, tag="compared dates, not moments", says="not their dates")
wrong("4.1", name_instead_of_email, tag="wrong", says="gave 'Ada', expected 'ada@example.com'")
right("4.1", email_by_hand)
right("4.1", email_in_naive_utc)


# --- 4.2: balances at a moment, in SQL ---------------------------------------------------------

QUERY = tt.BALANCES_AT
wrong("4.2", QUERY.replace("timestamp <= ?", "timestamp < ?"), tag="missed the event at the moment")
wrong("4.2", QUERY.replace("THEN -CAST", "THEN CAST"), tag="added withdrawals", says="negative")
wrong(
    "4.2",
    QUERY.replace("coalesce(sum", "(sum").replace("END), 0) AS", "END)) AS"),
    tag="NULL balance",
    says="coalesce",
)
wrong("4.2", QUERY.replace(" AND timestamp <= ?", ""), tag="SQL error", says="use one ?")
wrong(
    "4.2",
    QUERY.replace(" AND timestamp <= ?", " AND ? IS NOT NULL"),
    tag="no time filter",
    says="balances now",
)
wrong(
    "4.2",
    QUERY.replace("timestamp <= ?", "CAST(timestamp AS DATE) <= CAST(? AS DATE)"),
    tag="compared dates, not moments",
)
wrong(
    "4.2",
    QUERY.replace(
        "aggregate_type = 'BankAccount'",
        "event_type IN ('MoneyDeposited', 'MoneyWithdrawn')",
    ),
    tag="account missing",
    says="which existed by then",
)
wrong("4.2", QUERY.replace("ORDER BY account_id", "ORDER BY account_id DESC"), tag="not ordered")
wrong("4.2", 42, tag="not a str", says="string of SQL")
right(
    "4.2",
    """
    SELECT aggregate_id AS account_id,
           coalesce(sum(CAST(data->>'amount' AS BIGINT))
                    FILTER (WHERE event_type = 'MoneyDeposited'), 0)
         - coalesce(sum(CAST(data->>'amount' AS BIGINT))
                    FILTER (WHERE event_type = 'MoneyWithdrawn'), 0) AS balance
    FROM events_log
    WHERE timestamp <= ? AND aggregate_type = 'BankAccount'
    GROUP BY 1
    ORDER BY 1
    """,
)
right(
    "4.2",
    """
    SELECT aggregate_id AS account_id,
           sum(CASE WHEN event_type = 'MoneyDeposited' THEN (data->>'amount')::BIGINT
                    WHEN event_type = 'MoneyWithdrawn' THEN -(data->>'amount')::BIGINT
                    ELSE 0 END) AS balance
    FROM events_log
    WHERE aggregate_type = 'BankAccount' AND timestamp <= ?
    GROUP BY aggregate_id
    ORDER BY account_id
    """,
)


# --- 5.1: a snapshot interval, measured --------------------------------------------------------


def read_without_writer_snapshots(interval: int) -> int:
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    sc.write_stream(CommandProcessor(store, Profile, ids=SeededIds(1)), "ada", STREAM_LENGTH)
    loader = Repository(store, Profile, snapshots=snapshots, snapshot_interval=interval)
    return loader.load_with_report("ada")[1].events_read


def read_with_a_plain_user(interval: int) -> int:
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    writer = CommandProcessor(
        store, User, ids=SeededIds(1), snapshots=snapshots, snapshot_interval=interval
    )
    sc.write_stream(writer, "ada", STREAM_LENGTH)  # type: ignore[arg-type]
    loader = Repository(store, User, snapshots=snapshots, snapshot_interval=interval)
    return loader.load_with_report("ada")[1].events_read


def read_hard_coded(interval: int) -> int:
    return 12


def read_by_formula(interval: int) -> int:
    return STREAM_LENGTH % interval


def read_at_multiples(interval: int) -> int:
    """The reference design's rule by hand: the last snapshot at the last multiple."""
    last_snapshot = max(v for v in range(STREAM_LENGTH + 1) if v % interval == 0)
    return STREAM_LENGTH - last_snapshot


def read_the_version(interval: int) -> int:
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    writer = CommandProcessor(
        store, Profile, ids=SeededIds(1), snapshots=snapshots, snapshot_interval=interval
    )
    sc.write_stream(writer, "ada", STREAM_LENGTH)
    loader = Repository(store, Profile, snapshots=snapshots, snapshot_interval=interval)
    return loader.load_with_report("ada")[1].version


def read_with_a_fixed_interval(interval: int) -> int:
    return sc.events_read(41)


def read_from_the_report_versions(interval: int) -> int:
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    writer = CommandProcessor(
        store, Profile, ids=SeededIds(7), snapshots=snapshots, snapshot_interval=interval
    )
    sc.write_stream(writer, "ada", STREAM_LENGTH)
    _, report = Repository(store, Profile, snapshots=snapshots).load_with_report("ada")
    return report.version - report.snapshot_version


def read_by_counting(interval: int) -> int:
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    writer = CommandProcessor(
        store, Profile, ids=SeededIds(1), snapshots=snapshots, snapshot_interval=interval
    )
    sc.write_stream(writer, "ada", STREAM_LENGTH)
    latest = snapshots.get_latest("ada")
    return len(store.get_events("ada", (latest.version if latest else 0) + 1))


wrong("5.1", 50, sc.events_read, tag="interval too large", says="49 events")
wrong("5.1", 40, sc.events_read, tag="interval too small", says="41 would take fewer")
wrong("5.1", 41.0, sc.events_read, tag="not an int", says="whole number")
wrong("5.1", "41", sc.events_read, tag="not an int", says="whole number")
wrong("5.1", 41, read_without_writer_snapshots, tag="no snapshot taken", says="read all 500")
wrong("5.1", 41, read_with_a_plain_user, tag="writer is not a Profile", says="write (and load)")
wrong("5.1", 41, read_hard_coded, tag="wrong measurement", says="events_read(41) gave 12")
wrong("5.1", 41, read_by_formula, tag="multiples rule", says="version % N == 0")
wrong("5.1", 41, read_at_multiples, tag="multiples rule", says="500 % 41")
wrong("5.1", 41, read_the_version, tag="wrong field", says="version is 500")
wrong("5.1", 41, read_with_a_fixed_interval, tag="wrong measurement", says="events_read(100)")
right("5.1", 41, read_from_the_report_versions)
right("5.1", 41, read_by_counting)


# --- 5.2: a cache that is never stale ----------------------------------------------------------


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


class PlusTwo(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        kept = self.entries.get(account_id) or BankAccount(account_id)
        for event in self.store.get_events(account_id, kept.version + 2):
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


class CopyBeforeApplying(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        kept = self.entries.get(account_id) or BankAccount(account_id)
        handed_out = copy.deepcopy(kept)
        for event in self.store.get_events(account_id, kept.version + 1):
            kept.apply(event)
        self.entries[account_id] = kept
        return handed_out


class KeepsNothing(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        return BankAccount.load_from_events(self.store.get_events(account_id), account_id)


class ShallowCopies(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        if account_id not in self.entries:
            events = self.store.get_events(account_id)
            self.entries[account_id] = BankAccount.load_from_events(events, account_id)
        else:
            kept = self.entries[account_id]
            for event in self.store.get_events(account_id, from_version=kept.version + 1):
                kept.apply(event)
        return copy.copy(self.entries[account_id])


class RebuildsFromItsCopy(StaleCache):
    def load(self, account_id: str) -> BankAccount:
        account = copy.deepcopy(self.entries.get(account_id, BankAccount(account_id)))
        for event in self.store.get_events(account_id, account.version + 1):
            account.apply(event)
        self.entries[account_id] = copy.deepcopy(account)
        return account


wrong("5.2", StaleCache, tag="stale cache", says="the cache is stale")
wrong("5.2", ReloadsEverything, tag="reads the whole stream", says="only the 2 new ones")
wrong("5.2", InclusiveFromVersion, tag="events applied out of order", says="version + 1")
wrong("5.2", PlusTwo, tag="skipped an event", says="was skipped")
wrong("5.2", HandsOutItsOwn, tag="hands out the cached object", says="Return a copy")
wrong("5.2", CopyBeforeApplying, tag="copy taken before applying", says="Apply first")
wrong("5.2", KeepsNothing, tag="first load", says="self.entries")
right("5.2", ShallowCopies)
right("5.2", RebuildsFromItsCopy)


# --- 6.1: decide, then append with the expected version ----------------------------------------


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

    execute.__name__ = f"execute_expecting_{expected}"
    return execute


def execute_swallowing_the_conflict(store: Any, account_id: str, command: Any) -> Any:
    account = BankAccount.load_from_events(store.get_events(account_id), account_id)
    new_events = [NewEvent.from_domain(e, "BankAccount") for e in account.handle_command(command)]
    try:
        return store.append_events(account_id, account.version, new_events)
    except WrongExpectedVersion:
        return []


def execute_returning_nothing(store: Any, account_id: str, command: Any) -> None:
    account = BankAccount.load_from_events(store.get_events(account_id), account_id)
    new_events = [NewEvent.from_domain(e, "BankAccount") for e in account.handle_command(command)]
    store.append_events(account_id, account.version, new_events)


def execute_without_loading(store: Any, account_id: str, command: Any) -> Any:
    account = BankAccount(account_id)
    new_events = [NewEvent.from_domain(e, "BankAccount") for e in account.handle_command(command)]
    return store.append_events(account_id, store.stream_version(account_id), new_events)


def execute_by_hand(store: Any, account_id: str, command: Any) -> Any:
    events = store.get_events(account_id)
    account = BankAccount(account_id)
    for event in events:
        account.apply(event)
    decided = account.handle_command(command)
    return store.append_events(
        account_id, len(events), [NewEvent.from_domain(e, "BankAccount") for e in decided]
    )


def execute_with_a_processor_less_path(store: Any, account_id: str, command: Any) -> Any:
    account = BankAccount.load_from_events(store.get_events(account_id), account_id)
    loaded_at = account.version
    new_events = []
    for decided in account.handle_command(command):
        new_events.append(NewEvent.from_domain(decided, BankAccount.aggregate_type))
    recorded = store.append_events(account_id, loaded_at, new_events)
    return list(recorded)


wrong("6.1", execute_with("any"), tag="lost update", says="lost update")
wrong("6.1", execute_with("again"), tag="lost update", says="read again just before")
wrong("6.1", execute_with("next"), tag="expected the next version", says="not the next one")
wrong("6.1", execute_swallowing_the_conflict, tag="swallowed the conflict", says="caught and")
wrong("6.1", execute_returning_nothing, tag="wrong return", says="return the recorded events")
wrong("6.1", execute_without_loading, tag="raised", says="AccountNotFound")
right("6.1", execute_by_hand)
right("6.1", execute_with_a_processor_less_path)


# --- 6.2: a bounded retry ----------------------------------------------------------------------


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


def retry_one_short(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    for attempt in range(1, max_attempts):
        try:
            return execute(store, account_id, command)
        except WrongExpectedVersion:
            if attempt == max_attempts - 1:
                raise
    return None


def retry_without_max_attempts(store: Any, account_id: str, command: Any) -> Any:
    for attempt in range(3):
        try:
            return execute(store, account_id, command)
        except WrongExpectedVersion:
            if attempt == 2:
                raise
    return None


def retry_with_a_while_loop(
    store: Any, account_id: str, command: Any, max_attempts: int = 3
) -> Any:
    attempts = 0
    while True:
        attempts += 1
        try:
            return execute(store, account_id, command)
        except WrongExpectedVersion:
            if attempts >= max_attempts:
                raise


def retry_by_recursion(store: Any, account_id: str, command: Any, max_attempts: int = 3) -> Any:
    try:
        return execute(store, account_id, command)
    except WrongExpectedVersion:
        if max_attempts <= 1:
            raise
        return retry_by_recursion(store, account_id, command, max_attempts - 1)


UNFINISHED_EXECUTE = learner_code(
    "def execute(store, account_id, command):\n"
    "    ____  # your code here\n"
    "\n"
    "def execute_with_retry(store, account_id, command, max_attempts=3):\n"
    "    for attempt in range(max_attempts):\n"
    "        try:\n"
    "            return execute(store, account_id, command)\n"
    "        except WrongExpectedVersion:\n"
    "            if attempt == max_attempts - 1:\n"
    "                raise\n",
    WrongExpectedVersion=WrongExpectedVersion,
)["execute_with_retry"]

wrong("6.2", no_retry, tag="no retry", says="gave up at the first conflict")
wrong("6.2", retry_for_ever, tag="retries forever", says="kept retrying")
wrong("6.2", retry_then_shrug, tag="swallowed the last conflict", says="raise it")
wrong("6.2", retry_anything, tag="retried a domain error", says="an answer, not a conflict")
wrong("6.2", retry_old_decision, tag="retried the old decision", says="the old decision again")
wrong("6.2", retry_one_short, tag="wrong number of attempts", says="made 2 attempt(s)")
wrong("6.2", retry_without_max_attempts, tag="raised", says="take max_attempts as a parameter")
wrong("6.2", UNFINISHED_EXECUTE, tag="unfinished dependency", says="uses execute")
right("6.2", retry_with_a_while_loop)
right("6.2", retry_by_recursion)


# --- 7.1: an upcaster that splits a name -------------------------------------------------------


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


def unpacks_two(data: dict[str, Any]) -> dict[str, Any]:
    first, last = data["name"].split(" ", 1)
    return {
        "guest_id": data["guest_id"],
        "first_name": first,
        "last_name": last,
        "email": data["email"],
    }


def first_and_last_word(data: dict[str, Any]) -> dict[str, Any]:
    words = data["name"].split()
    return {
        "guest_id": data["guest_id"],
        "first_name": words[0],
        "last_name": words[-1] if len(words) > 1 else "",
        "email": data["email"],
    }


def drops_the_email(data: dict[str, Any]) -> dict[str, Any]:
    first, _, last = data["name"].partition(" ")
    return {"guest_id": data["guest_id"], "first_name": first, "last_name": last}


def returns_a_tuple(data: dict[str, Any]) -> Any:
    return tuple(data["name"].partition(" ")[::2])


def split_once_with_a_check(data: dict[str, Any]) -> dict[str, Any]:
    parts = data["name"].split(" ", 1)
    return {
        "guest_id": data["guest_id"],
        "first_name": parts[0],
        "last_name": parts[1] if len(parts) == 2 else "",
        "email": data["email"],
    }


def split_with_a_regex(data: dict[str, Any]) -> dict[str, Any]:
    match = re.fullmatch(r"(?P<first>[^ ]*)(?: (?P<last>.*))?", data["name"])
    assert match is not None
    lifted = {key: value for key, value in data.items() if key != "name"}
    lifted |= {"first_name": match["first"], "last_name": match["last"] or ""}
    return lifted


wrong("7.1", split_in_place, tag="upcaster mutates its input", says="changed the dict")
wrong("7.1", split_at_last_space, tag="split at the last space", says="first space")
wrong("7.1", keeps_the_name, tag="old field kept", says="'name'")
wrong("7.1", unpacks_two, tag="raised", says="upcasting 'Cher' raised ValueError")
wrong("7.1", first_and_last_word, tag="wrong", says="'Ann Evans'")
wrong("7.1", drops_the_email, tag="wrong", says="expected")
wrong("7.1", returns_a_tuple, tag="not a dict", says="a dict")
right("7.1", split_once_with_a_check)
right("7.1", split_with_a_regex)


# --- 7.2: a renamed event, money exact ---------------------------------------------------------


def registry_with(function: Any, **kwargs: Any) -> EventRegistry:
    registry = EventRegistry()
    registry.upcaster("AccountCredited", from_version=1, **kwargs)(function)
    return registry


def registered(function: Any) -> dict[str, Any]:
    """The options of a check whose registry holds ``function`` as the exercise asks."""
    return {"registry": registry_with(function, to_event_type="MoneyDeposited")}


def through_a_float(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": int(float(data["amount_euros"]) * 100)}


def through_a_rounded_float(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": round(float(data["amount_euros"]) * 100)}


def converts_in_place(data: dict[str, Any]) -> dict[str, Any]:
    data["amount"] = int(data.pop("amount_euros").replace(".", ""))
    return data


def strips_the_point(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": int(data["amount_euros"].replace(".", ""))}


def the_old_reference(data: dict[str, Any]) -> dict[str, Any]:
    euros, _, cents = data["amount_euros"].partition(".")
    return {"amount": int(euros) * 100 + int(cents)}


def pads_but_loses_the_sign(data: dict[str, Any]) -> dict[str, Any]:
    euros, _, cents = data["amount_euros"].partition(".")
    return {"amount": int(euros) * 100 + int((cents + "00")[:2])}


def rounds_sub_cents(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": int((Decimal(data["amount_euros"]) * 100).to_integral_value())}


def keeps_a_decimal(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": Decimal(data["amount_euros"]) * 100}


def exact_by_hand(data: dict[str, Any]) -> dict[str, Any]:
    text = data["amount_euros"].strip()
    sign = -1 if text.startswith("-") else 1
    euros, _, cents = text.lstrip("+-").partition(".")
    if len(cents) > 2 or not (euros + cents).isdigit():
        raise InvalidInput(f"{text!r} is not an amount of euros and cents")
    return {"amount": sign * (int(euros or "0") * 100 + int(cents.ljust(2, "0")))}


def exact_with_a_fraction(data: dict[str, Any]) -> dict[str, Any]:
    cents = Fraction(data["amount_euros"]) * 100
    if cents.denominator != 1:
        raise ValueError("more than two decimals")
    return {"amount": int(cents)}


def older_definition(function: Any) -> Any:
    return types.FunctionType(function.__code__, function.__globals__, function.__name__)


wrong(
    "7.2",
    through_a_float,
    tag="float on the way",
    says="called float()",
    **registered(through_a_float),
)
wrong(
    "7.2",
    through_a_rounded_float,
    tag="float on the way",
    says="whatever the rounding",
    **registered(through_a_rounded_float),
)
wrong("7.2", converts_in_place, tag="upcaster mutates its input", says="changed")
wrong("7.2", strips_the_point, tag="decimal point stripped", says="'12.5' is 12 euros 50 cents")
wrong("7.2", the_old_reference, tag="cents taken as written", says="means 50 cents")
wrong("7.2", pads_but_loses_the_sign, tag="sign lost", says="must stay negative")
wrong("7.2", rounds_sub_cents, tag="sub-cent amount accepted", says="refuse it")
wrong("7.2", keeps_a_decimal, tag="amount not an int", says="a Decimal")
wrong(
    "7.2",
    exact_with_a_fraction,
    tag="not registered",
    says="register your function",
    registry=EventRegistry(),
)
wrong(
    "7.2",
    exact_by_hand,
    tag="registered without the rename",
    says="to_event_type='MoneyDeposited'",
    registry=registry_with(exact_by_hand),
)
wrong(
    "7.2",
    exact_by_hand,
    tag="stale registration",
    says="an older definition",
    # The function as it was before the learner ran its cell again: same name, other object.
    registry=registry_with(older_definition(exact_by_hand), to_event_type="MoneyDeposited"),
)
right("7.2", exact_by_hand, **registered(exact_by_hand))
right("7.2", exact_with_a_fraction, **registered(exact_with_a_fraction))


# --- 11.1: the cart as a decider ---------------------------------------------------------------

DECIDER_NAMES: dict[str, Any] = {
    name: getattr(cart_module, name)
    for name in (
        "AddItem",
        "CartAlreadyCheckedOut",
        "CartCheckedOut",
        "CartNotFound",
        "CartOpened",
        "CartState",
        "InvalidQuantity",
        "ItemAdded",
        "ItemLimitReached",
        "ItemRemoved",
        "decide_other_commands",
    )
}
DECIDER_NAMES["dataclasses"] = dataclasses
DECIDER_NAMES["datetime"] = datetime


def decider_code(source: str) -> tuple[Any, Any]:
    """A learner's ``decide`` and ``evolve``, defined in a notebook-like namespace."""
    namespace = learner_code(textwrap.dedent(source), **DECIDER_NAMES)
    return namespace["decide"], namespace["evolve"]


def with_evolve(body: str) -> tuple[Any, Any]:
    """The reference ``decide`` with a learner's ``evolve``."""
    _, evolve = decider_code(body)
    return dc.decide, evolve


def with_decide(body: str) -> tuple[Any, Any]:
    """A learner's ``decide`` with the reference ``evolve``."""
    decide, _ = decider_code(body)
    return decide, dc.evolve


EVOLVE_IN_PLACE = """
def decide(command, state):
    return []

def evolve(state, event):
    if isinstance(event, ItemAdded):
        state.items[event.sku] = state.items.get(event.sku, 0) + event.quantity
        return state
    if isinstance(event, ItemRemoved):
        state.items.pop(event.sku, None)
        return state
    if isinstance(event, CartOpened):
        return CartState(event.customer, {}, "open")
    return dataclasses.replace(state, status="checked_out")
"""
EVOLVE_ASSIGNS = """
def decide(command, state):
    return []

def evolve(state, event):
    if isinstance(event, CartOpened):
        state.customer = event.customer
        state.status = "open"
    return state
"""
EVOLVE_NO_RETURN = """
def decide(command, state):
    return []

def evolve(state, event):
    if isinstance(event, CartOpened):
        return CartState(event.customer, {}, "open")
    if isinstance(event, ItemAdded):
        items = dict(state.items)
        items[event.sku] = items.get(event.sku, 0) + event.quantity
        dataclasses.replace(state, items=items)
"""
EVOLVE_WITH_RULE = """
def decide(command, state):
    return []

def evolve(state, event):
    if isinstance(event, CartOpened):
        return CartState(event.customer, {}, "open")
    if isinstance(event, ItemAdded):
        if state.status == "checked_out":
            raise CartAlreadyCheckedOut("no items after checkout")
        items = dict(state.items)
        items[event.sku] = items.get(event.sku, 0) + event.quantity
        return dataclasses.replace(state, items=items)
    if isinstance(event, ItemRemoved):
        items = dict(state.items)
        items.pop(event.sku, None)
        return dataclasses.replace(state, items=items)
    return dataclasses.replace(state, status="checked_out")
"""
EVOLVE_REPLACES = """
def decide(command, state):
    return []

def evolve(state, event):
    if isinstance(event, CartOpened):
        return CartState(event.customer, {}, "open")
    if isinstance(event, ItemAdded):
        return dataclasses.replace(state, items={**state.items, event.sku: event.quantity})
    if isinstance(event, ItemRemoved):
        kept = {k: v for k, v in state.items.items() if k != event.sku}
        return dataclasses.replace(state, items=kept)
    return dataclasses.replace(state, status="checked_out")
"""
EVOLVE_CLOCK = """
def decide(command, state):
    return []

def evolve(state, event):
    stamp = datetime.now()
    if isinstance(event, CartOpened):
        return CartState(event.customer, {}, "open")
    return state
"""
DECIDE_CHANGES_STATE = """
def decide(command, state):
    if isinstance(command, AddItem):
        if state.status is None:
            raise CartNotFound("no cart")
        if state.status == "checked_out":
            raise CartAlreadyCheckedOut("checked out")
        if not 1 <= command.quantity <= 10:
            raise InvalidQuantity("1 to 10")
        if state.items.get(command.sku, 0) + command.quantity > 10:
            raise ItemLimitReached("at most 10")
        state.items[command.sku] = state.items.get(command.sku, 0) + command.quantity
        return [ItemAdded(command.sku, command.quantity)]
    return decide_other_commands(command, state)

def evolve(state, event):
    return state
"""
DECIDE_WITHOUT_RULE_2 = """
def decide(command, state):
    if isinstance(command, AddItem):
        if state.status is None:
            raise CartNotFound("no cart")
        if not 1 <= command.quantity <= 10:
            raise InvalidQuantity("1 to 10")
        if state.items.get(command.sku, 0) + command.quantity > 10:
            raise ItemLimitReached("at most 10")
        return [ItemAdded(command.sku, command.quantity)]
    return decide_other_commands(command, state)

def evolve(state, event):
    return state
"""
DECIDE_NOT_A_LIST = """
def decide(command, state):
    if isinstance(command, AddItem):
        if state.status is None:
            raise CartNotFound("no cart")
        if state.status == "checked_out":
            raise CartAlreadyCheckedOut("checked out")
        if not 1 <= command.quantity <= 10:
            raise InvalidQuantity("1 to 10")
        if state.items.get(command.sku, 0) + command.quantity > 10:
            raise ItemLimitReached("at most 10")
        return ItemAdded(command.sku, command.quantity)
    return decide_other_commands(command, state)

def evolve(state, event):
    return state
"""
DECIDE_OFF_BY_ONE = DECIDE_NOT_A_LIST.replace(
    "return ItemAdded(command.sku, command.quantity)",
    "return [ItemAdded(command.sku, command.quantity)]",
).replace("+ command.quantity > 10", "+ command.quantity >= 10")
DECIDE_FALLS_THROUGH = """
def decide(command, state):
    return decide_other_commands(command, state)

def evolve(state, event):
    return state
"""
RIGHT_DECIDER_MATCH = """
def decide(command, state):
    match command:
        case AddItem(sku=sku, quantity=quantity):
            held = state.items.get(sku, 0)
            if state.status is None:
                raise CartNotFound()
            if state.status == "checked_out":
                raise CartAlreadyCheckedOut()
            if quantity < 1 or quantity > 10:
                raise InvalidQuantity()
            if held + quantity > 10:
                raise ItemLimitReached()
            return (ItemAdded(sku, quantity),)
    return decide_other_commands(command, state)

def evolve(state, event):
    match event:
        case CartOpened(customer=customer):
            return CartState(customer, dict(state.items), "open")
        case ItemAdded(sku=sku, quantity=quantity):
            count = state.items.get(sku, 0) + quantity
            return CartState(state.customer, {**state.items, sku: count}, state.status)
        case ItemRemoved(sku=sku):
            kept = {k: v for k, v in state.items.items() if k != sku}
            return CartState(state.customer, kept, state.status)
        case CartCheckedOut():
            return CartState(state.customer, state.items, "checked_out")
    return state
"""
RIGHT_DECIDER_COPY = """
import copy

def decide(command, state):
    if not isinstance(command, AddItem):
        return decide_other_commands(command, state)
    rules = [
        (state.status is None, CartNotFound),
        (state.status == "checked_out", CartAlreadyCheckedOut),
        (not 0 < command.quantity < 11, InvalidQuantity),
        (state.items.get(command.sku, 0) + command.quantity > 10, ItemLimitReached),
    ]
    for broken, error in rules:
        if broken:
            raise error(f"{command!r} breaks a rule")
    return [ItemAdded(command.sku, command.quantity)]

def evolve(state, event):
    new = copy.deepcopy(state)  # a copy to change, then frozen again
    items = dict(new.items)
    if isinstance(event, CartOpened):
        return dataclasses.replace(new, customer=event.customer, status="open")
    if isinstance(event, ItemAdded):
        items[event.sku] = items.get(event.sku, 0) + event.quantity
    elif isinstance(event, ItemRemoved):
        if event.sku in items:
            del items[event.sku]
    elif isinstance(event, CartCheckedOut):
        return dataclasses.replace(new, status="checked_out")
    return dataclasses.replace(new, items=items)
"""

wrong("11.1", *with_evolve(EVOLVE_IN_PLACE), tag="evolve changed the old state", says="items")
wrong("11.1", *with_evolve(EVOLVE_ASSIGNS), tag="evolve changed the old state", says="frozen")
wrong("11.1", *with_evolve(EVOLVE_NO_RETURN), tag="evolve returned no state", says="return")
wrong("11.1", *with_evolve(EVOLVE_WITH_RULE), tag="rule in evolve", says="checked-out cart")
wrong("11.1", *with_evolve(EVOLVE_REPLACES), tag="replaced instead of added", says="replaced")
wrong("11.1", *with_evolve(EVOLVE_CLOCK), tag="impure evolve", says="datetime.now")
wrong("11.1", *with_decide(DECIDE_CHANGES_STATE), tag="state changed in decide", says="items")
wrong("11.1", *with_decide(DECIDE_WITHOUT_RULE_2), tag="rule missing", says="rule 2")
wrong("11.1", *with_decide(DECIDE_NOT_A_LIST), tag="not a list", says="list of events")
wrong("11.1", *with_decide(DECIDE_OFF_BY_ONE), tag="off by one", says="10 of one sku")
wrong("11.1", *with_decide(DECIDE_FALLS_THROUGH), tag="AddItem not decided", says="AddItem")
wrong("11.1", dc.decide, dc.CartState, tag="wrong answer type", says="ex1.check(decide, evolve)")
right("11.1", *decider_code(RIGHT_DECIDER_MATCH))
right("11.1", *decider_code(RIGHT_DECIDER_COPY))


# --- 11.2: the transfer's compensation ----------------------------------------------------------

TRANSFER_NAMES: dict[str, Any] = {
    "TransferProcessBase": dc.TransferProcessBase,
    "Step": dc.Step,
    "DepositMoney": dc.DepositMoney,
    "RecordCreditRefused": dc.RecordCreditRefused,
    "uuid": uuid,
}


def transfer_class(react_body: str, refused_body: str) -> type:
    """A learner's ``CompensatingTransfer``, from the bodies of its two methods."""
    source = (
        "class CompensatingTransfer(TransferProcessBase):\n"
        "    def react(self, state, event):\n"
        "        t = state.aggregate_id\n"
        + textwrap.indent(textwrap.dedent(react_body).strip(), " " * 8)
        + "\n        return super().react(state, event)\n\n"
        "    def refused(self, state, step, error):\n"
        "        t = state.aggregate_id\n"
        + textwrap.indent(textwrap.dedent(refused_body).strip(), " " * 8)
        + "\n        return super().refused(state, step, error)\n"
    )
    cls: type = learner_code(source, **TRANSFER_NAMES)["CompensatingTransfer"]
    return cls


RECORD_REFUSAL = """
if step.command_id == f"{t}/credit":
    return [Step(RecordCreditRefused(t, str(error)), f"{t}/credit-refused")]
"""


def refund_with(command: str, command_id: str) -> str:
    return f"""
if event.event_type == "TransferCreditRefused":
    return [Step({command}, {command_id})]
"""


REFUND = refund_with("DepositMoney(state.source, state.amount)", 'f"{t}/refund"')

wrong(
    "11.2",
    transfer_class(
        refund_with("DepositMoney(state.source, state.amount)", "str(uuid.uuid4())"),
        RECORD_REFUSAL,
    ),
    tag="refund paid twice",
    says="paid again",
)
wrong(
    "11.2",
    transfer_class(
        refund_with("DepositMoney(state.target, state.amount)", 'f"{t}/refund"'), RECORD_REFUSAL
    ),
    tag="refunded the target",
    says="into the target",
)
wrong("11.2", transfer_class(REFUND, "pass"), tag="refusal not recorded", says="lost in flight")
wrong(
    "11.2",
    transfer_class(
        "pass",
        """
if step.command_id == f"{t}/credit":
    return [Step(DepositMoney(state.source, state.amount), f"{t}/refund")]
""",
    ),
    tag="refusal not recorded",
    says="does not say why",
)
wrong(
    "11.2",
    transfer_class(
        REFUND,
        """
if step.command_id == f"{t}/credit":
    return [Step(RecordCreditRefused(t, str(error)), f"{t}/credit-refused")]
return [Step(DepositMoney(state.source, state.amount), f"{t}/refund")]
""",
    ),
    tag="compensated a refused withdrawal",
    says="never left",
)
wrong(
    "11.2",
    transfer_class(
        refund_with("DepositMoney(state.source, state.amount)", '"refund"'), RECORD_REFUSAL
    ),
    tag="command id shared by transfers",
    says="same command id",
)
wrong(
    "11.2",
    transfer_class(
        refund_with("DepositMoney(state.source, state.amount)", 'f"{t}/debit"'), RECORD_REFUSAL
    ),
    tag="command id of another step",
    says="the withdrawal's",
)
wrong("11.2", transfer_class("pass", RECORD_REFUSAL), tag="no refund", says="no refund was sent")
wrong(
    "11.2",
    transfer_class(REFUND, "return []"),
    tag="other refusals swallowed",
    says="still 'started'",
)
wrong(
    "11.2",
    transfer_class(REFUND + "\nreturn []", RECORD_REFUSAL),
    tag="happy path broken",
    says="happy path",
)
wrong("11.2", dc.CompensatingTransfer(), tag="wrong answer type", says="class itself")
right(
    "11.2",
    transfer_class(
        """
match event.event_type:
    case "TransferCreditRefused":
        refund = DepositMoney(account_id=state.source, amount=state.amount)
        return [Step(refund, command_id=t + "/compensation")]
""",
        """
if step.command_id.endswith("/credit") and isinstance(step.command, DepositMoney):
    reason = f"{type(error).__name__}: {error}"
    return [Step(RecordCreditRefused(t, reason), t + "/credit-refused")]
""",
    ),
)
right(
    "11.2",
    transfer_class(
        refund_with("DepositMoney(state.source, state.amount)", 'f"refund-of-{event.id}"'),
        RECORD_REFUSAL,
    ),
)


# --- 8.1: spot the flaw ------------------------------------------------------------------------


def verdicts(**changes: Any) -> dict[str, Any]:
    """The right verdicts, with ``changes`` (a learner's slips) put in."""
    return {**fl.VERDICTS, **changes}


wrong("8.1", verdicts(F=12), tag="wrong flaw", says="snippet F is not flaw 12")
wrong("8.1", verdicts(A=14), tag="wrong flaw", says="snippet A is not flaw 14")
wrong("8.1", verdicts(D=10), tag="same flaw twice", says="snippets C and D both got flaw 10")
wrong("8.1", verdicts(E="caching"), tag="unknown flaw", says="not a flaw of notebook 08")
wrong("8.1", verdicts(B=15), tag="unknown flaw", says="1 to 14")
wrong("8.1", {"A": 7, "B": 6}, tag="snippet left out", says="no verdict for snippet C")
wrong("8.1", [7, 6, 10, 13, 9, 11], tag="wrong answer type", says="must be a dict")
right("8.1", verdicts(F="The lock map races", D="timestamps are taken too early!"))
right("8.1", verdicts(A="7", C="Flaw 10", E=" flaw 9 "))


# --- 9.1: email changes per week, empty weeks too ----------------------------------------------

for variant, _, variant_tag, _ in an._VARIANTS:
    wrong("9.1", variant, tag=variant_tag, says="Your rows: 2024-01-01")
ONE_JOIN = """
SELECT CAST(calendar.monday AS DATE) AS week, count(e.id) AS changes
FROM generate_series(
    (SELECT date_trunc('week', min(timestamp)) FROM events_log),
    (SELECT date_trunc('week', max(timestamp)) FROM events_log),
    INTERVAL 1 WEEK
) AS calendar(monday)
LEFT JOIN events_log AS e
    ON e.event_type = 'UserEmailChanged'
    AND date_trunc('week', e.timestamp) = calendar.monday
GROUP BY calendar.monday
ORDER BY week
"""
wrong(
    "9.1",
    ONE_JOIN.replace("count(e.id)", "count(*)"),
    tag="empty week counted as 1",
    says="show 1, not 0",
)
wrong(
    "9.1",
    an.WEEKLY_CHANGES.replace("ORDER BY calendar.week", "ORDER BY changes, calendar.week"),
    tag="not ordered",
    says="ORDER BY week",
)
wrong("9.1", "SELECT week, count(*) FROM events GROUP BY week", tag="SQL error", says="failed")
wrong("9.1", ["SELECT 1"], tag="not a str", says="string of SQL")
right("9.1", ONE_JOIN)
right(
    "9.1",
    """
    WITH RECURSIVE weeks(week) AS (
        SELECT CAST(date_trunc('week', min(timestamp)) AS DATE) FROM events_log
        UNION ALL
        SELECT CAST(week + INTERVAL 7 DAY AS DATE) FROM weeks
        WHERE week < (SELECT CAST(date_trunc('week', max(timestamp)) AS DATE) FROM events_log)
    )
    SELECT strftime(week, '%Y-%m-%d') AS week,
           (SELECT count(*) FROM events_log
            WHERE event_type = 'UserEmailChanged'
              AND CAST(date_trunc('week', timestamp) AS DATE) = weeks.week) AS changes
    FROM weeks
    ORDER BY 1
    """,
)


# --- the tests ---------------------------------------------------------------------------------

EXERCISES: dict[str, Exercise] = {
    value.number: value
    for module in (ce, es, pj, tt, sc, cc, vv, fl, an, dc)
    for value in vars(module).values()
    if isinstance(value, Exercise)
}


def case_id(case: Case) -> str:
    return f"{case.number}-{case.tag or 'right'}-{case.name}"


WRONG = [case for case in CATALOGUE if case.tag is not None]
RIGHT = [case for case in CATALOGUE if case.tag is None]


@pytest.mark.parametrize("case", WRONG, ids=case_id)
def test_a_typical_wrong_answer_is_refused_with_its_own_message(case: Case) -> None:
    result = EXERCISES[case.number].check(*case.answers, **case.options)
    assert (result.status, result.mistake) == ("not yet", case.tag), result
    assert case.says in result.message, result
    assert "\n" not in repr(result)


@pytest.mark.parametrize("case", RIGHT, ids=case_id)
def test_a_right_answer_written_differently_is_accepted(case: Case) -> None:
    result = EXERCISES[case.number].check(*case.answers, **case.options)
    assert result.status == "correct", result
    assert "catch_up() loaded" not in result.message


def test_every_exercise_has_five_wrong_answers_and_two_right_ones() -> None:
    assert set(EXERCISES) == {case.number for case in CATALOGUE}
    for number in EXERCISES:
        wrongs = [case for case in WRONG if case.number == number]
        rights = [case for case in RIGHT if case.number == number]
        assert len(wrongs) >= 5, f"{number}: {len(wrongs)} wrong answers"
        assert len({case.tag for case in wrongs}) >= 4, f"{number}: too few kinds of mistake"
        assert len(rights) >= 2, f"{number}: {len(rights)} right answers"


def test_the_catalogue_covers_every_notebook() -> None:
    assert {number.split(".")[0] for number in EXERCISES} == {str(int(n)) for n in TOPICS}


def test_a_recognised_mistake_comes_with_a_hint_about_it() -> None:
    """Where a mistake is recognised, the next hint() is aimed at it, not a general hint."""
    # Wrong calls, unforeseen errors and plain "wrong" answers have no mistake to aim at.
    unaimed = {"wrong", "not callable", "wrong answer type", "raised", "unfinished dependency"}
    without_hint = []
    for case in WRONG:
        exercise = EXERCISES[case.number]
        exercise.check(*case.answers, **case.options)
        if case.tag not in unaimed and not repr(exercise.hint()).startswith(
            "Hint for your last check"
        ):
            without_hint.append(f"{case.number} {case.tag}")
    assert not without_hint


def test_the_float_watch_puts_float_back() -> None:
    """The float watch puts ``float`` back where it was, in the learner's module too."""
    EXERCISES["7.2"].check(through_a_float, **registered(through_a_float))
    assert "float" not in globals()
    assert float("1.5") == 1.5 and random.random() < 1 and sys.getprofile() is None


def test_every_recognised_mistake_is_in_the_instructors_notes() -> None:
    notes = (Path(__file__).resolve().parent.parent / "notebooks" / "INSTRUCTORS.md").read_text(
        encoding="utf-8"
    )
    missing = sorted({case.tag for case in WRONG if f"`{case.tag}`" not in notes})
    assert not missing, f"notebooks/INSTRUCTORS.md does not explain {missing}"
