"""Exercises for notebook 01, commands and events: a shopping cart, then a library loan.

* ``ex1`` (1.1): write ``apply_event`` for the cart's four events.
* ``ex2`` (1.2): enforce the rules of ``AddItem`` in ``handle_command``.
* ``ex3`` (1.3): write the given / when / then test of one rule.
* ``ex4`` (1.4): model the events of a library loan yourself, names and data, and write the
  ``apply_event`` that rebuilds a loan from them (`esteach.exercises.loan.LoanBase`).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from esteach.aggregate import Aggregate
from esteach.errors import DomainError
from esteach.events import DomainEvent, Event, EventRegistry
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
    RemoveItem,
    broken_rule,
)
from esteach.exercises.checking import call, call_pure, check_refusal, recorded
from esteach.exercises.core import Exercise, NotYet, describe_error, unfinished
from esteach.exercises.loan import LOAN_STATE, LoanBase
from esteach.exercises.purity import describe, watch
from esteach.testing import changed_by, given

__all__ = [
    "LOAN_EVENTS",
    "BookBorrowed",
    "BookReturned",
    "Cart",
    "CartWithRules",
    "FineCharged",
    "Loan",
    "LoanExtended",
    "ex1",
    "ex2",
    "ex3",
    "ex4",
    "loan_story",
    "test_checked_out_cart_takes_no_items",
]


# --- reference solutions ----------------------------------------------------------------------


class Cart(CartBase):
    """Exercise 1.1: the cart, with its ``apply_event``."""

    def apply_event(self, event: DomainEvent) -> None:
        if isinstance(event, CartOpened):
            self.customer = event.customer
            self.status = "open"
        elif isinstance(event, ItemAdded):
            self.items[event.sku] = self.items.get(event.sku, 0) + event.quantity
        elif isinstance(event, ItemRemoved):
            self.items.pop(event.sku, None)  # nothing to remove is fine: the event happened
        elif isinstance(event, CartCheckedOut):
            self.status = "checked_out"


class CartWithRules(Cart):
    """Exercise 1.2: the cart, deciding ``AddItem`` by its rules."""

    def handle_command(self, command: Any) -> list[DomainEvent]:
        if isinstance(command, AddItem):
            if not self.exists:
                raise CartNotFound(f"cart {self.aggregate_id!r} does not exist")
            if self.status == "checked_out":
                raise CartAlreadyCheckedOut(f"cart {self.aggregate_id!r} is checked out")
            if not 1 <= command.quantity <= 10:
                raise InvalidQuantity(f"a quantity is 1 to 10, got {command.quantity}")
            if self.items.get(command.sku, 0) + command.quantity > 10:
                raise ItemLimitReached(f"a cart holds at most 10 of {command.sku!r}")
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


def test_checked_out_cart_takes_no_items(cart_class: type[CartBase]) -> None:
    """Exercise 1.3: rule 2 of exercise 1.2, as a scenario."""
    given(
        CartOpened("cart-1", "Ada"),
        ItemAdded("tea", 1),
        CartCheckedOut(),
        aggregate=cart_class,
    ).when(AddItem("cart-1", "cake", 1)).then_raises(CartAlreadyCheckedOut)


# --- shared -----------------------------------------------------------------------------------


def _require_cart_class(answer: object, name: str) -> type[CartBase]:
    if not (isinstance(answer, type) and issubclass(answer, CartBase)):
        raise NotYet(
            f"pass your class itself, a subclass of CartBase: ex.check({name}), got "
            f"{type(answer).__name__}",
            mistake="wrong answer type",
        )
    return answer


def _cart_from(cart_class: type[CartBase], history: list[DomainEvent]) -> CartBase:
    cart_id = "cart-1"
    cart = cart_class(cart_id)
    for event in recorded(cart_class.aggregate_type, cart_id, history):
        cart.apply(event)
    return cart


# --- 1.1: apply_event -------------------------------------------------------------------------

_HISTORY: list[DomainEvent] = [
    CartOpened("cart-1", "Ada"),
    ItemAdded("tea", 2),
    ItemAdded("cake", 1),
    ItemAdded("tea", 1),
    ItemRemoved("cake"),
    CartCheckedOut(),
]
# Recorded by an older release that checked fewer rules: it let a customer remove what was
# never added, hold 12 of one sku, and add to a checked-out cart. Facts now, every one.
_OLD_RELEASE: list[DomainEvent] = [
    CartOpened("cart-1", "Bob"),
    ItemRemoved("jam"),
    ItemAdded("jam", 6),
    ItemAdded("jam", 6),
    CartCheckedOut(),
    ItemAdded("tea", 1),
]
_RULE_OF = {CartOpened: 1, ItemAdded: 2, ItemRemoved: 3, CartCheckedOut: 4}
_FIELDS: Final = ("customer", "items", "status")


def _state_mistake(event: DomainEvent, field: str, got: object, want: object) -> NotYet:
    rule = _RULE_OF.get(type(event), 5)
    if field == "items" and isinstance(got, dict) and isinstance(want, dict):
        if isinstance(event, ItemAdded) and got.get(event.sku) == event.quantity:
            return NotYet(
                f"after {event!r}, items is {got!r}, expected {want!r}: the new quantity "
                f"replaced the count instead of adding to it (rule 2)",
                mistake="replaced instead of added",
                hint="self.items.get(sku, 0) is the count so far (0 for a new sku); add the "
                "event's quantity to it.",
            )
        if isinstance(event, ItemRemoved) and event.sku in got:
            return NotYet(
                f"after {event!r}, items is {got!r}, expected {want!r}: the line must leave "
                f"items entirely (rule 3)",
                mistake="removed line kept",
                hint="self.items.pop(event.sku, None) removes the line, and does nothing when "
                "the sku is not there.",
            )
    return NotYet(
        f"after {event!r}, {field} is {got!r}, expected {want!r} (rule {rule})",
        mistake="wrong state",
        hint=f"Read rule {rule} again: which attribute does {type(event).__name__} change, "
        f"and to what?",
    )


def _situation(cart: CartBase, event: DomainEvent) -> str:
    """What about the cart made an old release's event break today's rules."""
    return broken_rule(cart.items, cart.status, event)


_RULES_BELONG = (
    "an old release recorded it, so it happened: apply_event applies every recorded event, and "
    "the rules belong in handle_command, which decides before anything is recorded (rule 5)"
)
_RULES_HINT = (
    "Delete the check (the if ... raise, or the early return) from apply_event; exercise 1.2 "
    "puts the same rule in handle_command."
)


def _refused(event: DomainEvent, situation: str, cause: BaseException) -> NotYet:
    if isinstance(event, ItemRemoved) and isinstance(cause, KeyError):
        return NotYet(
            f"applying {event!r} {situation} raised {describe_error(cause)}: an event is a fact "
            f"that already happened; apply it without checks (rule 3)",
            mistake="apply_event refuses an event",
            hint="del self.items[sku] fails when the sku is missing; "
            "self.items.pop(sku, None) does not.",
        )
    return NotYet(
        f"applying {event!r} {situation} raised {describe_error(cause)}: {_RULES_BELONG}",
        mistake="rule in apply_event",
        hint=_RULES_HINT,
    )


_PURE_HINT = (
    "The event carries everything apply_event needs. Delete the call; if you need the time an "
    "event happened, it is the recorded event's timestamp, which the store sets, never "
    "apply_event."
)
_VERSION_COUNTED = (
    "the base class counts versions (Aggregate.apply sets it from each recorded event, so a "
    "replay cannot get it wrong)"
)
ReadOnly = Mapping[str, tuple[str, str, str]]
"""Attributes the base class works out: name -> (why, mistake, hint), for apply_event that
sets one (Python raises ``AttributeError: property ... has no setter``)."""
WrongState = Callable[[DomainEvent, str, object, object, dict[str, Any], str], NotYet]
OnError = Callable[[DomainEvent, NotYet, str], "NotYet | None"]


def _event_changed(event: DomainEvent, how: str) -> NotYet:
    return NotYet(
        f"applying {event!r} {how}: an event is a fact that already happened; apply_event "
        f"reads it and changes only self",
        mistake="event changed",
        hint="Assign to self, from the event (self.x = event.x), never to the event; a replay "
        "must find every event as it was recorded.",
    )


def _fields_of(event: DomainEvent) -> dict[str, Any]:
    return {f.name: getattr(event, f.name, None) for f in dataclasses.fields(event)}  # type: ignore[arg-type]


class _Watching(EventRegistry):
    """A registry that keeps the domain events it makes, to see apply_event change one."""

    def __init__(self, classes: Iterable[type[DomainEvent]] = ()) -> None:
        super().__init__()
        self.made: list[DomainEvent] = []
        for cls in classes:
            self.register(cls)

    def to_domain(self, event: Event, prefer: Iterable[str] = ()) -> DomainEvent:
        made = super().to_domain(event, prefer)
        self.made.append(made)
        return made


def _replay(
    aggregate: Aggregate,
    history: Sequence[DomainEvent],
    reference: Aggregate,
    reference_history: Sequence[DomainEvent],
    fields: Sequence[str],
    *,
    rule: str,
    read_only: ReadOnly,
    wrong_state: WrongState,
    on_error: OnError = lambda event, verdict, situation: None,
    situation: Callable[[Any, DomainEvent], str] = lambda reference, event: "",
    watching: _Watching | None = None,
) -> None:
    """Play ``history`` through ``aggregate.apply``, one recorded event at a time, and compare
    ``fields`` after each with ``reference``, which plays ``reference_history`` (the same facts,
    in the reference's events). ``situation`` says what about the reference, before an event,
    makes that event special ("to a checked-out cart"); the hooks turn a failure into the
    exercise's own message (``on_error`` may return ``None``: the plain "raised" stands)."""
    envelopes = recorded(aggregate.aggregate_type, aggregate.aggregate_id, history)
    expected = recorded(reference.aggregate_type, reference.aggregate_id, reference_history)
    for event, envelope, reference_envelope in zip(history, envelopes, expected, strict=True):
        where = situation(reference, event)
        before = copy.deepcopy({f: getattr(aggregate, f, None) for f in fields})
        try:
            call_pure(
                aggregate.apply,
                envelope,
                doing=f"applying {event!r}",
                what="apply_event",
                rule=rule,
                mistake="impure apply_event",
                hint=_PURE_HINT,
            )
        except NotYet as verdict:
            cause = verdict.__cause__
            if isinstance(cause, dataclasses.FrozenInstanceError):
                raise _event_changed(event, f"raised {describe_error(cause)}") from cause
            said = describe_error(cause) if isinstance(cause, AttributeError) else ""
            if "setter" in said or "can't set" in said:  # set a property: Python 3.11, 3.10
                for name, (why, mistake, hint) in read_only.items():
                    if f"'{name}'" in said:
                        raise NotYet(
                            f"applying {event!r} raised {said}: apply_event set "
                            f"self.{name}, but {why}",
                            mistake=mistake,
                            hint=hint,
                        ) from cause
            raise (on_error(event, verdict, where) or verdict) from cause
        if watching is not None and watching.made:
            now = _fields_of(watching.made[-1])
            if now != envelope.data:
                changed = ", ".join(k for k in now if now[k] != envelope.data.get(k))
                raise _event_changed(event, f"changed the event's {changed}")
        reference.apply(reference_envelope)
        for field in fields:
            got, want = getattr(aggregate, field, None), getattr(reference, field)
            if got != want:
                raise wrong_state(event, field, got, want, before, where)


def _cart_error(event: DomainEvent, verdict: NotYet, situation: str) -> NotYet | None:
    cause = verdict.__cause__
    return _refused(event, situation, cause) if cause is not None and situation else None


def _cart_state(
    event: DomainEvent,
    field: str,
    got: object,
    want: object,
    before: dict[str, Any],
    situation: str,
) -> NotYet:
    if situation and got == before[field]:
        return NotYet(
            f"after {event!r}, {field} is still {got!r}: apply_event skipped an event "
            f"{situation}, but {_RULES_BELONG}",
            mistake="rule in apply_event",
            hint=_RULES_HINT,
        )
    return _state_mistake(event, field, got, want)


_CART_READ_ONLY: Final[ReadOnly] = {
    "version": (
        _VERSION_COUNTED,
        "version set by hand",
        "Delete the line that changes self.version; assign only customer, items and status.",
    )
}


def _check_history(cart_class: type[CartBase], history: list[DomainEvent]) -> None:
    cart_id = "cart-1"
    _replay(
        call(cart_class, cart_id, doing=f"{cart_class.__name__}({cart_id!r})"),
        history,
        Cart(cart_id),
        history,
        _FIELDS,
        rule="rule 5, apply only assigns state from the event; a replay next year must give the "
        "same cart",
        read_only=_CART_READ_ONLY,
        wrong_state=_cart_state,
        on_error=_cart_error,
        situation=_situation,
    )


def check_apply_event(cart_class: object) -> str:
    checked = _require_cart_class(cart_class, "Cart")
    if checked.apply_event is CartBase.apply_event:
        raise NotYet("your class has no apply_event of its own", mistake="no apply_event")
    _check_history(checked, _HISTORY)
    _check_history(checked, _OLD_RELEASE)
    return (
        "apply_event rebuilds every cart from its events, including a history an old release "
        "recorded against today's rules, and touches neither the clock nor I/O"
    )


ex1 = Exercise(
    "1.1",
    "Apply the cart's events",
    ["Cart"],
    check_apply_event,
    [Cart],
    [
        "One branch per event type: if isinstance(event, CartOpened): ... elif "
        "isinstance(event, ItemAdded): ...",
        "The state is self.customer, self.items (a dict: sku -> quantity) and self.status; "
        "CartBase.__init__ sets them up empty.",
        "ItemAdded: self.items[event.sku] = self.items.get(event.sku, 0) + event.quantity. "
        "ItemRemoved: self.items.pop(event.sku, None).",
    ],
)


# --- 1.2: a rule in handle_command ------------------------------------------------------------

_OPENED = CartOpened("cart-1", "Ada")
_CHECKED_OUT = [_OPENED, ItemAdded("tea", 1), CartCheckedOut()]
_SEVEN_TEA = [_OPENED, ItemAdded("tea", 7)]
Expected = list[DomainEvent] | type[DomainError]
_SCENARIOS: list[tuple[str, list[DomainEvent], Any, Expected, int]] = [
    ("an open cart", [_OPENED], AddItem("cart-1", "tea", 2), [ItemAdded("tea", 2)], 5),
    ("a cart never opened", [], AddItem("cart-1", "tea", 2), CartNotFound, 1),
    ("a checked-out cart", _CHECKED_OUT, AddItem("cart-1", "cake", 1), CartAlreadyCheckedOut, 2),
    ("an open cart", [_OPENED], AddItem("cart-1", "tea", 0), InvalidQuantity, 3),
    ("an open cart", [_OPENED], AddItem("cart-1", "tea", -1), InvalidQuantity, 3),
    ("an open cart", [_OPENED], AddItem("cart-1", "tea", 11), InvalidQuantity, 3),
    ("an open cart", [_OPENED], AddItem("cart-1", "tea", 10), [ItemAdded("tea", 10)], 3),
    ("a cart with 7 tea", _SEVEN_TEA, AddItem("cart-1", "tea", 3), [ItemAdded("tea", 3)], 4),
    ("a cart with 7 tea", _SEVEN_TEA, AddItem("cart-1", "tea", 4), ItemLimitReached, 4),
    ("a cart with 7 tea", _SEVEN_TEA, AddItem("cart-1", "cake", 4), [ItemAdded("cake", 4)], 4),
    # The rules are checked in order: the first broken one names the error.
    ("a cart never opened", [], AddItem("cart-1", "tea", 0), CartNotFound, 1),
    ("a checked-out cart", _CHECKED_OUT, AddItem("cart-1", "cake", 0), CartAlreadyCheckedOut, 2),
    (
        "a cart with tea",
        [_OPENED, ItemAdded("tea", 1)],
        RemoveItem("cart-1", "tea"),
        [ItemRemoved("tea")],
        0,
    ),
]


def _decide(cart: CartBase, command: Any) -> tuple[tuple[object, list[Any]], list[str]]:
    """The decision (or the error), the impure calls made, and the attributes it changed."""

    def run() -> object:
        try:
            return cart.handle_command(command)
        except Exception as error:
            return error

    return changed_by(cart, lambda: watch(run))


_RULE_TESTS: Final = {
    1: "if not self.exists",
    2: "if self.status == 'checked_out'",
    3: "if not 1 <= command.quantity <= 10",
}


def _judge(
    label: str, command: Any, outcome: object, expected: Expected, rule: int, held: int
) -> None:
    """Compare a decision with the expected one; ``held`` is how many of the sku the cart held."""
    where = f"given {label}, {command!r}"
    if isinstance(outcome, NotImplementedError) and isinstance(command, AddItem):
        raise NotYet(
            f"{where} went on to CartBase.handle_command, which leaves AddItem to you: return "
            f"the events from your AddItem branch, or raise",
            mistake="AddItem not decided",
            hint="In handle_command: if isinstance(command, AddItem): ... return "
            "[ItemAdded(command.sku, command.quantity)]; only the other commands go on to "
            "super().handle_command(command).",
        )
    if isinstance(expected, list):
        if isinstance(outcome, Exception):
            too_strict = (
                isinstance(outcome, ItemLimitReached)
                and isinstance(command, AddItem)
                and held + command.quantity == MAX_PER_ITEM
            )
            raise NotYet(
                f"{where} raised {describe_error(outcome)}, but should decide {expected!r}"
                + (
                    f": {held} in the cart + {command.quantity} more = 10, and 10 of one sku "
                    f"are allowed (rule 4)"
                    if too_strict
                    else ""
                )
                + (f" (rule {rule})" if rule and not too_strict else ""),
                mistake="off by one" if too_strict else "rule too strict",
                hint="Rule 4 allows exactly 10 of a sku: refuse when what the cart holds plus "
                "the quantity is above 10 (> 10), not when it reaches 10 (>= 10)."
                if too_strict
                else None,
            )
        if not isinstance(outcome, list):
            raise NotYet(
                f"{where} returned {outcome!r}: handle_command returns a list of events, such "
                f"as [ItemAdded(sku, quantity)]",
                mistake="not a list",
                hint="return [ItemAdded(command.sku, command.quantity)]: a list, even of one "
                "event.",
            )
        if outcome != expected:
            raise NotYet(f"{where} decided {outcome!r}, expected {expected!r}", mistake="wrong")
        return
    check_refusal(
        where,
        outcome,
        expected,
        rule,
        _RULE_TESTS,
        "self.items",
        ", and the message can say what was wrong",
    )


def check_add_item_rules(cart_class: object) -> str:
    learner = _require_cart_class(cart_class, "CartWithRules")
    # The learner's handle_command with the reference apply_event, so that a slip in 1.1 does
    # not count twice.
    checked = type(learner.__name__, (learner,), {"apply_event": Cart.apply_event})
    for label, history, command, expected, rule in _SCENARIOS:
        cart = _cart_from(checked, history)
        held = cart.items.get(getattr(command, "sku", ""), 0)
        (outcome, impure), changed = _decide(cart, command)
        if impure:
            raise NotYet(
                f"given {label}, handle_command({command!r}) {describe(impure)}: deciding reads "
                f"only the state and the command",
                mistake="impure handle_command",
                hint="Deciding reads self's state and the command, nothing else: delete the call; "
                "the store records when the event happened.",
            )
        if changed:
            raise NotYet(
                f"given {label}, handle_command({command!r}) changed the cart's state "
                f"({', '.join(changed)}) without an event: decide only, and let apply_event "
                f"make the change once the event is recorded (rule 5)",
                mistake="state changed in handle_command",
                hint="Delete the assignment to self in handle_command; return "
                "[ItemAdded(command.sku, command.quantity)] and nothing else.",
            )
        _judge(label, command, outcome, expected, rule, held)
    return "AddItem is decided by all five rules, in order, and deciding changes nothing"


ex2 = Exercise(
    "1.2",
    "Enforce the rules of AddItem",
    ["CartWithRules"],
    check_add_item_rules,
    [CartWithRules],
    [
        "One if per rule, in the order of the rules, each raising its error; the last line "
        "returns [ItemAdded(command.sku, command.quantity)].",
        "The cart exists when self.exists is true; it is checked out when self.status == "
        "'checked_out'.",
        "Rule 4 counts what is in the cart already: self.items.get(command.sku, 0) + "
        "command.quantity must be at most 10.",
    ],
)


# --- 1.3: given / when / then -----------------------------------------------------------------


class _LenientCart(CartWithRules):
    """Lets items into a checked-out cart: rule 2 forgotten."""

    ran = 0

    def handle_command(self, command: Any) -> list[DomainEvent]:
        type(self).ran += 1
        if isinstance(command, AddItem) and self.status == "checked_out":
            return [ItemAdded(command.sku, command.quantity)]
        return super().handle_command(command)


class _WrongErrorCart(CartWithRules):
    """Refuses items for a checked-out cart, with the wrong error."""

    ran = 0

    def handle_command(self, command: Any) -> list[DomainEvent]:
        type(self).ran += 1
        if isinstance(command, AddItem) and self.status == "checked_out":
            raise CartNotFound(f"cart {self.aggregate_id!r} is gone")
        return super().handle_command(command)


def _run_test(
    test: Callable[..., Any], cart_class: type[CartBase]
) -> tuple[Any, BaseException | None]:
    """What the learner's test returned, and how it failed (``None``: it passed).

    A test fails by raising anything at all: an ``AssertionError`` from then(), pytest's
    ``Failed`` from ``pytest.raises`` (a ``BaseException``), or the error it did not expect.
    Only the learner pressing stop (``KeyboardInterrupt``) goes through.
    """
    try:
        return test(cart_class), None
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        return None, error


def check_rule_test(test: object) -> str:
    if not callable(test):
        raise NotYet("pass your test function itself: ex3.check(test_...)", mistake="not callable")
    returned, failure = _run_test(test, CartWithRules)
    if isinstance(failure, TypeError) and "argument" in describe_error(failure):
        raise NotYet(
            f"your test raised {describe_error(failure)}: it takes one argument, the cart "
            f"class to test, and passes it to given(..., aggregate=cart_class)",
            mistake="test signature",
            hint="def test_checked_out_cart_takes_no_items(cart_class): ... and given(..., "
            "aggregate=cart_class) inside.",
        )
    if isinstance(failure, NotImplementedError):
        raise NotYet(
            "your test ran CartBase, which has no apply_event: pass the class it is given, "
            "given(..., aggregate=cart_class)",
            mistake="test ignores cart_class",
            hint="given(CartOpened(...), ItemAdded(...), CartCheckedOut(), "
            "aggregate=cart_class).when(AddItem(...)).then_raises(CartAlreadyCheckedOut)",
        )
    if failure is not None:
        raise NotYet(
            f"your test fails against a correct cart: {describe_error(failure)}",
            mistake="test fails on a correct cart",
            hint="Given a cart that was opened, got an item and was checked out; when AddItem; "
            "then_raises(CartAlreadyCheckedOut). Is every event of that history in your given?",
        )
    for mutant in (_LenientCart, _WrongErrorCart):
        mutant.ran = 0
        _, failure = _run_test(test, mutant)
        if mutant.ran == 0:
            raise NotYet(
                "your test never ran a command on the cart class it was given: pass it on, "
                "given(..., aggregate=cart_class), and say what happens .when(AddItem(...))",
                mistake="test ignores cart_class",
                hint="given(CartOpened(...), ItemAdded(...), CartCheckedOut(), "
                "aggregate=cart_class).when(AddItem(...)).then_raises(CartAlreadyCheckedOut)",
            )
        if failure is None and returned is not None:
            raise NotYet(
                f"your test returned {returned!r:.40} and passed even against a cart that "
                f"breaks the rule: a test fails by raising, never by returning False. Use "
                f"then_raises(...), pytest.raises(...) or assert",
                mistake="test returns instead of asserting",
                hint="assert <condition>, or given(...).when(...).then_raises(Error), fails "
                "the test; a return value is thrown away.",
            )
        if failure is None and mutant is _LenientCart:
            raise NotYet(
                "your test also passes against a cart that lets items into a checked-out "
                "cart: it does not test the rule (given a checked-out cart, when AddItem, then "
                "CartAlreadyCheckedOut)",
                mistake="test does not test the rule",
                hint="Does your test run AddItem on a cart whose history ends with "
                "CartCheckedOut(), and then demand an error?",
            )
        if failure is None:
            raise NotYet(
                "your test also passes when a checked-out cart raises CartNotFound: name the "
                "error the rule asks for, then_raises(CartAlreadyCheckedOut) or "
                "pytest.raises(CartAlreadyCheckedOut)",
                mistake="test accepts any error",
                hint="DomainError, Exception or a bare except accept every error; name "
                "CartAlreadyCheckedOut itself.",
            )
    return (
        "your test passes against a correct cart and fails against one that forgets the rule "
        "and against one that raises the wrong error"
    )


ex3 = Exercise(
    "1.3",
    "Write the test of a rule",
    ["test_checked_out_cart_takes_no_items"],
    check_rule_test,
    [test_checked_out_cart_takes_no_items],
    [
        "The shape: given(past events..., aggregate=cart_class).when(command).then_raises(Error).",
        "The past events of a checked-out cart: CartOpened('cart-1', 'Ada'), ItemAdded('tea', "
        "1), CartCheckedOut().",
        "The command: AddItem('cart-1', 'cake', 1); the error: CartAlreadyCheckedOut.",
    ],
)


# --- 1.4: model the events yourself ------------------------------------------------------------


@dataclass(frozen=True)
class BookBorrowed(DomainEvent):
    """Exercise 1.4: a member borrowed a book."""

    member_id: str
    book_id: str
    due_on: str  # an ISO date, "2025-03-24": event data is JSON


@dataclass(frozen=True)
class LoanExtended(DomainEvent):
    """Exercise 1.4: the member extended the loan."""

    due_on: str  # the new due date; the old one is in the events before


@dataclass(frozen=True)
class BookReturned(DomainEvent):
    """Exercise 1.4: the book came back."""

    returned_on: str  # late or not follows from this day and the due date


@dataclass(frozen=True)
class FineCharged(DomainEvent):
    """Exercise 1.4: the library charged a fine."""

    amount_cents: int


LOAN_EVENTS: Final = {
    "borrow": BookBorrowed,
    "extend": LoanExtended,
    "return": BookReturned,
    "fine": FineCharged,
}
"""Exercise 1.4: the library loan's events, story step -> event class."""


class Loan(LoanBase):
    """Exercise 1.4: the loan, rebuilt from its events."""

    def apply_event(self, event: DomainEvent) -> None:
        if isinstance(event, BookBorrowed):
            self.member_id = event.member_id
            self.book_id = event.book_id
            self.due_on = event.due_on
        elif isinstance(event, LoanExtended):
            self.due_on = event.due_on  # the new date replaces the old one
        elif isinstance(event, BookReturned):
            self.returned_on = event.returned_on  # LoanBase works out whether it was late
        elif isinstance(event, FineCharged):
            self.fines_cents += event.amount_cents  # a second fine adds to the first


_STEPS: Final = {
    "borrow": "a member borrows a book, due back in three weeks",
    "extend": "the member extends the loan, to a new due date",
    "return": "the member returns the book, on some day",
    "fine": "the library charges a fine for a late return",
}
# What each fact must carry, as (key, what, words): a field whose name contains one of the
# words holds it, and the check fills it with the story's value of that key.
_Need = tuple[str, str, tuple[str, ...]]
_WHO: Final[_Need] = ("member", "who borrowed", ("member", "borrower", "patron", "reader", "user"))
_WHICH: Final[_Need] = ("book", "which book", ("book", "isbn", "copy", "item"))
_NEEDS: Final[dict[str, list[_Need]]] = {
    "borrow": [_WHO, _WHICH, ("due", "when it is due", ("due", "until", "deadline"))],
    "extend": [("due", "the new due date", ("due", "until", "deadline"))],
    "return": [("returned", "the day it came back", ("returned", "return", "on", "date", "day"))],
    "fine": [("amount", "how much, in cents", ("amount", "cents", "fine", "fee", "sum"))],
}
# What a fact may carry besides: its day, a fine's reason; after the borrowing, who and which
# book again (the stream knows them, but repeating an id does no harm).
_MAY_CARRY: Final[dict[str, list[_Need]]] = {
    "borrow": [("borrowed", "the day it was borrowed", ("borrowed", "lent", "on", "date", "day"))],
    "extend": [_WHO, _WHICH, ("extended", "the day of the extension", ("on", "date", "day"))],
    "return": [_WHO, _WHICH],
    "fine": [
        _WHO,
        _WHICH,
        ("charged", "the day it was charged", ("charged", "on", "date", "day")),
        ("reason", "why", ("reason", "cause", "why", "note")),
    ],
}
# Data that can be worked out from the other events, or belongs to another aggregate.
_DERIVED: Final = {
    "late": "whether the return was late follows from its day and the due date",
    "overdue": "whether the return was late follows from its day and the due date",
    "days_late": "the days late follow from the return day and the due date",
    "total": "a total is a sum over events: a projection works it out",
    "balance": "a balance is a sum over events: a projection works it out",
    "old_due": "the old due date is in the events before",
    "previous_due": "the old due date is in the events before",
    "extensions": "how many extensions there were is a count of LoanExtended events",
    "name": "the member's or the book's name belongs to the member or the book, not the loan",
    "title": "the book's title belongs to the book, not the loan",
    "status": "the loan's status follows from which events happened",
}
_COMMAND_VERBS: Final = (
    "Borrow",
    "Extend",
    "Return",
    "Charge",
    "Fine",
    "Pay",
    "Create",
    "Add",
    "Set",
    "Update",
    "Make",
    "Do",
    "Give",
    "Take",
    "Lend",
    "Renew",
    "Register",
    "Record",
    "Apply",
)
_VAGUE: Final = ("Updated", "Changed", "Modified", "Saved", "Edited", "Processed", "Handled")
_IRREGULAR_PAST: Final = (
    "Paid",
    "Lent",
    "Sent",
    "Made",
    "Taken",
    "Given",
    "Begun",
    "Done",
    "Held",
    "Kept",
    "Lost",
    "Brought",
    "Got",
    "Gotten",
    "Withdrawn",
    "Overdue",
)
_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z][a-z0-9]*", name)


