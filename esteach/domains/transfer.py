"""A money transfer between two bank accounts: a process with its own stream, and its manager.

The `Transfer` aggregate records how far a transfer got; `TransferProcess` decides what to
do next from each event:

1. ``TransferStarted`` -> withdraw the amount from the source account (step ``"{t}/debit"``);
   refused (no funds, a closed account) -> ``TransferFailed``, nothing moved;
2. the source's ``MoneyWithdrawn`` for this transfer -> ``TransferDebited``;
3. ``TransferDebited`` -> deposit into the target account (step ``"{t}/credit"``);
4. the target's ``MoneyDeposited`` for this transfer -> ``TransferCompleted``;
5. the deposit refused (the target is closed) -> ``TransferCreditRefused``, then the
   compensation: deposit the money back into the source (step ``"{t}/refund"``), and its
   ``MoneyDeposited`` -> ``TransferRefunded``.

>>> from esteach import CommandProcessor, InMemoryEventStore
>>> from esteach.domains.account import BankAccount, DepositMoney, OpenAccount
>>> from esteach.processes import ProcessRunner
>>> store = InMemoryEventStore()
>>> accounts = CommandProcessor(store, BankAccount)
>>> for command in (OpenAccount("a", "Ada"), OpenAccount("b", "Grace"), DepositMoney("a", 100)):
...     _ = accounts.process_command(command)
>>> transfers = CommandProcessor(store, Transfer)
>>> _ = transfers.process_command(StartTransfer("t-1", "a", "b", 60))
>>> _ = ProcessRunner(store, TransferProcess(), [accounts, transfers]).run_until_idle()
>>> transfers.load("t-1").status, accounts.load("a").balance, accounts.load("b").balance
('completed', 40, 60)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esteach.aggregate import Aggregate
from esteach.commands import Command
from esteach.domains.account import (
    DepositMoney,
    InvalidAmount,
    MoneyDeposited,
    MoneyWithdrawn,
    WithdrawMoney,
)
from esteach.errors import DomainError, InvalidCommand
from esteach.events import DomainEvent, Event
from esteach.processes import ProcessManager, Step

__all__ = [
    "RecordCredit",
    "RecordCreditRefused",
    "RecordDebit",
    "RecordDebitRefused",
    "RecordRefund",
    "StartTransfer",
    "Transfer",
    "TransferCompleted",
    "TransferCreditRefused",
    "TransferDebited",
    "TransferFailed",
    "TransferProcess",
    "TransferRefunded",
    "TransferStarted",
]

STARTED, DEBITED, COMPLETED = "started", "debited", "completed"
FAILED, CREDIT_REFUSED, REFUNDED = "failed", "credit refused", "refunded"

# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferCommand(Command):
    id_field = "transfer_id"


@dataclass(frozen=True)
class StartTransfer(TransferCommand):
    transfer_id: str
    source: str
    target: str
    amount: int  # cents


@dataclass(frozen=True)
class RecordDebit(TransferCommand):
    transfer_id: str


@dataclass(frozen=True)
class RecordDebitRefused(TransferCommand):
    transfer_id: str
    reason: str


@dataclass(frozen=True)
class RecordCredit(TransferCommand):
    transfer_id: str


@dataclass(frozen=True)
class RecordCreditRefused(TransferCommand):
    transfer_id: str
    reason: str


@dataclass(frozen=True)
class RecordRefund(TransferCommand):
    transfer_id: str


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferStarted(DomainEvent):
    source: str
    target: str
    amount: int


@dataclass(frozen=True)
class TransferDebited(DomainEvent):
    pass


@dataclass(frozen=True)
class TransferFailed(DomainEvent):
    reason: str


@dataclass(frozen=True)
class TransferCompleted(DomainEvent):
    pass


@dataclass(frozen=True)
class TransferCreditRefused(DomainEvent):
    reason: str


@dataclass(frozen=True)
class TransferRefunded(DomainEvent):
    pass


class TransferStepOutOfOrder(DomainError):
    """A step recorded for a transfer that is not at the step before it."""


# --- the process's own state ------------------------------------------------------------------

_NEXT = {  # which recording command each status accepts, and the status it leads to
    RecordDebit: (STARTED, TransferDebited),
    RecordDebitRefused: (STARTED, TransferFailed),
    RecordCredit: (DEBITED, TransferCompleted),
    RecordCreditRefused: (DEBITED, TransferCreditRefused),
    RecordRefund: (CREDIT_REFUSED, TransferRefunded),
}


class Transfer(Aggregate):
    """How far one transfer got: started, debited, then completed or refunded (or failed)."""

    command_types = (TransferCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.source = ""
        self.target = ""
        self.amount = 0
        self.status: str | None = None  # None until started
        self.reason = ""

    def handle_command(self, command: TransferCommand) -> list[DomainEvent]:
        self.check_target(command)
        if isinstance(command, StartTransfer):
            if self.status is not None:
                raise DomainError(f"transfer {self.aggregate_id!r} was started already")
            if command.amount <= 0:
                raise InvalidAmount(f"a transfer moves a positive amount, got {command.amount}")
            if command.source == command.target:
                raise DomainError("a transfer needs two different accounts")
            return [TransferStarted(command.source, command.target, command.amount)]
        step = _NEXT.get(type(command))
        if step is None:
            raise InvalidCommand(f"Transfer does not handle {type(command).__name__}")
        wanted, event = step
        if self.status != wanted:
            raise TransferStepOutOfOrder(
                f"transfer {self.aggregate_id!r} is {self.status or 'not started'}, so it cannot "
                f"record {type(command).__name__}"
            )
        reason = getattr(command, "reason", None)
        return [event(reason) if reason is not None else event()]

    def apply_event(self, event: DomainEvent) -> None:
        if isinstance(event, TransferStarted):
            self.source, self.target, self.amount = event.source, event.target, event.amount
            self.status = STARTED
        elif isinstance(event, TransferDebited):
            self.status = DEBITED
        elif isinstance(event, TransferFailed):
            self.status, self.reason = FAILED, event.reason
        elif isinstance(event, TransferCompleted):
            self.status = COMPLETED
        elif isinstance(event, TransferCreditRefused):
            self.status, self.reason = CREDIT_REFUSED, event.reason
        elif isinstance(event, TransferRefunded):
            self.status = REFUNDED
        else:
            raise DomainError(f"Transfer cannot apply {type(event).__name__}")


# --- the process manager ------------------------------------------------------------------------


class TransferProcess(ProcessManager):
    """Moves the money of each transfer, step by step, and refunds a refused deposit."""

    process = Transfer

    def react(self, state: Any, event: Event) -> list[Step]:
        transfer: Transfer = state
        t = transfer.aggregate_id
        kind = event.event_type
        if kind == "TransferStarted":
            return [Step(WithdrawMoney(transfer.source, transfer.amount), f"{t}/debit")]
        if kind == "TransferDebited":
            return [Step(DepositMoney(transfer.target, transfer.amount), f"{t}/credit")]
        if kind == "TransferCreditRefused":  # compensation: the money goes back
            return [Step(DepositMoney(transfer.source, transfer.amount), f"{t}/refund")]
        account = event.aggregate_id
        if kind == MoneyWithdrawn.event_type and account == transfer.source:
            return [Step(RecordDebit(t), f"{t}/debited")]
        if kind == MoneyDeposited.event_type and account == transfer.target:
            return [Step(RecordCredit(t), f"{t}/completed")]
        if kind == MoneyDeposited.event_type and account == transfer.source:
            return [Step(RecordRefund(t), f"{t}/refunded")]
        return []

    def refused(self, state: Any, step: Step, error: DomainError) -> list[Step]:
        t = state.aggregate_id
        if step.command_id == f"{t}/debit":
            return [Step(RecordDebitRefused(t, str(error)), f"{t}/failed")]
        if step.command_id == f"{t}/credit":
            return [Step(RecordCreditRefused(t, str(error)), f"{t}/credit-refused")]
        return []
