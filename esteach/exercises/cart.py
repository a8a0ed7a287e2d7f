"""A shopping cart: the small domain of the exercises on commands and events (notebook 01).

`CartBase` holds the state and decides every command except ``AddItem``; it leaves
``apply_event`` (exercise 1.1) and the decision for ``AddItem`` (exercise 1.2) to the learner.

State: ``customer`` (str), ``items`` (a dict: sku -> quantity) and ``status`` (``None`` until
opened, then ``"open"``, then ``"checked_out"``).

>>> cart = CartBase("cart-1")
>>> cart.handle_command(OpenCart("cart-1", "Ada"))
[CartOpened(cart_id='cart-1', customer='Ada')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from esteach.aggregate import Aggregate
from esteach.commands import Command
from esteach.errors import AggregateNotFound, DomainError, InvalidCommand
from esteach.events import DomainEvent

__all__ = [
    "CHECKED_OUT",
    "MAX_PER_ITEM",
    "OPEN",
    "AddItem",
    "CartAlreadyCheckedOut",
    "CartAlreadyOpen",
    "CartBase",
    "CartCheckedOut",
    "CartCommand",
    "CartNotFound",
    "CartOpened",
    "CartState",
    "CheckOut",
    "EmptyCart",
    "InvalidQuantity",
    "ItemAdded",
    "ItemLimitReached",
    "ItemNotInCart",
    "ItemRemoved",
    "OpenCart",
    "RemoveItem",
    "broken_rule",
    "decide_other_commands",
]

OPEN: Final = "open"
CHECKED_OUT: Final = "checked_out"
MAX_PER_ITEM: Final = 10

# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartCommand(Command):
    id_field = "cart_id"


@dataclass(frozen=True)
class OpenCart(CartCommand):
    cart_id: str
    customer: str


@dataclass(frozen=True)
class AddItem(CartCommand):
    cart_id: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class RemoveItem(CartCommand):
    cart_id: str
    sku: str


@dataclass(frozen=True)
class CheckOut(CartCommand):
    cart_id: str


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartOpened(DomainEvent):
    cart_id: str
    customer: str


@dataclass(frozen=True)
class ItemAdded(DomainEvent):
    sku: str
    quantity: int


@dataclass(frozen=True)
class ItemRemoved(DomainEvent):
    sku: str


@dataclass(frozen=True)
class CartCheckedOut(DomainEvent):
    pass


# --- errors ----------------------------------------------------------------------------------


class CartNotFound(AggregateNotFound):
    """A command for a cart that was never opened."""


class CartAlreadyOpen(DomainError):
    """``OpenCart`` for a cart that is open already."""


class CartAlreadyCheckedOut(DomainError):
    """A change to a cart that has been checked out."""


class InvalidQuantity(DomainError):
    """A quantity below 1 or above `MAX_PER_ITEM`."""


class ItemLimitReached(DomainError):
    """More than `MAX_PER_ITEM` of one sku in a cart."""


class ItemNotInCart(DomainError):
    """``RemoveItem`` for a sku the cart does not hold."""


class EmptyCart(DomainError):
    """``CheckOut`` of a cart with nothing in it."""


# --- the aggregate, less what the exercises ask for ------------------------------------------


class CartBase(Aggregate):
    """A cart's state and its decisions for ``OpenCart``, ``RemoveItem`` and ``CheckOut``.

    Subclasses add ``apply_event`` (exercise 1.1) and the ``AddItem`` decision (exercise 1.2).
    """

    aggregate_type = "Cart"  # the stream's type for every subclass: yours and the reference
    command_types = (CartCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.customer = ""
        self.items: dict[str, int] = {}
        self.status: str | None = None  # None until opened

    @property
    def exists(self) -> bool:
        return self.status is not None

    def handle_command(self, command: Any) -> list[DomainEvent]:
        self.check_target(command)
        if isinstance(command, OpenCart):
            if self.exists:
                raise CartAlreadyOpen(f"cart {self.aggregate_id!r} is open already")
            return [CartOpened(command.cart_id, command.customer)]
        if isinstance(command, AddItem):
            raise NotImplementedError(
                "CartBase leaves AddItem to you (exercise 1.2): decide it in your "
                "handle_command, and pass only the other commands to super().handle_command"
            )
        if not self.exists:
            raise CartNotFound(f"cart {self.aggregate_id!r} does not exist; open it first")
        if self.status == CHECKED_OUT:
            raise CartAlreadyCheckedOut(f"cart {self.aggregate_id!r} is checked out")
        if isinstance(command, RemoveItem):
            if command.sku not in self.items:
                raise ItemNotInCart(f"cart {self.aggregate_id!r} holds no {command.sku!r}")
            return [ItemRemoved(command.sku)]
        if isinstance(command, CheckOut):
            if not self.items:
                raise EmptyCart(f"cart {self.aggregate_id!r} is empty; add an item first")
            return [CartCheckedOut()]
        raise InvalidCommand(f"a cart does not handle {type(command).__name__}")

    def apply_event(self, event: Any) -> None:
        raise NotImplementedError(
            "CartBase leaves apply_event to you (exercise 1.1): define it in your Cart class"
        )


# --- the same cart as a decider (notebook 11's exercise 11.1) ----------------------------------


@dataclass(frozen=True)
class CartState:
    """A cart's state as a value, for the decider: ``evolve`` returns a new one every time.

    ``items`` is a mapping, sku -> quantity; the state is frozen, so ``evolve`` makes a new dict
    rather than changing the one it was given (the old state may still be in use).
    """

    customer: str = ""
    items: Mapping[str, int] = field(default_factory=dict)
    status: str | None = None  # None until opened, then "open", then "checked_out"


def decide_other_commands(command: Any, state: CartState) -> list[DomainEvent]:
    """The decider's rules for every command but ``AddItem`` (left to exercise 11.1).

    The same rules as `CartBase.handle_command`, as a function of the state.
    """
    cart_id = getattr(command, "cart_id", "?")
    if isinstance(command, OpenCart):
        if state.status is not None:
            raise CartAlreadyOpen(f"cart {cart_id!r} is open already")
        return [CartOpened(command.cart_id, command.customer)]
    if isinstance(command, AddItem):
        raise NotImplementedError(
            "decide_other_commands leaves AddItem to you (exercise 11.1): decide it in your "
            "decide, and pass only the other commands on"
        )
    if state.status is None:
        raise CartNotFound(f"cart {cart_id!r} does not exist; open it first")
    if state.status == CHECKED_OUT:
        raise CartAlreadyCheckedOut(f"cart {cart_id!r} is checked out")
    if isinstance(command, RemoveItem):
        if command.sku not in state.items:
            raise ItemNotInCart(f"cart {cart_id!r} holds no {command.sku!r}")
        return [ItemRemoved(command.sku)]
    if isinstance(command, CheckOut):
        if not state.items:
            raise EmptyCart(f"cart {cart_id!r} is empty; add an item first")
        return [CartCheckedOut()]
    raise InvalidCommand(f"a cart does not handle {type(command).__name__}")


def broken_rule(items: Mapping[str, int], status: str | None, event: DomainEvent) -> str:
    """What about a cart (its ``items`` and ``status``) made an old release's ``event`` break
    today's rules, in words for a checker's message; "" when nothing did."""
    if isinstance(event, ItemRemoved) and event.sku not in items:
        return f"for a sku the cart does not hold ({event.sku!r})"
    if isinstance(event, ItemAdded) and status == CHECKED_OUT:
        return "to a checked-out cart"
    if isinstance(event, ItemAdded) and items.get(event.sku, 0) + event.quantity > MAX_PER_ITEM:
        return f"beyond {MAX_PER_ITEM} {event.sku!r}"
    return ""