def _field_words(field: str) -> list[str]:
    """A field name's words, lower case: ``due_on`` and ``dueOn`` are both ``due``, ``on``."""
    return [word.lower() for word in re.findall(r"[A-Za-z][a-z0-9]*", field)]


def _story_key(step: str, field: str) -> str | None:
    """Which of the story's values a field holds: the first need or extra with a word the
    same as one of the field's words; else the first with a word that starts one of them."""
    candidates = [*_NEEDS[step], *_MAY_CARRY[step]]
    words = _field_words(field)
    for same in (True, False):
        for key, _, clues in candidates:
            if any(
                word == clue if same else word.startswith(clue) for word in words for clue in clues
            ):
                return key
    return None


def _check_name(step: str, name: str) -> None:
    fact = _STEPS[step]
    if not _NAME.fullmatch(name):
        raise NotYet(
            f"{name!r} is not an event name: one word in CamelCase, such as 'BookBorrowed'",
            mistake="not a class name",
            hint="An event is a class: CamelCase, no spaces, starting with a capital letter.",
        )
    words = _words(name)
    last = words[-1] if words else name
    past = any(word.endswith("ed") or word in _IRREGULAR_PAST for word in words)
    if words and words[0] in _COMMAND_VERBS and not past:
        raise NotYet(
            f"{name!r} ({fact}) reads as a command, an order to do something; an event says "
            f"what happened, in the past tense (rule 2)",
            mistake="command-like name",
            hint=f"Put the verb last, in the past tense: {words[0]}... -> ...{words[0]}ed "
            f"(BorrowBook -> BookBorrowed).",
        )
    if last in _VAGUE:
        raise NotYet(
            f"{name!r} ({fact}) says that something changed, not what happened: name the "
            f"business fact (rule 3)",
            mistake="vague name",
            hint="Which word would the librarian use for this step? LoanExtended, not LoanUpdated.",
        )
    if not past:
        raise NotYet(
            f"{name!r} ({fact}) is not in the past tense: an event is a fact that has "
            f"happened, its name ends with a past participle such as Borrowed or Paid (rule 2)",
            mistake="not past tense",
            hint="End the name with the verb in the past: BookBorrowed, LoanExtended, FineCharged.",
        )


