"""Exercises for notebook 11, deciders and process managers.

* ``ex1`` (11.1): the shopping cart of notebook 01 as a decider: write ``decide`` (the rules of
  ``AddItem``) and ``evolve`` (the cart's four events) as pure functions of a frozen state.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Final

from esteach.decider import Decider
from esteach.errors import DomainError
from esteach.events import DomainEvent
from esteach.exercises.cart import (
    CHECKED_OUT,
    MAX_PER_ITEM,
    OPEN,
    AddItem,
    CartAlreadyCheckedOut,
    CartCheckedOut,
    CartCommand,
    CartNotFound,
    CartOpened,
    CartState,
    CheckOut,
    InvalidQuantity,
    ItemAdded,
    ItemLimitReached,
    ItemRemoved,
    OpenCart,
    RemoveItem,
    decide_other_commands,
)
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.purity import describe, watch
from esteach.processor import CommandProcessor
from esteach.store.memory import InMemoryEventStore

__all__ = ["decide", "evolve", "ex1"]


# --- reference solutions ----------------------------------------------------------------------


def decide(command: Any, state: CartState) -> list[DomainEvent]:
    """Exercise 11.1: the rules of ``AddItem``, as a function of the state."""
    if isinstance(command, AddItem):
        if state.status is None:
            raise CartNotFound(f"cart {command.cart_id!r} does not exist")
        if state.status == "checked_out":
            raise CartAlreadyCheckedOut(f"cart {command.cart_id!r} is checked out")
        if not 1 <= command.quantity <= 10:
            raise InvalidQuantity(f"a quantity is 1 to 10, got {command.quantity}")
        if state.items.get(command.sku, 0) + command.quantity > 10:
            raise ItemLimitReached(f"a cart holds at most 10 of {command.sku!r}")
        return [ItemAdded(command.sku, command.quantity)]
    return decide_other_commands(command, state)


def evolve(state: CartState, event: DomainEvent) -> CartState:
    """Exercise 11.1: the state after one event, a new value; the old one stays as it was."""
    if isinstance(event, CartOpened):
        return CartState(event.customer, state.items, "open")
    if isinstance(event, ItemAdded):
        items = dict(state.items)  # a new dict: the old state keeps its own
        items[event.sku] = items.get(event.sku, 0) + event.quantity
        return dataclasses.replace(state, items=items)
    if isinstance(event, ItemRemoved):
        items = {sku: n for sku, n in state.items.items() if sku != event.sku}
        return dataclasses.replace(state, items=items)
    if isinstance(event, CartCheckedOut):
        return dataclasses.replace(state, status="checked_out")
    return state


# --- the check --------------------------------------------------------------------------------

_HISTORY: Final[list[DomainEvent]] = [
    CartOpened("cart-1", "Ada"),
    ItemAdded("tea", 2),
    ItemAdded("cake", 1),
    ItemAdded("tea", 1),
    ItemRemoved("cake"),
    CartCheckedOut(),
]
# Recorded by an older release that checked fewer rules (as in exercise 1.1): facts now.
_OLD_RELEASE: Final[list[DomainEvent]] = [
    CartOpened("cart-1", "Bob"),
    ItemRemoved("jam"),
    ItemAdded("jam", 6),
    ItemAdded("jam", 6),
    CartCheckedOut(),
    ItemAdded("tea", 1),
]
_FIELDS: Final = ("customer", "items", "status")
_RULE_OF: Final = {CartOpened: 1, ItemAdded: 2, ItemRemoved: 3, CartCheckedOut: 4}
_PURE_HINT: Final = (
    "The event and the state carry everything evolve and decide need. Delete the call; the "
    "store records when an event happened."
)


def _require_function(answer: object, name: str) -> Callable[..., Any]:
    if not callable(answer) or isinstance(answer, type):
        raise NotYet(
            f"pass your two functions themselves: ex1.check(decide, evolve); {name} is "
            f"{type(answer).__name__}",
            mistake="wrong answer type",
        )
    return answer


def _snapshot(state: object) -> object:
    """The state's fields as plain values, to compare before and after a call."""
    return copy.deepcopy({f: getattr(state, f, None) for f in _FIELDS})


def _run_pure(function: Callable[..., Any], *args: Any) -> tuple[object, list[Any]]:
    """What ``function(*args)`` returned (or raised), and the impure calls it made."""

    def run() -> object:
        try:
            return function(*args)
        except Exception as error:
            return error

    return watch(run)


