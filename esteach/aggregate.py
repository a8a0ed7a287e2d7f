"""The ``Aggregate`` base: decide in ``handle_command``, change in ``apply_event``.

An aggregate never changes its own state while deciding. ``handle_command`` looks at the
current state and returns the domain events that *should* happen (or raises a
`DomainError`); only ``apply_event`` changes state, and only from an
event. Both are pure: no I/O, no clock, no random numbers. That is what makes replay work: the
same events always rebuild the same state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from esteach.checks import check_aggregate_id
from esteach.commands import Command
from esteach.errors import EventsOutOfOrder, InvalidCommand, InvalidInput
from esteach.events import DomainEvent, Event, EventRegistry, registry
from esteach.jsondata import ensure_json_data

__all__ = ["Aggregate"]

A = TypeVar("A", bound="Aggregate")


class Aggregate(ABC):
    """Base class of aggregates: a consistency boundary rebuilt from its own events.

    Subclasses implement `handle_command` and `apply_event`. The base class keeps
    ``aggregate_id`` and ``version`` and checks that events arrive in order.

    ``aggregate_type`` defaults to the class name; ``events`` is the registry that maps stored
    event types to domain event classes; ``command_types`` lists the command classes it handles
    (so a test helper can find the aggregate for a command); ``snapshot_version`` is the version
    of the state's shape in snapshots: raise it when the attributes change, and older snapshots
    are ignored instead of restored into the wrong shape.
    """

    aggregate_type: ClassVar[str]
    events: ClassVar[EventRegistry] = registry
    command_types: ClassVar[tuple[type[Command], ...]] = ()
    snapshot_version: ClassVar[int] = 1
    _event_modules: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass of an aggregate (a new release of User, say) keeps reading the same
        # streams, so it inherits its parent's aggregate_type.
        if not hasattr(cls, "aggregate_type"):
            cls.aggregate_type = cls.__name__
        # Where several modules define an event type's name, the class's own module (then its
        # parents') picks the one it means: a notebook's UserCreated for a notebook's
        # aggregate, esteach's for esteach's User.
        cls._event_modules = tuple(dict.fromkeys(k.__module__ for k in cls.__mro__))

    def __init__(self, aggregate_id: str) -> None:
        self._aggregate_id = check_aggregate_id(aggregate_id)
        self._version = 0

    @property
    def aggregate_id(self) -> str:
        return self._aggregate_id

    @property
    def version(self) -> int:
        """How many events this aggregate has applied: 0 means it does not exist yet."""
        return self._version

    @property
    def exists(self) -> bool:
        return self._version > 0

    @abstractmethod
    def handle_command(self, command: Any) -> list[DomainEvent]:
        """Decide: return the events this command causes, or raise a ``DomainError``.

        Must not change ``self``, do I/O or read the clock. An empty list means "nothing to do".
        """

    @abstractmethod
    def apply_event(self, event: Any) -> None:
        """Change state from one domain event. Must not decide, do I/O or read the clock."""

    def check_target(self, command: Command) -> None:
        """Refuse a command addressed to another aggregate (a wiring mistake, not a rule)."""
        if command.target_id != self._aggregate_id:
            raise InvalidCommand(
                f"{type(command).__name__} is for {command.target_id!r}, but this "
                f"{type(self).__name__} is {self._aggregate_id!r}"
            )

    def apply(self, event: Event) -> None:
        """Apply a recorded event, checking it is the next one of this aggregate's stream."""
        if event.aggregate_id != self._aggregate_id:
            raise EventsOutOfOrder(
                f"event {event.event_type} v{event.version} belongs to stream "
                f"{event.aggregate_id!r}, not to {self._aggregate_id!r}"
            )
        if event.aggregate_type and event.aggregate_type != self.aggregate_type:
            raise InvalidInput(
                f"stream {event.aggregate_id!r} holds {event.aggregate_type} events; load it "
                f"with {event.aggregate_type}, not {type(self).__name__}"
            )
        if event.version != self._version + 1:
            raise EventsOutOfOrder(
                f"{type(self).__name__} {self._aggregate_id!r} is at version {self._version} "
                f"and expects version {self._version + 1} next, but got {event.event_type} "
                f"version {event.version}: apply a stream's events in version order, each once"
            )
        self.apply_event(self.events.to_domain(event, self._event_modules))
        self._version = event.version

    @classmethod
    def load_from_events(
        cls: type[A], events: Iterable[Event], aggregate_id: str | None = None
    ) -> A:
        """Rebuild an aggregate by applying its stream's events in order.

        ``aggregate_id`` is needed only when ``events`` may be empty (a stream not created yet).
        """
        events = list(events)
        if aggregate_id is None:
            if not events:
                raise InvalidInput("load_from_events needs aggregate_id when there are no events")
            aggregate_id = events[0].aggregate_id
        aggregate = cls(aggregate_id)
        for event in events:
            aggregate.apply(event)
        return aggregate

    def state(self) -> dict[str, Any]:
        """The aggregate's state as a plain dict: id, version and every public attribute."""
        public = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {"aggregate_id": self._aggregate_id, "version": self._version, **public}

    def to_snapshot(self) -> dict[str, Any]:
        """The state a snapshot keeps: every public attribute, as JSON data."""
        public = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return ensure_json_data(public, f"{type(self).__name__} snapshot state")

    @classmethod
    def from_snapshot(cls: type[A], aggregate_id: str, version: int, state: dict[str, Any]) -> A:
        """Rebuild an aggregate at ``version`` from `to_snapshot` output."""
        aggregate = cls(aggregate_id)
        expected = {k for k in vars(aggregate) if not k.startswith("_")}
        if set(state) != expected:
            raise InvalidInput(
                f"{cls.__name__} snapshot state has fields {sorted(state)}, expected "
                f"{sorted(expected)}; raise {cls.__name__}.snapshot_version when the state changes"
            )
        for key, value in state.items():
            setattr(aggregate, key, value)
        aggregate._version = version
        return aggregate

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.state().items())
        return f"{type(self).__name__}({fields})"