def _event_class(step: str, answer: object) -> type[DomainEvent]:
    example = "@dataclass(frozen=True) class FineCharged(DomainEvent): amount_cents: int"
    if isinstance(answer, DomainEvent):
        raise NotYet(
            f"events[{step!r}] is an event, {answer!r:.60}: put the class itself in the dict, "
            f"{type(answer).__name__} without the brackets",
            mistake="wrong answer type",
        )
    if not (isinstance(answer, type) and issubclass(answer, DomainEvent)):
        raise NotYet(
            f"events[{step!r}] is {answer!r:.60}: write an event class for it, a frozen "
            f"dataclass that subclasses DomainEvent ({example}), and put the class in the dict",
            mistake="wrong answer type",
        )
    if not hasattr(answer, "__dataclass_fields__"):
        raise NotYet(
            f"{answer.__name__} is not a dataclass, so it has no fields: put "
            f"@dataclass(frozen=True) on the line above its class",
            mistake="wrong answer type",
        )
    return answer


def _check_step(step: str, cls: type[DomainEvent]) -> dict[str, str]:
    """For each field of the step's event class, which of the story's values it holds."""
    name, fact = cls.__name__, _STEPS[step]
    _check_name(step, name)
    fields = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for field in fields:
        for word, why in _DERIVED.items():
            if word in field.lower() and not (word == "name" and field.lower() == "name"):
                raise NotYet(
                    f"{name!r} stores {field!r}, but {why}: an event holds only what is new "
                    f"about the fact, nothing that can be worked out from the events (rule 4)",
                    mistake="derived data stored",
                    hint=f"Delete {field!r} from {name!r}; LoanBase (or a read model) works it "
                    f"out.",
                )
    keys = {field: _story_key(step, field) for field in fields}
    for key, what, clues in _NEEDS[step]:
        if key not in keys.values():
            raise NotYet(
                f"{name!r} ({fact}) has no field for {what} ({', '.join(fields) or 'no fields'}"
                f"): an event carries what the fact says, so a replay can rebuild the loan "
                f"(rule 4)",
                mistake="data missing",
                hint=f"Add a field for {what}, e.g. one named with {clues[0]!r}.",
            )
    for field, found in keys.items():
        if found is None:
            known = "; ".join(f"{what}: {', '.join(clues)}" for _, what, clues in _NEEDS[step])
            extras = "; ".join(f"{what}: {', '.join(clues)}" for _, what, clues in _MAY_CARRY[step])
            raise NotYet(
                f"{name!r} has a field {field!r} that the check cannot match to the story "
                f"({fact}): it fills each field with the story's value by a word of its name "
                f"({known}; and, if you like, {extras})",
                mistake="field not understood",
                hint=f"Rename {field!r} with one of those words, or delete it if the fact does "
                f"not say it.",
            )
    return {field: key for field, key in keys.items() if key is not None}


