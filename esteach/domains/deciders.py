"""``User`` and ``BankAccount`` again, as deciders: three pure functions each.

The commands, events, errors and rules are those of `esteach.domains.user` and
`esteach.domains.account`; only the style differs. State is an immutable value that
``evolve`` replaces, never changes. Each decider has the ``name`` of its class-based twin, so
both read and write the same streams: a user created through the class is changed through
the decider, and the other way round.

>>> from esteach import CommandProcessor, InMemoryEventStore
>>> from esteach.domains.account import DepositMoney, OpenAccount
>>> accounts = CommandProcessor(InMemoryEventStore(), bank_account)
>>> _ = accounts.process_command(OpenAccount("acc-1", "Ada"))
>>> accounts.process_command(DepositMoney("acc-1", 500)).version
2
>>> accounts.load("acc-1").current
AccountState(owner='Ada', balance=500, overdraft_limit=0, status='open')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from esteach.decider import Decider
from esteach.domains.account import (
    CLOSED,
    MAX_AMOUNT,
    OPEN,
    AccountAlreadyOpen,
    AccountClosed,
    AccountCommand,
    AccountIsClosed,
    AccountNotFound,
    AccountOpened,
    BalanceNotZero,
    CloseAccount,
    DepositMoney,
    InsufficientFunds,
    InvalidAmount,
    InvalidOwner,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
    _check_amount,
)
from esteach.domains.user import (
    ACTIVE,
    DEACTIVATED,
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    UserAlreadyDeactivated,
    UserAlreadyExists,
    UserCommand,
    UserCreated,
    UserDeactivated,
    UserEmailChanged,
    UserNameChanged,
    UserNotActive,
    UserNotFound,
    _check_email,
    _check_name,
)
from esteach.errors import DomainError, InvalidCommand
from esteach.events import DomainEvent

__all__ = ["AccountState", "UserState", "bank_account", "user"]


# --- the user ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserState:
    email: str = ""
    name: str = ""
    status: str | None = None  # None until created


def decide_user(command: UserCommand, state: UserState) -> list[DomainEvent]:
    """The rules of `esteach.domains.user.User.handle_command`, as a function of the state."""
    user_id = command.target_id
    if isinstance(command, CreateUser):
        if state.status is not None:
            raise UserAlreadyExists(f"user {user_id!r} already exists")
        return [UserCreated(user_id, _check_email(command.email), _check_name(command.name))]
    if state.status is None:
        raise UserNotFound(f"user {user_id!r} does not exist; create it with CreateUser first")
    if isinstance(command, DeactivateUser):
        if state.status == DEACTIVATED:
            raise UserAlreadyDeactivated(f"user {user_id!r} is already deactivated")
        return [UserDeactivated()]
    if state.status != ACTIVE:
        raise UserNotActive(f"user {user_id!r} is deactivated; a deactivated user cannot change")
    if isinstance(command, ChangeEmail):
        new_email = _check_email(command.new_email)
        return [] if new_email == state.email else [UserEmailChanged(new_email)]
    if isinstance(command, ChangeName):
        new_name = _check_name(command.new_name)
        return [] if new_name == state.name else [UserNameChanged(new_name)]
    raise InvalidCommand(f"User does not handle {type(command).__name__}")


def evolve_user(state: UserState, event: DomainEvent) -> UserState:
    """The state after one event: a new value; the old one is left as it was."""
    if isinstance(event, UserCreated):
        return UserState(event.email, event.name, ACTIVE)
    if isinstance(event, UserEmailChanged):
        return dataclasses.replace(state, email=event.new_email)
    if isinstance(event, UserNameChanged):
        return dataclasses.replace(state, name=event.new_name)
    if isinstance(event, UserDeactivated):
        return dataclasses.replace(state, status=DEACTIVATED)
    raise DomainError(f"User cannot apply {type(event).__name__}")


user: Decider[UserState] = Decider(
    "User", UserState(), decide_user, evolve_user, command_types=(UserCommand,)
)
"""The `User` aggregate as a decider: the same streams, the same rules."""


# --- the bank account -------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountState:
    owner: str = ""
    balance: int = 0  # cents; negative while overdrawn
    overdraft_limit: int = 0  # cents
    status: str | None = None  # None until opened


def decide_account(command: AccountCommand, state: AccountState) -> list[DomainEvent]:
    """The rules of `esteach.domains.account.BankAccount`, as a function of the state."""
    account_id = command.target_id
    if isinstance(command, OpenAccount):
        if state.status == CLOSED:
            raise AccountIsClosed(
                f"account {account_id!r} was closed; a closed account is not reopened, open a "
                f"new account with a new id"
            )
        if state.status is not None:
            raise AccountAlreadyOpen(f"account {account_id!r} is already open")
        if not command.owner.strip():
            raise InvalidOwner("an account's owner must not be blank")
        if not 0 <= command.overdraft_limit <= MAX_AMOUNT:
            raise InvalidAmount(
                f"an overdraft limit is between 0 and {MAX_AMOUNT} cents, got "
                f"{command.overdraft_limit}"
            )
        return [AccountOpened(account_id, command.owner, command.overdraft_limit)]
    if state.status is None:
        raise AccountNotFound(
            f"account {account_id!r} does not exist; open it with OpenAccount first"
        )
    if state.status == CLOSED:
        raise AccountIsClosed(
            f"account {account_id!r} is closed; a closed account takes no deposits or withdrawals"
        )
    if isinstance(command, DepositMoney):
        return [MoneyDeposited(_check_amount(command.amount))]
    if isinstance(command, WithdrawMoney):
        amount = _check_amount(command.amount)
        if state.balance - amount < -state.overdraft_limit:
            raise InsufficientFunds(
                f"account {account_id!r} cannot pay out {amount} cents: the balance is "
                f"{state.balance} cents and the overdraft limit {state.overdraft_limit} cents, "
                f"so at most {state.balance + state.overdraft_limit} cents can be withdrawn"
            )
        return [MoneyWithdrawn(amount)]
    if isinstance(command, CloseAccount):
        if state.balance != 0:
            raise BalanceNotZero(
                f"account {account_id!r} has a balance of {state.balance} cents; withdraw or "
                f"deposit until it is 0, then close it"
            )
        return [AccountClosed()]
    raise InvalidCommand(f"BankAccount does not handle {type(command).__name__}")


def evolve_account(state: AccountState, event: DomainEvent) -> AccountState:
    """The state after one event: a new value; the old one is left as it was."""
    if isinstance(event, AccountOpened):
        return AccountState(event.owner, state.balance, event.overdraft_limit, OPEN)
    if isinstance(event, MoneyDeposited):
        return dataclasses.replace(state, balance=state.balance + event.amount)
    if isinstance(event, MoneyWithdrawn):
        return dataclasses.replace(state, balance=state.balance - event.amount)
    if isinstance(event, AccountClosed):
        return dataclasses.replace(state, status=CLOSED)
    raise DomainError(f"BankAccount cannot apply {type(event).__name__}")


bank_account: Decider[AccountState] = Decider(
    "BankAccount",
    AccountState(),
    decide_account,
    evolve_account,
    command_types=(AccountCommand,),
)
"""The `BankAccount` aggregate as a decider: the same streams, the same rules."""
