"""The functional decider: an aggregate written as three pure functions instead of a class.

* ``decide(command, state) -> list[DomainEvent]``: the decision (raise a `DomainError` to refuse);
* ``evolve(state, event) -> state``: the next state after one event, a new value;
* ``initial_state``: the state before the first event.

An aggregate made from a decider keeps its state in ``aggregate.current``.

That is all an aggregate is; `Aggregate` keeps the same two functions as methods over mutable
attributes. A `Decider` runs through the same `CommandProcessor`, `Repository`, stores,
snapshots, time travel and ``given / when / then`` as a class does: ``Decider.aggregate_class``
turns it into one, and everything that takes an aggregate class takes a decider too.

>>> from esteach.domains.deciders import bank_account
>>> from esteach.domains.account import DepositMoney, MoneyDeposited
>>> state = bank_account.evolve(bank_account.initial_state, MoneyDeposited(500))
>>> state
AccountState(owner='', balance=500, overdraft_limit=0, status=None)
>>> bank_account.decide(DepositMoney("acc-1", 250), state)  # never opened: refused
Traceback (most recent call last):
esteach.domains.account.AccountNotFound: account 'acc-1' does not exist; open it with ...
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from esteach.aggregate import Aggregate
from esteach.commands import Command
from esteach.errors import InvalidInput
from esteach.events import DomainEvent, EventRegistry, registry
from esteach.jsondata import ensure_json_data

__all__ = ["Decider", "aggregate_class_of"]

S = TypeVar("S")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


@dataclass(frozen=True)
class Decider(Generic[S]):
    """An aggregate as three pure functions. ``name`` is its ``aggregate_type`` in the log.

    Give a decider the same ``name`` as a class-based aggregate and both read and write the
    same streams. ``command_types`` lets ``given(...)`` find it for a command, as for a class.
    A state that is a dataclass or JSON data can be kept in snapshots.
    """

    name: str
    initial_state: S
    decide: Callable[[Any, S], Sequence[DomainEvent]]
    evolve: Callable[[S, Any], S]
    command_types: tuple[type[Command], ...] = ()
    events: EventRegistry = field(default=registry, repr=False)
    snapshot_version: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InvalidInput(
                f"a Decider's name is its aggregate type in the log, such as 'BankAccount' "
                f"(letters, digits and _), got {self.name!r:.60}"
            )
        for part in ("decide", "evolve"):
            if not callable(getattr(self, part)):
                raise InvalidInput(f"a Decider's {part} must be a function, got {part!r}")

    def __repr__(self) -> str:
        return (
            f"Decider({self.name!r}, initial_state={self.initial_state!r}, "
            f"decide={_name(self.decide)}, evolve={_name(self.evolve)})"
        )

    @functools.cached_property
    def aggregate_class(self) -> type[Aggregate]:
        """An `Aggregate` class that runs this decider: what processors and repositories use."""
        return _aggregate_class(self)


def aggregate_class_of(model: type[Aggregate] | Decider[Any]) -> type[Aggregate]:
    """The aggregate class of ``model``: itself if it is one, its class if it is a decider."""
    if isinstance(model, Decider):
        return model.aggregate_class
    if isinstance(model, type) and issubclass(model, Aggregate):
        return model
    raise InvalidInput(
        f"expected an Aggregate subclass (such as User) or a Decider, got {model!r:.80}"
    )


def _aggregate_class(decider: Decider[Any]) -> type[Aggregate]:
    initial = decider.initial_state

    class DeciderAggregate(Aggregate):
        _decider = decider  # marks a class made from a decider (given() looks for classes)
        aggregate_type = decider.name
        events = decider.events
        command_types = decider.command_types
        snapshot_version = decider.snapshot_version

        def __init__(self, aggregate_id: str) -> None:
            super().__init__(aggregate_id)
            self.current = copy.deepcopy(initial)  # one decider, many aggregates: share nothing

        def handle_command(self, command: Any) -> list[DomainEvent]:
            return list(decider.decide(command, self.current))

        def apply_event(self, event: Any) -> None:
            self.current = decider.evolve(self.current, event)

        def to_snapshot(self) -> dict[str, Any]:
            current: Any = self.current
            if dataclasses.is_dataclass(current) and not isinstance(current, type):
                current = dataclasses.asdict(current)
            return ensure_json_data({"current": current}, f"{decider.name} snapshot state")

        @classmethod
        def from_snapshot(
            cls, aggregate_id: str, version: int, state: dict[str, Any]
        ) -> DeciderAggregate:
            aggregate = super().from_snapshot(aggregate_id, version, state)
            if dataclasses.is_dataclass(initial) and not isinstance(initial, type):
                aggregate.current = type(initial)(**aggregate.current)
            return aggregate

    DeciderAggregate.__name__ = DeciderAggregate.__qualname__ = decider.name
    DeciderAggregate.__module__ = getattr(decider.decide, "__module__", __name__)
    # Event names are resolved by the modules of the decider's functions, as for a class.
    DeciderAggregate._event_modules = tuple(
        dict.fromkeys(getattr(f, "__module__", "") for f in (decider.decide, decider.evolve))
    )
    return DeciderAggregate


def _name(function: object) -> str:
    return str(getattr(function, "__qualname__", None) or repr(function))