def _check_events(events: object) -> dict[str, tuple[type[DomainEvent], dict[str, str]]]:
    if not isinstance(events, dict):
        raise NotYet(
            f"events must be a dict, story step -> event class, got {type(events).__name__}",
            mistake="wrong answer type",
        )
    missing = [step for step in _STEPS if step not in events]
    if missing:
        raise NotYet(
            f"no event for {', '.join(repr(step) for step in missing)} ({_STEPS[missing[0]]}): "
            f"every fact of the story gets its own event (rule 1)",
            mistake="step left out",
            hint=f"events needs the keys {', '.join(map(repr, _STEPS))}.",
        )
    checked: dict[str, tuple[type[DomainEvent], dict[str, str]]] = {}
    names: dict[str, str] = {}
    for step in _STEPS:
        cls = _event_class(step, events[step])
        name = cls.__name__
        if name in names:
            raise NotYet(
                f"{names[name]!r} and {step!r} are both {name!r}: two different facts need two "
                f"events, so that a reader of the log can tell them apart (rule 1)",
                mistake="one event for two facts",
                hint="Give each step its own name: borrowing is not extending, returning is not "
                "being fined.",
            )
        names[name] = step
        checked[step] = cls, _check_step(step, cls)
    return checked


# The histories the check plays: the story's values, step by step, by key (see _NEEDS).
_Story = list[tuple[str, dict[str, object]]]
_LOANS: Final[list[tuple[str, str, _Story]]] = [
    (
        "loan-1",
        "the story: borrowed, extended, returned late, fined",
        [
            ("borrow", {"borrowed": "2025-03-03", "due": "2025-03-24"}),
            ("extend", {"extended": "2025-03-20", "due": "2025-04-07"}),
            ("return", {"returned": "2025-04-10"}),
            ("fine", {"charged": "2025-04-10", "amount": 150, "reason": "3 days late"}),
        ],
    ),
    (
        "loan-2",
        "a loan extended twice, returned late and fined twice",
        [
            ("borrow", {"borrowed": "2025-05-05", "due": "2025-05-26"}),
            ("extend", {"extended": "2025-05-25", "due": "2025-06-09"}),
            ("extend", {"extended": "2025-06-08", "due": "2025-06-23"}),
            ("return", {"returned": "2025-07-01"}),
            ("fine", {"charged": "2025-07-01", "amount": 400, "reason": "8 days late"}),
            ("fine", {"charged": "2025-07-02", "amount": 250, "reason": "a torn page"}),
        ],
    ),
    (
        "loan-3",
        "a loan returned on time",
        [
            ("borrow", {"borrowed": "2025-08-01", "due": "2025-08-22"}),
            ("return", {"returned": "2025-08-15"}),
        ],
    ),
]
_READERS: Final = {"loan-1": "member-7", "loan-2": "member-9", "loan-3": "member-3"}
_BOOKS: Final = {"loan-1": "book-42", "loan-2": "book-17", "loan-3": "book-5"}