def _situation(state: CartState, event: DomainEvent) -> str:
    if isinstance(event, ItemRemoved) and event.sku not in state.items:
        return f"for a sku the cart does not hold ({event.sku!r})"
    if isinstance(event, ItemAdded) and state.status == CHECKED_OUT:
        return "to a checked-out cart"
    if isinstance(event, ItemAdded) and state.items.get(event.sku, 0) + event.quantity > 10:
        return f"beyond 10 {event.sku!r}"
    return ""


_RULES_BELONG: Final = (
    "an old release recorded it, so it happened: evolve applies every recorded event, and the "
    "rules belong in decide, which runs before anything is recorded (rule 5)"
)
_RULES_HINT: Final = (
    "Delete the check (the if ... raise, or returning the old state) from evolve; the rules "
    "are decide's."
)


def _evolve_mistake(event: DomainEvent, field: str, got: object, want: object) -> NotYet:
    rule = _RULE_OF.get(type(event), 5)
    mapping = isinstance(got, Mapping)
    if mapping and isinstance(event, ItemAdded) and got.get(event.sku) == event.quantity:  # type: ignore[attr-defined]
        return NotYet(
            f"after {event!r}, items is {got!r}, expected {want!r}: the new quantity replaced "
            f"the count instead of adding to it (rule 2)",
            mistake="replaced instead of added",
            hint="state.items.get(sku, 0) is the count so far (0 for a new sku); add the "
            "event's quantity to it.",
        )
    if mapping and isinstance(event, ItemRemoved) and event.sku in got:  # type: ignore[operator]
        return NotYet(
            f"after {event!r}, items is {got!r}, expected {want!r}: the line must leave items "
            f"entirely (rule 3)",
            mistake="removed line kept",
            hint="Build the new items without the sku: {s: n for s, n in state.items.items() "
            "if s != event.sku}.",
        )
    return NotYet(
        f"after {event!r}, {field} is {got!r}, expected {want!r} (rule {rule})",
        mistake="wrong state",
        hint=f"Read rule {rule} again: which field does {type(event).__name__} change, and to "
        f"what?",
    )


def _check_evolve(evolve_: Callable[..., Any], history: list[DomainEvent]) -> None:
    state: Any = CartState()
    reference = CartState()
    for event in history:
        situation = _situation(reference, event)
        before = _snapshot(state)
        outcome, impure = _run_pure(evolve_, state, event)
        if impure:
            raise NotYet(
                f"evolve {describe(impure)} while applying {event!r}: rule 5, evolve only "
                f"computes the next state from the state and the event; a replay next year "
                f"must give the same cart",
                mistake="impure evolve",
                hint=_PURE_HINT,
            )
        if _snapshot(state) != before:
            changed = [f for f in _FIELDS if getattr(state, f, None) != before[f]]  # type: ignore[index]
            raise NotYet(
                f"evolve changed the state it was given ({', '.join(changed)}) while applying "
                f"{event!r}: the old state may still be in use (a snapshot, a time-travel "
                f"view, another reader); return a new state and leave the old one as it was "
                f"(rule 6)",
                mistake="evolve changed the old state",
                hint="dict(state.items) is a new dict to change; dataclasses.replace(state, "
                "items=new_items) is a new state.",
            )
        if isinstance(outcome, Exception):
            if isinstance(outcome, dataclasses.FrozenInstanceError):
                raise NotYet(
                    f"applying {event!r} raised {describe_error(outcome)}: the state is frozen, "
                    f"so evolve returns a new state instead of assigning to the old one "
                    f"(rule 6)",
                    mistake="evolve changed the old state",
                    hint="return dataclasses.replace(state, status='checked_out'), or "
                    "CartState(customer, items, status): a new value.",
                ) from outcome
            if situation:
                raise NotYet(
                    f"applying {event!r} {situation} raised {describe_error(outcome)}: "
                    f"{_RULES_BELONG}",
                    mistake="rule in evolve",
                    hint=_RULES_HINT,
                ) from outcome
            raise NotYet(
                f"applying {event!r} raised {describe_error(outcome)}", mistake="raised"
            ) from outcome
        if not isinstance(outcome, CartState):
            raise NotYet(
                f"evolve returned {outcome!r:.60} after {event!r}: it returns the next state, a "
                f"CartState, in every branch"
                + (" (is a return missing?)" if outcome is None else ""),
                mistake="evolve returned no state",
                hint="Every branch ends with return: a new CartState, or dataclasses.replace("
                "state, ...); an event that changes nothing returns state itself.",
            )
        reference = evolve(reference, event)
        for field in _FIELDS:
            got, want = getattr(outcome, field), getattr(reference, field)
            if got == want:
                continue
            if situation and got == before[field]:  # type: ignore[index]
                raise NotYet(
                    f"after {event!r}, {field} is still {got!r}: evolve skipped an event "
                    f"{situation}, but {_RULES_BELONG}",
                    mistake="rule in evolve",
                    hint=_RULES_HINT,
                )
            raise _evolve_mistake(event, field, got, want)
        state = outcome


