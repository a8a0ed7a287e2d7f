"""A bank account: the second example domain, for exercises and a second read model.

Money is counted in **integer cents** (``amount=1050`` is 10.50). Floats cannot hold 0.10
exactly, so sums of float amounts drift (``0.1 + 0.2 != 0.3``) and a replay could disagree with
the balance a user was shown; integers add exactly, compare exactly and survive a JSON round
trip unchanged. The command classes declare ``int``, so ``DepositMoney("acc-1", 10.5)`` is
rejected as an `InvalidCommand` before any rule runs.

Rules, in the order they are checked:

1. Every command is for this account: a command whose ``account_id`` is another account's is
   a wiring mistake, refused with `InvalidCommand`.
2. ``OpenAccount``: the account must not be open already (`AccountAlreadyOpen`) nor
   closed (`AccountIsClosed`: a closed account is not reopened, open a new one); the
   owner must not be blank (`InvalidOwner`); the overdraft limit must be between 0 and
   `MAX_AMOUNT` (`InvalidAmount`).
3. Every other command: the account must exist (`AccountNotFound`) and not be closed
   (`AccountIsClosed`).
4. ``DepositMoney`` / ``WithdrawMoney``: the amount must be positive and at most
   `MAX_AMOUNT` (`InvalidAmount`).
5. ``WithdrawMoney``: the balance after the withdrawal must not go below minus the overdraft
   limit (`InsufficientFunds`).
6. ``CloseAccount``: the balance must be exactly zero (`BalanceNotZero`).

>>> from esteach import given
>>> given(AccountOpened("acc-1", "Ada", 0), MoneyDeposited(500)).when(
...     WithdrawMoney("acc-1", 200)
... ).then(MoneyWithdrawn(200))
Scenario(BankAccount 'acc-1': given 2 events, when WithdrawMoney, then 1 event)
"""

from __future__ import annotations

from dataclasses import dataclass

from esteach.aggregate import Aggregate
from esteach.commands import Command
from esteach.errors import AggregateNotFound, DomainError, InvalidCommand
from esteach.events import DomainEvent

__all__ = [
    "CLOSED",
    "MAX_AMOUNT",
    "OPEN",
    "AccountAlreadyOpen",
    "AccountClosed",
    "AccountCommand",
    "AccountIsClosed",
    "AccountNotFound",
    "AccountOpened",
    "BalanceNotZero",
    "BankAccount",
    "CloseAccount",
    "DepositMoney",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidOwner",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "OpenAccount",
    "WithdrawMoney",
]

OPEN = "open"
CLOSED = "closed"
MAX_AMOUNT = 10**12
"""The largest amount (and overdraft limit) in cents: 10 billion, far from any integer limit."""

# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountCommand(Command):
    id_field = "account_id"


@dataclass(frozen=True)
class OpenAccount(AccountCommand):
    account_id: str
    owner: str
    overdraft_limit: int = 0  # cents the balance may go below zero


@dataclass(frozen=True)
class DepositMoney(AccountCommand):
    account_id: str
    amount: int  # cents


@dataclass(frozen=True)
class WithdrawMoney(AccountCommand):
    account_id: str
    amount: int  # cents


@dataclass(frozen=True)
class CloseAccount(AccountCommand):
    account_id: str


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountOpened(DomainEvent):
    account_id: str
    owner: str
    overdraft_limit: int


@dataclass(frozen=True)
class MoneyDeposited(DomainEvent):
    amount: int


@dataclass(frozen=True)
class MoneyWithdrawn(DomainEvent):
    amount: int


@dataclass(frozen=True)
class AccountClosed(DomainEvent):
    pass


# --- errors ----------------------------------------------------------------------------------


class AccountNotFound(AggregateNotFound):
    """A command for an account id that was never opened."""


class AccountAlreadyOpen(DomainError):
    """``OpenAccount`` for an id that is already open."""


class AccountIsClosed(DomainError):
    """A command for an account that has been closed."""


class InsufficientFunds(DomainError):
    """A withdrawal that would take the balance below minus the overdraft limit."""