def _story_events(
    loan_id: str, story: _Story, model: dict[str, tuple[type[DomainEvent], dict[str, str]]]
) -> list[DomainEvent]:
    """The story as events of ``model``: each field filled with the value its name asks for."""
    made: list[DomainEvent] = []
    for step, values in story:
        cls, keys = model[step]
        known = {"member": _READERS[loan_id], "book": _BOOKS[loan_id], **values}
        data = {field: known[key] for field, key in keys.items()}
        shown = ", ".join(f"{field}={value!r}" for field, value in data.items())
        try:
            made.append(cls(**data))
        except Exception as error:
            raise NotYet(
                f"{cls.__name__}({shown}) raised {describe_error(error)}: the check puts the "
                f"story's values in your fields, ids and ISO dates such as '2025-03-24' as "
                f"text (event data is JSON), amounts as whole cents (int)",
                mistake="field type",
                hint=f"Annotate the fields of {cls.__name__} with str for ids and dates and int "
                f"for cents, and give it no other required fields or checks.",
            ) from error
    return made


_LOAN_RULE5 = (
    "rule 5, apply only assigns state from the event; a replay next year must give the same loan"
)
_LOAN_STATE_LIST = "member_id, book_id, due_on, returned_on and fines_cents"
_WORKED_OUT = (
    "LoanBase works it out from due_on and returned_on, so it can never disagree with them",
    "derived state set by hand",
    "Delete that line: set self.due_on and self.returned_on, and LoanBase's property does the "
    "rest (that is why no event has to say the return was late).",
)
_LOAN_READ_ONLY: Final[ReadOnly] = {
    "version": (
        _VERSION_COUNTED,
        "version set by hand",
        f"Delete the line that changes self.version; assign only {_LOAN_STATE_LIST}.",
    ),
    "is_returned": _WORKED_OUT,
    "returned_late": _WORKED_OUT,
    "days_late": _WORKED_OUT,
}
_FIELD_SAYS: Final = {
    "member_id": "who borrowed the book",
    "book_id": "which book it is",
    "due_on": "the due date, which an extension replaces",
    "returned_on": "the day the book came back",
    "fines_cents": "the total of every fine charged, in cents",
}