_OPENED: Final[list[DomainEvent]] = [CartOpened("cart-1", "Ada")]
_CHECKED_OUT: Final = [*_OPENED, ItemAdded("tea", 1), CartCheckedOut()]
_SEVEN_TEA: Final = [*_OPENED, ItemAdded("tea", 7)]
Expected = list[DomainEvent] | type[DomainError]
_SCENARIOS: Final[list[tuple[str, list[DomainEvent], Any, Expected, int]]] = [
    ("an open cart", _OPENED, AddItem("cart-1", "tea", 2), [ItemAdded("tea", 2)], 5),
    ("a cart never opened", [], AddItem("cart-1", "tea", 2), CartNotFound, 1),
    ("a checked-out cart", _CHECKED_OUT, AddItem("cart-1", "cake", 1), CartAlreadyCheckedOut, 2),
    ("an open cart", _OPENED, AddItem("cart-1", "tea", 0), InvalidQuantity, 3),
    ("an open cart", _OPENED, AddItem("cart-1", "tea", 11), InvalidQuantity, 3),
    ("an open cart", _OPENED, AddItem("cart-1", "tea", 10), [ItemAdded("tea", 10)], 3),
    ("a cart with 7 tea", _SEVEN_TEA, AddItem("cart-1", "tea", 3), [ItemAdded("tea", 3)], 4),
    ("a cart with 7 tea", _SEVEN_TEA, AddItem("cart-1", "tea", 4), ItemLimitReached, 4),
    ("a cart with 7 tea", _SEVEN_TEA, AddItem("cart-1", "cake", 4), [ItemAdded("cake", 4)], 4),
    ("a cart never opened", [], AddItem("cart-1", "tea", 0), CartNotFound, 1),
    ("a checked-out cart", _CHECKED_OUT, AddItem("cart-1", "cake", 0), CartAlreadyCheckedOut, 2),
    (
        "a cart with tea",
        [*_OPENED, ItemAdded("tea", 1)],
        RemoveItem("cart-1", "tea"),
        [ItemRemoved("tea")],
        0,
    ),
]
_RULE_TESTS: Final = {
    1: "if state.status is None",
    2: "if state.status == 'checked_out'",
    3: "if not 1 <= command.quantity <= 10",
}


def _state_of(history: list[DomainEvent]) -> CartState:
    state = CartState()
    for event in history:
        state = evolve(state, event)
    return state


def _judge(label: str, command: Any, outcome: object, expected: Expected, rule: int) -> None:
    where = f"given {label}, {command!r}"
    if isinstance(outcome, NotImplementedError):
        raise NotYet(
            f"{where} went on to decide_other_commands, which leaves AddItem to you: return "
            f"the events from your AddItem branch, or raise",
            mistake="AddItem not decided",
            hint="if isinstance(command, AddItem): ... return [ItemAdded(command.sku, "
            "command.quantity)]; only the other commands go on to decide_other_commands.",
        )
    if isinstance(expected, list):
        if isinstance(outcome, Exception):
            too_strict = isinstance(outcome, ItemLimitReached) and rule in (3, 4)
            raise NotYet(
                f"{where} raised {describe_error(outcome)}, but should decide {expected!r}"
                + (": 10 of one sku are allowed (rule 4)" if too_strict else f" (rule {rule})"),
                mistake="off by one" if too_strict else "rule too strict",
                hint="Rule 4 allows exactly 10 of a sku: refuse when the cart's count plus the "
                "quantity is above 10 (> 10), not when it reaches 10."
                if too_strict
                else f"Read rule {rule} again: this command is allowed.",
            )
        if not isinstance(outcome, list | tuple):
            raise NotYet(
                f"{where} returned {outcome!r:.60}: decide returns a list of events, such as "
                f"[ItemAdded(sku, quantity)]",
                mistake="not a list",
                hint="return [ItemAdded(command.sku, command.quantity)]: a list, even of one "
                "event.",
            )
        if list(outcome) != expected:
            raise NotYet(f"{where} decided {outcome!r}, expected {expected!r}", mistake="wrong")
        return
    if not isinstance(outcome, Exception):
        if rule == 4:
            why = f"7 already in the cart + 4 more = 11, above {MAX_PER_ITEM} (rule 4)"
            hint = "Count what the cart holds already: state.items.get(command.sku, 0)."
        else:
            why = f"rule {rule} says raise {expected.__name__}"
            hint = (
                f"{_RULE_TESTS.get(rule, 'if the rule is broken')}: raise {expected.__name__}(...)"
            )
        raise NotYet(f"{where} decided {outcome!r}: {why}", mistake="rule missing", hint=hint)
    if not isinstance(outcome, expected):
        order = (
            " The rules are checked in order, so the first one broken names the error."
            if isinstance(outcome, DomainError)
            else ""
        )
        raise NotYet(
            f"{where} raised {describe_error(outcome)}, but rule {rule} asks for "
            f"{expected.__name__}.{order}",
            mistake="wrong error",
            hint=f"raise {expected.__name__}(message): the cart's errors are imported in the "
            f"setup cell.",
        )


