"""The ``User`` aggregate of the reference design, with its flaws fixed.

* The caller chooses the user's id: ``CreateUser(user_id="u-1", ...)``.
* A command on a user that was never created raises `UserNotFound`.
* Emails are validated, and changing a value to what it already is records nothing.
* Old ``UserRegistered`` events are read as ``UserCreated`` (an upcaster, below).

Rules, in the order they are checked:

1. ``CreateUser``: the user must not exist; the email must be valid; the name must not be blank.
2. ``ChangeEmail`` / ``ChangeName``: the user must exist and be active; the new value must be
   valid; the same value again records no event.
3. ``DeactivateUser``: the user must exist and not be deactivated already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from esteach.aggregate import Aggregate
from esteach.commands import Command
from esteach.errors import AggregateNotFound, DomainError, InvalidCommand
from esteach.events import DomainEvent, registry

__all__ = [
    "ACTIVE",
    "DEACTIVATED",
    "ChangeEmail",
    "ChangeName",
    "CreateUser",
    "DeactivateUser",
    "InvalidEmail",
    "InvalidName",
    "User",
    "UserAlreadyDeactivated",
    "UserAlreadyExists",
    "UserCommand",
    "UserCreated",
    "UserDeactivated",
    "UserEmailChanged",
    "UserNameChanged",
    "UserNotActive",
    "UserNotFound",
    "user_registered_to_user_created",
]

ACTIVE = "active"
DEACTIVATED = "deactivated"
MAX_NAME_LENGTH = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserCommand(Command):
    id_field = "user_id"


@dataclass(frozen=True)
class CreateUser(UserCommand):
    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class ChangeEmail(UserCommand):
    user_id: str
    new_email: str


@dataclass(frozen=True)
class ChangeName(UserCommand):
    user_id: str
    new_name: str


@dataclass(frozen=True)
class DeactivateUser(UserCommand):
    user_id: str


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserCreated(DomainEvent):
    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class UserEmailChanged(DomainEvent):
    new_email: str


@dataclass(frozen=True)
class UserNameChanged(DomainEvent):
    new_name: str


@dataclass(frozen=True)
class UserDeactivated(DomainEvent):
    pass


# The first release recorded sign-ups as ``UserRegistered`` with the reference design's ``id``
# and a ``full_name``; the sample log in data/ still holds such events. They are read as the
# ``UserCreated`` of today: the stored events stay as they were written.
@registry.upcaster("UserRegistered", from_version=1, to_event_type="UserCreated", to_version=1)
def user_registered_to_user_created(data: dict[str, Any]) -> dict[str, Any]:
    """``UserRegistered {id, email, full_name}`` to ``UserCreated {user_id, email, name}``."""
    return {"user_id": data["id"], "email": data["email"], "name": data["full_name"]}


# --- errors ----------------------------------------------------------------------------------


class UserAlreadyExists(DomainError):
    """``CreateUser`` for an id that is already taken."""


class UserNotFound(AggregateNotFound):
    """A command for a user id that was never created."""


class UserNotActive(DomainError):
    """A change to a deactivated user."""


class UserAlreadyDeactivated(DomainError):
    """``DeactivateUser`` for a user who is already deactivated."""


class InvalidEmail(DomainError):
    """An email address without the shape ``name@domain.tld``."""


class InvalidName(DomainError):
    """A blank or overly long name."""


def _check_email(email: str) -> str:
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise InvalidEmail(f"{email!r} is not a valid email address (expected name@domain.tld)")
    return email


def _check_name(name: str) -> str:
    if not name.strip():
        raise InvalidName("a user's name must not be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"a user's name is at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    return name


# --- the aggregate ---------------------------------------------------------------------------


class User(Aggregate):
    """A user: created once, may change email and name while active, deactivated once.

    >>> user = User("u-1")
    >>> user.handle_command(CreateUser("u-1", "ada@example.com", "Ada"))
    [UserCreated(user_id='u-1', email='ada@example.com', name='Ada')]
    """

    command_types = (UserCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.email = ""
        self.name = ""
        self.status: str | None = None  # None until created

    def handle_command(self, command: UserCommand) -> list[DomainEvent]:
        self.check_target(command)
        if isinstance(command, CreateUser):
            if self.exists:
                raise UserAlreadyExists(f"user {self.aggregate_id!r} already exists")
            return [
                UserCreated(command.user_id, _check_email(command.email), _check_name(command.name))
            ]
        self._require_existing()
        if isinstance(command, DeactivateUser):
            if self.status == DEACTIVATED:
                raise UserAlreadyDeactivated(f"user {self.aggregate_id!r} is already deactivated")
            return [UserDeactivated()]
        if self.status != ACTIVE:
            raise UserNotActive(
                f"user {self.aggregate_id!r} is deactivated; a deactivated user cannot change"
            )
        if isinstance(command, ChangeEmail):
            new_email = _check_email(command.new_email)
            return [] if new_email == self.email else [UserEmailChanged(new_email)]
        if isinstance(command, ChangeName):
            new_name = _check_name(command.new_name)
            return [] if new_name == self.name else [UserNameChanged(new_name)]
        raise InvalidCommand(f"User does not handle {type(command).__name__}")

    def apply_event(self, event: DomainEvent) -> None:
        if isinstance(event, UserCreated):
            self.email, self.name, self.status = event.email, event.name, ACTIVE
        elif isinstance(event, UserEmailChanged):
            self.email = event.new_email
        elif isinstance(event, UserNameChanged):
            self.name = event.new_name
        elif isinstance(event, UserDeactivated):
            self.status = DEACTIVATED
        else:
            raise DomainError(f"User cannot apply {type(event).__name__}")

    @property
    def exists(self) -> bool:
        # From state apply_event sets, so a user built by hand with apply_event exists too.
        return self.status is not None

    def _require_existing(self) -> None:
        if not self.exists:
            raise UserNotFound(
                f"user {self.aggregate_id!r} does not exist; create it with CreateUser first"
            )