Model = dict[str, tuple[type[DomainEvent], dict[str, str]]]
"""The learner's events, checked: story step -> (event class, field -> the story's key)."""


def _loan_state(model: Model, loan: LoanBase) -> WrongState:
    """The message for a wrong ``loan`` after an event; ``model`` says which field of the
    learner's event holds which of the story's values, for the hint."""
    key_of = {"member_id": "member", "book_id": "book", "due_on": "due", "returned_on": "returned"}
    key_of["fines_cents"] = "amount"
    fresh = LoanBase(loan.aggregate_id)
    keys_of = {cls: keys for cls, keys in model.values()}

    def wrong_state(
        event: DomainEvent, field: str, got: object, want: object, before: dict[str, Any], _: str
    ) -> NotYet:
        name = type(event).__name__
        carried = [f for f, key in keys_of.get(type(event), {}).items() if key == key_of[field]]
        source = f"event.{carried[0]}" if carried else f"the {name} event"
        was = before[field]
        fine = field == "fines_cents" and isinstance(want, int) and isinstance(was, int)
        if fine and was and got == want - was:
            return NotYet(
                f"after {event!r}, fines_cents is {got!r}, expected {want!r}: the fine "
                f"replaced the total instead of adding to it; fines_cents is the total of "
                f"every fine",
                mistake="replaced instead of added",
                hint=f"self.fines_cents += {source}: the total so far plus this fine.",
            )
        if all(getattr(loan, f, None) == before[f] for f in LOAN_STATE):
            return NotYet(
                f"after {event!r}, {field} is still {got!r}, expected {want!r}: your "
                f"apply_event ignores {name}, so a replay loses {_FIELD_SAYS[field]}",
                mistake="event ignored",
                hint=f"Add a branch for it: if isinstance(event, {name}): self.{field} "
                f"{'+=' if field == 'fines_cents' else '='} {source}.",
            )
        if got == was == getattr(fresh, field):
            elsewhere = [
                k
                for k, v in vars(loan).items()
                if not k.startswith("_") and k not in LOAN_STATE and v == want
            ]
            aside = (
                f"; it went to self.{elsewhere[0]}, which LoanBase does not know"
                if elsewhere
                else ""
            )
            return NotYet(
                f"after {event!r}, {field} is still {got!r}, expected {want!r}: apply_event "
                f"does not set it{aside}. LoanBase's state is {_LOAN_STATE_LIST}",
                mistake="field not set",
                hint=f"In the {name} branch: self.{field} = {source}.",
            )
        return NotYet(
            f"after {event!r}, {field} is {got!r}, expected {want!r}: {field} is "
            f"{_FIELD_SAYS[field]}",
            mistake="wrong state",
            hint=f"In the {name} branch, set self.{field} from {source}, as it is.",
        )

    return wrong_state


