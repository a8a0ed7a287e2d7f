"""Exercises for notebook 11, deciders and process managers.

* ``ex1`` (11.1): the shopping cart of notebook 01 as a decider: write ``decide`` (the rules of
  ``AddItem``) and ``evolve`` (the cart's four events) as pure functions of a frozen state.
* ``ex2`` (11.2): finish the money transfer's compensation: record a refused deposit, and
  refund the source, once, whatever is delivered again and wherever the runner crashes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Final

from esteach.decider import Decider
from esteach.domains.account import (
    BankAccount,
    CloseAccount,
    DepositMoney,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
)
from esteach.domains.transfer import (
    RecordCredit,
    RecordCreditRefused,
    RecordDebit,
    RecordDebitRefused,
    RecordRefund,
    StartTransfer,
    Transfer,
)
from esteach.errors import DomainError
from esteach.events import DomainEvent, Event
from esteach.exercises.cart import (
    CHECKED_OUT,
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
    broken_rule,
    decide_other_commands,
)
from esteach.exercises.checking import check_refusal
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.purity import describe, watch
from esteach.processes import ProcessManager, ProcessRunner, Step
from esteach.processor import CommandProcessor, CommandResult
from esteach.store.memory import InMemoryEventStore

__all__ = ["CompensatingTransfer", "TransferProcessBase", "decide", "evolve", "ex1", "ex2"]


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
    return broken_rule(state.items, state.status, event)


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
    check_refusal(where, outcome, expected, rule, _RULE_TESTS, "state.items", "")


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


# --- 11.2: the transfer's compensation --------------------------------------------------------


class TransferProcessBase(ProcessManager):
    """The transfer's process manager of notebook 11, less its compensation (exercise 11.2).

    It withdraws, records the debit, deposits and records the credit; a refused withdrawal is
    recorded as ``TransferFailed``. A refused deposit it leaves to the learner, who records it
    (``refused``) and refunds the source (``react`` to ``TransferCreditRefused``); the refund's
    ``MoneyDeposited`` in the source account is then recorded as ``TransferRefunded`` here.
    """

    process = Transfer

    def react(self, state: Any, event: Event) -> list[Step]:
        t = state.aggregate_id
        kind = event.event_type
        if kind == "TransferStarted":
            return [Step(WithdrawMoney(state.source, state.amount), f"{t}/debit")]
        if kind == "TransferDebited":
            return [Step(DepositMoney(state.target, state.amount), f"{t}/credit")]
        account = event.aggregate_id
        if kind == MoneyWithdrawn.event_type and account == state.source:
            return [Step(RecordDebit(t), f"{t}/debited")]
        if kind == MoneyDeposited.event_type and account == state.target:
            return [Step(RecordCredit(t), f"{t}/completed")]
        refund_arrived = state.status == "credit refused"
        if kind == MoneyDeposited.event_type and account == state.source and refund_arrived:
            return [Step(RecordRefund(t), f"{t}/refunded")]
        return []

    def refused(self, state: Any, step: Step, error: DomainError) -> list[Step]:
        t = state.aggregate_id
        if step.command_id == f"{t}/debit":
            return [Step(RecordDebitRefused(t, str(error)), f"{t}/failed")]
        return []


class CompensatingTransfer(TransferProcessBase):
    """Exercise 11.2: record a refused deposit, and refund the source."""

    def react(self, state: Any, event: Event) -> list[Step]:
        t = state.aggregate_id
        if event.event_type == "TransferCreditRefused":
            return [Step(DepositMoney(state.source, state.amount), f"{t}/refund")]
        return super().react(state, event)

    def refused(self, state: Any, step: Step, error: DomainError) -> list[Step]:
        t = state.aggregate_id
        if step.command_id == f"{t}/credit":
            return [Step(RecordCreditRefused(t, str(error)), f"{t}/credit-refused")]
        return super().refused(state, step, error)


class _Crash(Exception):
    """The runner dies (the check's stand-in for a killed process)."""


class _CrashAfterRefund:
    """A command processor that records the first deposit into ``account``, then dies before
    the runner can go on: the refund is paid and not yet recorded as ``TransferRefunded``."""

    def __init__(self, processor: CommandProcessor[Any], account: str) -> None:
        self.processor, self.account = processor, account
        self.aggregate_class = processor.aggregate_class
        self.crashed = False

    def process_command(self, command: Any, **kwargs: Any) -> CommandResult:
        result = self.processor.process_command(command, **kwargs)
        refund = isinstance(command, DepositMoney) and command.account_id == self.account
        if refund and not self.crashed:
            self.crashed = True
            raise _Crash(f"died after {command!r}")
        return result

    def load(self, aggregate_id: str) -> Any:
        return self.processor.load(aggregate_id)


class _Bank:
    """Ada and Grace's accounts and the transfers between them, in a fresh store."""

    def __init__(self, ada: int, *, grace_closed: bool) -> None:
        self.store = InMemoryEventStore()
        self.accounts: CommandProcessor[Any] = CommandProcessor(self.store, BankAccount)
        self.transfers: CommandProcessor[Any] = CommandProcessor(self.store, Transfer)
        commands: list[Any] = [OpenAccount("ada", "Ada"), OpenAccount("grace", "Grace")]
        if ada:
            commands.append(DepositMoney("ada", ada))
        if grace_closed:
            commands.append(CloseAccount("grace"))
        for command in commands:
            self.accounts.process_command(command)

    def start(self, transfer_id: str, amount: int = 60) -> None:
        self.transfers.process_command(StartTransfer(transfer_id, "ada", "grace", amount))

    def run(self, manager: ProcessManager, processors: list[Any] | None = None) -> ProcessRunner:
        runner = ProcessRunner(self.store, manager, processors or [self.accounts, self.transfers])
        runner.run_until_idle()
        return runner

    def balances(self) -> dict[str, int]:
        return {name: self.accounts.load(name).balance for name in ("ada", "grace")}

    def status(self, transfer_id: str) -> str | None:
        return self.transfers.load(transfer_id).status  # type: ignore[no-any-return]

    def deposits_into_ada(self) -> int:
        return [e.event_type for e in self.store.get_events("ada")].count("MoneyDeposited")


_NO_RECORD_HINT: Final = (
    "In refused: if step.command_id == f'{t}/credit', return [Step(RecordCreditRefused(t, "
    "str(error)), f'{t}/credit-refused')]; the refund itself goes in react, in answer to "
    "TransferCreditRefused."
)
_ID_HINT: Final = (
    "A command id names the step of this transfer, the same on every run: f'{t}/refund' with t "
    "= state.aggregate_id. No uuid4, no clock, and not the id of another step."
)


def _manager(manager_class: object) -> ProcessManager:
    if not (isinstance(manager_class, type) and issubclass(manager_class, TransferProcessBase)):
        raise NotYet(
            f"pass your class itself, a subclass of TransferProcessBase: "
            f"ex2.check(CompensatingTransfer), got {type(manager_class).__name__}",
            mistake="wrong answer type",
        )
    return manager_class()


def _run(
    bank: _Bank, manager: ProcessManager, doing: str, processors: list[Any] | None = None
) -> ProcessRunner:
    try:
        return bank.run(manager, processors)
    except _Crash:
        raise
    except Exception as error:
        raise NotYet(
            f"{doing}, the runner raised {describe_error(error)}", mistake="raised"
        ) from error


def _check_happy_path(manager_class: type[ProcessManager]) -> None:
    bank = _Bank(100, grace_closed=False)
    bank.start("t-1")
    _run(bank, manager_class(), "on the happy path")
    got = (bank.status("t-1"), bank.balances())
    want = ("completed", {"ada": 40, "grace": 60})
    if got != want:
        raise NotYet(
            f"a transfer of 60 from Ada (100) to Grace (open) ended {got}, expected {want}: "
            f"the happy path must still work",
            mistake="happy path broken",
            hint="Pass every other event on to super().react(state, event), and every other "
            "refusal to super().refused(state, step, error).",
        )


def _check_refused_deposit(manager_class: type[ProcessManager]) -> None:
    bank = _Bank(100, grace_closed=True)
    bank.start("t-1")
    runner = _run(bank, manager_class(), "when Grace's account is closed")
    sent = [step for step, _ in runner.sent]
    status, balances = bank.status("t-1"), bank.balances()
    where = (
        f"Grace's account is closed, so the deposit is refused; the transfer ended {status!r} "
        f"with {balances}"
    )
    into_grace = [
        s
        for s in sent
        if isinstance(s.command, DepositMoney)
        and s.command.account_id == "grace"
        and s.command_id != "t-1/credit"
    ]
    if into_grace:
        raise NotYet(
            f"{where}: the compensation sent {into_grace[0].command!r}, into the target; the "
            f"refund goes back to the source, state.source, where the money came from",
            mistake="refunded the target",
            hint="DepositMoney(state.source, state.amount): Ada paid, so Ada is refunded. "
            "Grace's account is closed and never received anything.",
        )
    recorded = any(isinstance(s.command, RecordCreditRefused) for s in sent)
    if not recorded:
        refunded = balances["ada"] == 100
        raise NotYet(
            f"{where}: refused() recorded nothing for the refused deposit"
            + (
                ", so the money came back but the transfer's stream does not say why"
                if refunded
                else ", so nothing reacts to it and Ada's 60 are lost in flight"
            )
            + ": a refusal is not an event, the process manager turns it into one "
            "(RecordCreditRefused)",
            mistake="refusal not recorded",
            hint=_NO_RECORD_HINT,
        )
    refunds = [
        s for s in sent if isinstance(s.command, DepositMoney) and s.command.account_id == "ada"
    ]
    if not refunds:
        raise NotYet(
            f"{where}: the refusal is recorded, but no refund was sent in answer to "
            f"TransferCreditRefused, so Ada's 60 are lost",
            mistake="no refund",
            hint="In react: if event.event_type == 'TransferCreditRefused': return "
            "[Step(DepositMoney(state.source, state.amount), f'{t}/refund')].",
        )
    if refunds[0].command_id.split("/")[-1] in ("debit", "debited"):
        raise NotYet(
            f"{where}: the refund's command id {refunds[0].command_id!r} is the withdrawal's, "
            f"so the processor answered it with the withdrawal it recorded under that id and "
            f"paid nothing back",
            mistake="command id of another step",
            hint=_ID_HINT,
        )
    if (status, balances) != ("refunded", {"ada": 100, "grace": 0}):
        raise NotYet(
            f"{where}, expected 'refunded' with {{'ada': 100, 'grace': 0}}",
            mistake="wrong",
        )


def _check_redelivery(manager_class: type[ProcessManager]) -> None:
    bank = _Bank(100, grace_closed=True)
    bank.start("t-1")
    _run(bank, manager_class(), "when Grace's account is closed")
    for _ in range(2):  # a restarted runner reads the whole log again: everything redelivered
        _run(bank, manager_class(), "on redelivery")
    if bank.deposits_into_ada() > 2 or bank.balances()["ada"] != 100:
        raise NotYet(
            f"run again from position 0 (a restart, or a broker delivering again), the refund "
            f"was paid again: Ada has {bank.balances()['ada']} instead of 100. Its command id "
            f"changes from run to run, so the processor cannot see it is the same step",
            mistake="refund paid twice",
            hint=_ID_HINT,
        )


def _check_crash(manager_class: type[ProcessManager]) -> None:
    bank = _Bank(100, grace_closed=True)
    bank.start("t-1")
    crashing = [_CrashAfterRefund(bank.accounts, "ada"), bank.transfers]
    crashed = False
    try:
        _run(bank, manager_class(), "when Grace's account is closed", crashing)
    except _Crash:
        crashed = True
    if crashed:
        _run(bank, manager_class(), "restarted after a crash")
    got = (bank.status("t-1"), bank.balances()["ada"])
    if got != ("refunded", 100):
        raise NotYet(
            f"the runner died right after paying the refund, before TransferRefunded; "
            f"restarted, the transfer ended {got[0]!r} and Ada has {got[1]} instead of 100: "
            f"the refund sent again must be recognised by its command id",
            mistake="refund paid twice",
            hint=_ID_HINT,
        )


def _check_two_transfers(manager_class: type[ProcessManager]) -> None:
    bank = _Bank(100, grace_closed=True)
    bank.start("t-1", 30)
    bank.start("t-2", 50)
    _run(bank, manager_class(), "with two refused transfers from Ada")
    got = (bank.status("t-1"), bank.status("t-2"), bank.balances()["ada"])
    if got != ("refunded", "refunded", 100):
        raise NotYet(
            f"two transfers from Ada (30 and 50) to Grace's closed account ended {got[0]!r} "
            f"and {got[1]!r}, and Ada has {got[2]} instead of 100: both refunds had the same "
            f"command id, so the second was taken for the first and never paid",
            mistake="command id shared by transfers",
            hint=_ID_HINT,
        )


def _check_refused_withdrawal(manager_class: type[ProcessManager]) -> None:
    bank = _Bank(10, grace_closed=False)
    bank.start("t-1")
    _run(bank, manager_class(), "when Ada has only 10")
    got = (bank.status("t-1"), bank.balances())
    if got[1]["ada"] > 10:
        raise NotYet(
            f"Ada has 10 and the transfer asks 60, so the withdrawal is refused and nothing "
            f"moves; the transfer ended {got[0]!r} and Ada has {got[1]['ada']}: the "
            f"compensation refunded money that never left",
            mistake="compensated a refused withdrawal",
            hint="Compensate only the refused deposit (step.command_id == f'{t}/credit'); "
            "pass every other refusal on to super().refused(...), which records a refused "
            "withdrawal as TransferFailed.",
        )
    if got[0] == "started":
        raise NotYet(
            "Ada has 10 and the transfer asks 60, so the withdrawal is refused; the transfer "
            "is still 'started': your refused() kept the refusal of the withdrawal from "
            "super().refused, which records it as TransferFailed",
            mistake="other refusals swallowed",
            hint="End refused with return super().refused(state, step, error), so every "
            "refusal you do not handle yourself is handled by the base class.",
        )
    if got != ("failed", {"ada": 10, "grace": 0}):
        raise NotYet(
            f"a refused withdrawal (Ada has 10, the transfer asks 60) ended {got}, expected "
            f"('failed', {{'ada': 10, 'grace': 0}})",
            mistake="wrong",
        )


def check_compensation(manager_class: object) -> str:
    checked = type(_manager(manager_class))
    _check_happy_path(checked)
    _check_refused_withdrawal(checked)
    _check_refused_deposit(checked)
    _check_redelivery(checked)
    _check_crash(checked)
    _check_two_transfers(checked)
    return (
        "a refused deposit is recorded and refunded to the source, once: on the happy path, "
        "a refused withdrawal, a redelivery from position 0, a crash between the refund and "
        "its record, and two transfers at once"
    )


ex2 = Exercise(
    "11.2",
    "Finish the transfer's compensation",
    ["CompensatingTransfer"],
    check_compensation,
    [CompensatingTransfer],
    [
        "Two pieces: refused() turns the refused deposit (step.command_id == f'{t}/credit') "
        "into a fact, RecordCreditRefused; react() answers TransferCreditRefused with the "
        "refund.",
        "The refund is Step(DepositMoney(state.source, state.amount), f'{t}/refund'), where "
        "t = state.aggregate_id: back to the source, with a command id that is the same on "
        "every run.",
        "Everything else goes on to super().react(state, event) and super().refused(state, "
        "step, error).",
    ],
)
