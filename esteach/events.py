"""Events: the envelope the store records, and the small domain events aggregates decide.

Two layers, kept apart on purpose:

* a **domain event** (`DomainEvent` subclass) is a frozen dataclass in business language,
  ``UserCreated(user_id=..., email=..., name=...)``; aggregates decide and apply these;
* an **envelope** (`Event`) is what the store records around a domain event's data: id,
  stream, version, commit timestamp, metadata and global position. `NewEvent` is an
  envelope before it is committed: it has no version, timestamp or position yet, because the
  store assigns those at commit.

``event_type`` is always the past-tense business name (``"UserCreated"``), never a language type
path, so stored events stay readable and handlers registered by name always fire.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from esteach.checks import check_event_id, check_event_type, check_field_types, check_int
from esteach.errors import InvalidEventData, InvalidInput, UnknownEventType
from esteach.jsondata import FrozenDict, JSONData, check_text, ensure_json_data, freeze, thaw
from esteach.upcasting import Upcaster, Upcasters, UpcastFunction

__all__ = ["DomainEvent", "Event", "EventMetadata", "EventRegistry", "NewEvent", "registry"]


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Who and what caused an event: the ids that let you trace a request through the log.

    ``correlation_id`` is shared by everything one request caused; ``causation_id`` is the id
    of the message (command or event) that directly caused this one; ``schema_version`` is the
    version of the event's data shape, which upcasters lift on read. ``headers`` is a JSON
    object of your own (tenant, request path, trace id): stores keep it as it is.

    >>> EventMetadata(user_id="admin", headers={"tenant": "acme"}).headers
    {'tenant': 'acme'}
    """

    correlation_id: str | None = None
    causation_id: str | None = None
    user_id: str | None = None
    source: str = "esteach"
    schema_version: int = 1
    headers: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("correlation_id", "causation_id", "user_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"metadata {name} must be a str or None, got {value!r}")
            if value is not None:
                check_text(value, f"metadata {name}")
        if not isinstance(self.source, str):
            raise InvalidInput(f"metadata source must be a str, got {self.source!r}")
        check_text(self.source, "metadata source")
        check_int(self.schema_version, "metadata schema_version", 1)
        if type(self.headers) is not FrozenDict:  # frozen ones were checked on their way in
            # Copied and frozen: the caller's dict can change later, the log's cannot.
            headers = ensure_json_data(self.headers, "metadata headers")
            object.__setattr__(self, "headers", freeze(headers))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``headers`` only when there are any, so logs stay compact."""
        fields = {
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "user_id": self.user_id,
            "source": self.source,
            "schema_version": self.schema_version,
        }
        if self.headers:
            fields["headers"] = thaw(self.headers)
        return fields

    @classmethod
    def from_dict(cls, data: object) -> EventMetadata:
        """Build metadata from `to_dict` output (``headers`` may be missing), or raise."""
        if not isinstance(data, dict):
            raise InvalidEventData(f"metadata must be a JSON object, got {data!r:.60}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise InvalidEventData(f"metadata has unexpected fields {sorted(unknown)}")
        try:
            return cls(**data)
        except InvalidInput as exc:
            raise InvalidEventData(str(exc)) from None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event on its way into the store: the store assigns version, timestamp and position.

    ``id`` may be chosen by the caller (so that retrying the same append is recognised as a
    retry); when it is ``None`` the store takes one from its id factory. ``data`` is checked to
    be a JSON object and copied read-only, so later changes to the caller's dict cannot reach
    the log, and nobody can change the event's.
    """

    event_type: str
    data: JSONData = field(default_factory=dict)
    aggregate_type: str = ""
    metadata: EventMetadata = field(default_factory=EventMetadata)
    id: str | None = None

    @classmethod
    def from_domain(
        cls,
        event: DomainEvent,
        aggregate_type: str = "",
        *,
        metadata: EventMetadata | None = None,
        id: str | None = None,
    ) -> NewEvent:
        """Wrap a domain event: its name, its data and its class's schema version.

        >>> from esteach.domains.user import UserNameChanged
        >>> NewEvent.from_domain(UserNameChanged("Ada"), "User").data
        {'new_name': 'Ada'}
        """
        metadata = dataclasses.replace(
            metadata or EventMetadata(), schema_version=event.schema_version
        )
        return cls(event.event_type, event.to_data(), aggregate_type, metadata, id)

    def __post_init__(self) -> None:
        check_event_type(self.event_type)
        if type(self.data) is not FrozenDict:  # frozen data was checked on its way in
            # One pass checks and copies the data read-only: nobody can change it any more,
            # so a store keeps it as it is.
            object.__setattr__(self, "data", ensure_json_data(self.data, frozen=True))
        if not isinstance(self.aggregate_type, str):
            raise InvalidInput(f"aggregate_type must be a str, got {self.aggregate_type!r}")
        if not isinstance(self.metadata, EventMetadata):
            raise InvalidInput(f"metadata must be an EventMetadata, got {self.metadata!r}")
        if self.id is not None:
            check_event_id(self.id)

    def with_id(self, event_id: str) -> NewEvent:
        """This event with the id ``event_id`` (checked); nothing else is checked again."""
        event = object.__new__(NewEvent)
        set_type, set_data, set_aggregate_type, set_metadata, set_id = _NEW_EVENT_SLOTS
        set_type(event, self.event_type)
        set_data(event, self.data)
        set_aggregate_type(event, self.aggregate_type)
        set_metadata(event, self.metadata)
        set_id(event, check_event_id(event_id))
        return event


_NEW_EVENT_SLOTS = tuple(getattr(NewEvent, f.name).__set__ for f in dataclasses.fields(NewEvent))


@dataclass(frozen=True, slots=True)
class Event:
    """A recorded event: what the store gives back. Immutable; treat ``data`` as read-only.

    ``version`` counts events in one stream from 1; ``global_position`` orders all events of
    the store from 1; ``timestamp`` is the UTC commit time, never decreasing with position.
    """

    id: str
    aggregate_id: str
    aggregate_type: str
    event_type: str
    version: int
    timestamp: datetime
    data: JSONData
    metadata: EventMetadata = field(default_factory=EventMetadata)
    global_position: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; `from_dict` turns it back into an equal event."""
        return {
            "id": self.id,
            "aggregate_id": self.aggregate_id,
            "aggregate_type": self.aggregate_type,
            "event_type": self.event_type,
            "version": self.version,
            "timestamp": self.timestamp.isoformat(timespec="microseconds"),
            "data": self.data,
            "metadata": self.metadata.to_dict(),
            "global_position": self.global_position,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        """Build an event from `to_dict` output, checking every field."""
        expected = {f.name for f in dataclasses.fields(cls)}
        missing, extra = expected - set(raw), set(raw) - expected
        if missing or extra:
            raise InvalidEventData(
                f"event record has missing fields {sorted(missing)} and unexpected fields "
                f"{sorted(extra)}"
            )
        try:
            timestamp = datetime.fromisoformat(raw["timestamp"])
        except (TypeError, ValueError) as exc:
            raise InvalidEventData(f"timestamp {raw['timestamp']!r} is not ISO 8601") from exc
        if timestamp.tzinfo is None:
            raise InvalidEventData(
                f"timestamp {raw['timestamp']!r} has no UTC offset; write it as "
                f"2024-01-01T00:00:00+00:00"
            )
        for name in ("version", "global_position"):
            check_int(raw[name], name, 0, error=InvalidEventData)
        for name in ("id", "aggregate_id", "aggregate_type"):
            if not isinstance(raw[name], str):
                raise InvalidEventData(f"{name} must be a str, got {raw[name]!r}")
        return cls(
            id=raw["id"],
            aggregate_id=raw["aggregate_id"],
            aggregate_type=raw["aggregate_type"],
            event_type=check_event_type(raw["event_type"]),
            version=raw["version"],
            timestamp=timestamp.astimezone(UTC),
            data=ensure_json_data(raw["data"]),
            metadata=EventMetadata.from_dict(raw["metadata"]),
            global_position=raw["global_position"],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Event:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidEventData(f"event record is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidEventData(f"event record must be a JSON object, got {raw!r:.60}")
        return cls.from_dict(raw)


# --- domain events and their registry ---------------------------------------------------------


class DomainEvent:
    """Base class of domain events: subclass it as a frozen dataclass.

    The class name is the event type, so name it in the past tense. ``schema_version`` is the
    version of its data shape; raise it when the fields change and register an upcaster.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class CoffeeBrewed(DomainEvent):
    ...     cups: int
    >>> CoffeeBrewed(cups=2).to_data()
    {'cups': 2}
    """

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, registry: EventRegistry | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_type = check_event_type(cls.__name__)
        # Looked up when the class is defined, so a test can point the default elsewhere.
        (_default_registry() if registry is None else registry).register(cls)

    def __post_init__(self) -> None:
        check_field_types(self, InvalidEventData)

    def to_data(self) -> JSONData:
        """The event's fields as a JSON object, ready for an envelope's ``data``."""
        return ensure_json_data(
            {f.name: getattr(self, f.name) for f in dataclasses.fields(self)},  # type: ignore[arg-type]
            f"{type(self).__name__} data",
        )

    @classmethod
    def from_data(cls: type[E], data: Mapping[str, Any]) -> E:
        """Rebuild the event from its data, saying which fields are missing or unexpected."""
        shape = _shapes.get(cls)
        if shape is None:  # worked out once per class: replays call this for every event
            fields = dataclasses.fields(cls)  # type: ignore[arg-type]
            names = frozenset(f.name for f in fields)
            required = frozenset(
                f.name
                for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            shape = _shapes[cls] = (names, required)
        names, required = shape
        keys = data.keys()
        if keys == names:
            return cls(**data)
        missing, extra = required - keys, keys - names
        if missing or extra:
            raise InvalidEventData(
                f"{cls.__name__} data {dict(data)!r:.80} has missing fields {sorted(missing)} "
                f"and unexpected fields {sorted(extra)}; if it is an older shape, register an "
                f"upcaster"
            )
        return cls(**data)


E = TypeVar("E", bound=DomainEvent)
_shapes: dict[type, tuple[frozenset[str], frozenset[str]]] = {}


class EventRegistry:
    """Maps event type names to domain event classes, and lifts old event shapes on read.

    Stored events carry only the business name (``"UserCreated"``). Several modules may define
    a class of one name (esteach's ``UserCreated`` and a learner's in a notebook): the registry
    keeps one class per name and module, and a name that several modules define is resolved
    for an aggregate by the modules of its class (`Aggregate.apply` passes them). Defining
    a class again in the same module (re-running a notebook cell) replaces it.
    """

    def __init__(self) -> None:
        self._classes: dict[str, dict[str, type[DomainEvent]]] = {}
        self._versions: dict[str, int] = {}  # names whose classes agree on a schema version
        self.upcasters = Upcasters()

    def register(self, cls: type[DomainEvent]) -> None:
        name = cls.event_type
        by_module = self._classes.setdefault(name, {})
        known = by_module.get(cls.__module__)
        # Two classes of one name in one module would make that module's events ambiguous.
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise InvalidInput(
                f"event type {name!r} is already registered by {known.__module__}."
                f"{known.__qualname__}; give {cls.__module__}.{cls.__qualname__} another name"
            )
        by_module[cls.__module__] = cls
        versions = {known.schema_version for known in by_module.values()}
        if len(versions) == 1:
            self._versions[name] = versions.pop()
        else:
            self._versions.pop(name, None)

    def get(self, event_type: str, prefer: Iterable[str] = ()) -> type[DomainEvent]:
        """The class of ``event_type``; where several modules define it, the first of the
        modules ``prefer`` names that does."""
        by_module = self._classes.get(event_type)
        if not by_module:
            raise UnknownEventType(event_type, list(self._classes))
        if len(by_module) == 1:
            return next(iter(by_module.values()))
        for module in prefer:
            cls = by_module.get(module)
            if cls is not None:
                return cls
        defined = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in by_module.values())
        raise InvalidInput(
            f"event type {event_type!r} is defined by several classes ({defined}), and nothing "
            f"says which one to use here. Load it through an aggregate defined in the same "
            f"module as its events, or give the classes a registry of their own: "
            f"class {event_type}(DomainEvent, registry=my_events) and events = my_events on "
            f"the aggregate."
        )

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._classes

    def upcaster(
        self,
        event_type: str,
        from_version: int,
        *,
        to_event_type: str | None = None,
        to_version: int | None = None,
    ) -> Callable[[UpcastFunction], UpcastFunction]:
        """Decorator: register ``function`` as the step from ``from_version`` to the next.

        The next is ``from_version + 1`` of the same type, or, for a renamed event,
        ``to_version`` (default 1) of ``to_event_type``.
        """
        check_event_type(event_type)
        check_int(from_version, "from_version", 1)
        if to_version is not None:
            check_int(to_version, "to_version", 1)
        if to_event_type is not None:
            check_event_type(to_event_type)
            to_version = 1 if to_version is None else to_version
        elif to_version is not None and to_version != from_version + 1:
            raise InvalidInput(
                f"an upcaster of {event_type} from version {from_version} lifts it to version "
                f"{from_version + 1}; to_version={to_version} is only for a renamed event"
            )

        def register(function: UpcastFunction) -> UpcastFunction:
            step = Upcaster(event_type, from_version, function, to_event_type, to_version)
            self.upcasters.add(step)
            return function

        return register

    def upcast(self, event: Event, prefer: Iterable[str] = ()) -> Event:
        """The event lifted to its class's current schema version (itself if already there)."""
        version = event.metadata.schema_version
        current = self._versions.get(event.event_type)  # None: no class, or classes disagree
        if (
            version == current or (current is None and event.event_type not in self._classes)
        ) and not self.upcasters.has(event.event_type, version):
            return event  # the common case, kept cheap: nothing to lift
        prefer = tuple(prefer)
        return self.upcasters.lift(event, lambda name: self.schema_version(name, prefer))

    def schema_version(self, event_type: str, prefer: Iterable[str] = ()) -> int | None:
        """The current schema version of ``event_type``'s class; None when none is registered."""
        if event_type not in self._classes:
            return None
        current = self._versions.get(event_type)
        return current if current is not None else self.get(event_type, prefer).schema_version

    def to_domain(self, event: Event, prefer: Iterable[str] = ()) -> DomainEvent:
        """Turn a recorded envelope into its domain event, upcasting it first."""
        prefer = tuple(prefer)
        event = self.upcast(event, prefer)
        return self.get(event.event_type, prefer).from_data(event.data)


registry = EventRegistry()
"""The default registry every `DomainEvent` subclass joins when it is defined."""


def _default_registry() -> EventRegistry:
    return registry