def _loan_error(event: DomainEvent, verdict: NotYet, situation: str) -> NotYet | None:
    if verdict.mistake != "raised":
        return None  # the clock, I/O or random numbers: call_pure's own message says it
    return NotYet(
        f"{verdict.why}: apply_event applies every event of a loan's history, in order",
        mistake="raised",
        hint=f"Each branch reads only the fields of its own event: in the {type(event).__name__} "
        f"branch, event.<one of its fields>; and no check raises, since the event happened.",
    )


def check_loan_model(events: object, loan_class: object) -> str:
    model = _check_events(events)
    if not (isinstance(loan_class, type) and issubclass(loan_class, LoanBase)):
        raise NotYet(
            f"pass your class itself, a subclass of LoanBase: ex4.check(events, Loan), got "
            f"{type(loan_class).__name__}",
            mistake="wrong answer type",
        )
    if loan_class.apply_event is LoanBase.apply_event:
        raise NotYet(
            "your Loan has no apply_event of its own",
            mistake="no apply_event",
            hint="Inside class Loan(LoanBase): def apply_event(self, event): with one "
            "isinstance branch per event class.",
        )
    reference_model = _check_events(LOAN_EVENTS)
    # The learner's classes in a registry of their own, so that no other class of the same
    # name (esteach's, or one defined earlier) is picked when a recorded event is read.
    watching = _Watching(cls for cls, _ in model.values())
    checked = type(
        loan_class.__name__,
        (loan_class,),
        {"events": watching, "__module__": loan_class.__module__},
    )
    for loan_id, _, story in _LOANS:
        loan = call(checked, loan_id, doing=f"{loan_class.__name__}({loan_id!r})")
        _replay(
            loan,
            _story_events(loan_id, story, model),
            Loan(loan_id),
            _story_events(loan_id, story, reference_model),
            LOAN_STATE,
            rule=_LOAN_RULE5,
            read_only=_LOAN_READ_ONLY,
            wrong_state=_loan_state(model, loan),
            on_error=_loan_error,
            watching=watching,
        )
    names = ", ".join(cls.__name__ for cls, _ in model.values())
    return (
        f"four facts, four events in the past tense, each with the data it needs and nothing "
        f"derived ({names}); your apply_event rebuilds {len(_LOANS)} loans from them, one "
        f"extended twice and fined twice, one returned on time"
    )