class InvalidAmount(DomainError):
    """A non-positive or too large amount, or an overdraft limit out of range."""


class InvalidOwner(DomainError):
    """A blank owner name."""


class BalanceNotZero(DomainError):
    """``CloseAccount`` while money is still in the account, or owed to it."""


def _check_amount(amount: int) -> int:
    if amount <= 0:
        raise InvalidAmount(f"an amount must be a positive number of cents, got {amount}")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"an amount is at most {MAX_AMOUNT} cents, got {amount}")
    return amount


# --- the aggregate ---------------------------------------------------------------------------


class BankAccount(Aggregate):
    """A bank account: opened once, takes deposits and withdrawals, closed at balance zero.

    >>> account = BankAccount("acc-1")
    >>> account.handle_command(OpenAccount("acc-1", "Ada", overdraft_limit=10_000))
    [AccountOpened(account_id='acc-1', owner='Ada', overdraft_limit=10000)]
    """

    command_types = (AccountCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.owner = ""
        self.balance = 0  # cents; negative while overdrawn
        self.overdraft_limit = 0  # cents
        self.status: str | None = None  # None until opened

    @property
    def exists(self) -> bool:
        # From state apply_event sets, so an account built by hand with apply_event exists too.
        return self.status is not None

    def handle_command(self, command: AccountCommand) -> list[DomainEvent]:
        self.check_target(command)
        if isinstance(command, OpenAccount):
            return [self._open(command)]
        self._require_open()
        if isinstance(command, DepositMoney):
            return [MoneyDeposited(_check_amount(command.amount))]
        if isinstance(command, WithdrawMoney):
            amount = _check_amount(command.amount)
            if self.balance - amount < -self.overdraft_limit:
                raise InsufficientFunds(
                    f"account {self.aggregate_id!r} cannot pay out {amount} cents: the balance "
                    f"is {self.balance} cents and the overdraft limit {self.overdraft_limit} "
                    f"cents, so at most {self.balance + self.overdraft_limit} cents can be "
                    f"withdrawn"
                )
            return [MoneyWithdrawn(amount)]
        if isinstance(command, CloseAccount):
            if self.balance != 0:
                raise BalanceNotZero(
                    f"account {self.aggregate_id!r} has a balance of {self.balance} cents; "
                    f"withdraw or deposit until it is 0, then close it"
                )
            return [AccountClosed()]
        raise InvalidCommand(f"BankAccount does not handle {type(command).__name__}")

    def apply_event(self, event: DomainEvent) -> None:
        if isinstance(event, AccountOpened):
            self.owner, self.overdraft_limit, self.status = (
                event.owner,
                event.overdraft_limit,
                OPEN,
            )
        elif isinstance(event, MoneyDeposited):
            self.balance += event.amount
        elif isinstance(event, MoneyWithdrawn):
            self.balance -= event.amount
        elif isinstance(event, AccountClosed):
            self.status = CLOSED
        else:
            raise DomainError(f"BankAccount cannot apply {type(event).__name__}")

    def _open(self, command: OpenAccount) -> AccountOpened:
        if self.status == CLOSED:
            raise AccountIsClosed(
                f"account {self.aggregate_id!r} was closed; a closed account is not reopened, "
                f"open a new account with a new id"
            )
        if self.exists:
            raise AccountAlreadyOpen(f"account {self.aggregate_id!r} is already open")
        if not command.owner.strip():
            raise InvalidOwner("an account's owner must not be blank")
        limit = command.overdraft_limit
        if not 0 <= limit <= MAX_AMOUNT:
            raise InvalidAmount(
                f"an overdraft limit is between 0 and {MAX_AMOUNT} cents, got {limit}"
            )
        return AccountOpened(command.account_id, command.owner, limit)

    def _require_open(self) -> None:
        if not self.exists:
            raise AccountNotFound(
                f"account {self.aggregate_id!r} does not exist; open it with OpenAccount first"
            )
        if self.status == CLOSED:
            raise AccountIsClosed(
                f"account {self.aggregate_id!r} is closed; a closed account takes no deposits "
                f"or withdrawals"
            )