def _check_decide(decide_: Callable[..., Any]) -> None:
    for label, history, command, expected, rule in _SCENARIOS:
        state = _state_of(history)
        before = _snapshot(state)
        outcome, impure = _run_pure(decide_, command, state)
        if impure:
            raise NotYet(
                f"given {label}, decide({command!r}) {describe(impure)}: deciding reads only "
                f"the command and the state",
                mistake="impure decide",
                hint=_PURE_HINT,
            )
        changed = [f for f in _FIELDS if getattr(state, f, None) != before[f]]  # type: ignore[index]
        frozen = isinstance(outcome, dataclasses.FrozenInstanceError)
        if changed or frozen:
            raise NotYet(
                f"given {label}, decide({command!r}) "
                + (
                    f"changed the state ({', '.join(changed)})"
                    if changed
                    else "tried to assign to the frozen state"
                )
                + ": decide only returns events; evolve makes the change once they are "
                "recorded (rule 5)",
                mistake="state changed in decide",
                hint="Delete the assignment to state (or state.items) in decide; return "
                "[ItemAdded(command.sku, command.quantity)] and nothing else.",
            )
        _judge(label, command, outcome, expected, rule)


def _check_through_the_processor(decide_: Callable[..., Any], evolve_: Callable[..., Any]) -> None:
    """The two functions as a `Decider`, run by the same `CommandProcessor` as a class."""
    cart = Decider("Cart", CartState(), decide_, evolve_, command_types=(CartCommand,))
    processor: CommandProcessor[Any] = CommandProcessor(InMemoryEventStore(), cart)
    for command in (
        OpenCart("cart-9", "Grace"),
        AddItem("cart-9", "tea", 4),
        AddItem("cart-9", "tea", 6),
        CheckOut("cart-9"),
    ):
        processor.process_command(command)
    state = processor.load("cart-9").current
    want = CartState("Grace", {"tea": 10}, CHECKED_OUT)
    if (state.customer, dict(state.items), state.status) != (
        want.customer,
        dict(want.items),
        want.status,
    ):
        raise NotYet(
            f"run as a Decider by a CommandProcessor, the cart ended as {state!r}, expected "
            f"{want!r}",
            mistake="wrong",
        )


def check_decider(decide_: object, evolve_: object) -> str:
    checked_decide = _require_function(decide_, "decide")
    checked_evolve = _require_function(evolve_, "evolve")
    _check_evolve(checked_evolve, _HISTORY)
    _check_evolve(checked_evolve, _OLD_RELEASE)
    _check_decide(checked_decide)
    _check_through_the_processor(checked_decide, checked_evolve)
    return (
        "evolve rebuilds every cart as new values (the old state untouched), decide follows "
        "the five rules and changes nothing, and the two run as a Decider through a "
        f"CommandProcessor ({OPEN!r} to {CHECKED_OUT!r})"
    )


ex1 = Exercise(
    "11.1",
    "The cart as a decider",
    ["decide", "evolve"],
    check_decider,
    [decide, evolve],
    [
        "evolve: one branch per event type, each returning a new CartState: "
        "dataclasses.replace(state, status='checked_out'), for instance.",
        "ItemAdded in evolve: items = dict(state.items), then items[event.sku] = "
        "items.get(event.sku, 0) + event.quantity, then return dataclasses.replace(state, "
        "items=items).",
        "decide: the rules of exercise 1.2 with state instead of self: state.status is None "
        "(never opened), state.status == 'checked_out', 1 <= quantity <= 10, and "
        "state.items.get(sku, 0) + quantity <= 10; then return [ItemAdded(command.sku, "
        "command.quantity)].",
    ],
)