def loan_story(events: object) -> list[DomainEvent]:
    """The story of exercise 1.4 (borrowed, extended, returned late, fined) as events of the
    learner's classes, each field filled by its name as the check fills it, to try an
    ``apply_event`` on. Empty while ``events`` holds a ``____``, or a mistake the check would
    name (printed, in one line)."""
    if unfinished(events, "events"):
        return []
    try:
        return _story_events(_LOANS[0][0], _LOANS[0][2], _check_events(events))
    except NotYet as verdict:
        print(f"Not yet: {verdict.why}.")
        return []


ex4 = Exercise(
    "1.4",
    "Model the events yourself",
    ["events", "Loan"],
    check_loan_model,
    [LOAN_EVENTS, Loan],
    [
        "One event per step of the story, named for what happened: a noun (Book, Loan, Fine) "
        "and a verb in the past tense (Borrowed, Extended, Returned, Charged).",
        "The data: what the fact says that the log does not know already. Borrowing says who, "
        "which book, and when it is due; an extension, the new due date; a return, the day; "
        "a fine, the amount in cents. Dates are ISO text, '2025-03-24'.",
        "Nothing that can be worked out: not whether a return was late (LoanBase works it out "
        "from returned_on and due_on), not a total, not the old due date.",
        "apply_event: one isinstance branch per event; an extension replaces self.due_on, a "
        "fine adds to self.fines_cents.",
    ],
)
