"""Events: the envelope the store records, and the small domain events aggregates decide.

Two layers, kept apart on purpose:

* a **domain event** (:class:`DomainEvent` subclass) is a frozen dataclass in business language,
  ``UserCreated(user_id=..., email=..., name=...)``; aggregates decide and apply these;
* an **envelope** (:class:`Event`) is what the store records around a domain event's data: id,
  stream, version, commit timestamp, metadata and global position. :class:`NewEvent` is an
  envelope before it is committed: it has no version, timestamp or position yet, because the
  store assigns those at commit.

``event_type`` is always the past-tense business name (``"UserCreated"``), never a language type
path, so stored events stay readable and handlers registered by name always fire.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, Union

from esteach.errors import InvalidEventData, InvalidInput, UnknownEventType

__all__ = [
    "DomainEvent",
    "Event",
    "EventMetadata",
    "EventRegistry",
    "NewEvent",
    "check_event_id",
    "check_field_types",
    "check_id_characters",
    "check_text",
    "ensure_json_data",
    "registry",
    "thaw",
]

if TYPE_CHECKING:
    from esteach.upcasting import UpcastFunction

JSONData = dict[str, Any]
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


def _describe(path: str, value: object) -> str:
    return f"{path} is {type(value).__name__} {value!r:.60}"


MAX_DEPTH = 100
"""How deeply event data may nest lists and objects."""


def check_text(value: str, what: str, error: type[InvalidInput] = InvalidInput) -> str:
    """Return ``value`` if it is valid Unicode text (it encodes as UTF-8), else raise ``error``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(
            f"{what} is not valid Unicode text: {exc.reason} at position {exc.start} "
            f"({value[exc.start]!r}, half of a UTF-16 surrogate pair?); UTF-8 cannot store it"
        ) from None
    return value


def _json_copy(value: object, path: str, depth: int = 0) -> Any:
    # Checked by hand rather than by json.dumps: json.dumps silently turns tuples into lists and
    # int keys into strings, so a round trip would not give back what was stored.
    if isinstance(value, str):
        return check_text(value, path, InvalidEventData)
    if value is None or isinstance(value, (bool, int)):
        return value
    if depth >= MAX_DEPTH and isinstance(value, (list, dict)):
        raise InvalidEventData(
            f"{path} nests lists and objects more than {MAX_DEPTH} levels deep; flatten the data"
        )
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise InvalidEventData(f"{_describe(path, value)}: JSON has no NaN or infinity")
    if isinstance(value, list):
        return [_json_copy(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        copied = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventData(
                    f"{path} has key {key!r} of type {type(key).__name__}: JSON object keys "
                    f"must be strings"
                )
            check_text(key, f"{path} key {key!r}", InvalidEventData)
            copied[key] = _json_copy(item, f"{path}[{key!r}]", depth + 1)
        return copied
    hint = " (store datetimes as ISO 8601 strings)" if isinstance(value, datetime) else ""
    raise InvalidEventData(
        f"{_describe(path, value)}, which is not JSON: use str, int, float, bool, None, "
        f"list or dict{hint}"
    )


def ensure_json_data(data: object, what: str = "data") -> JSONData:
    """Return a deep copy of ``data`` if it is a JSON object, else raise :class:`InvalidEventData`.

    >>> ensure_json_data({"email": "ada@example.com"})
    {'email': 'ada@example.com'}
    """
    if not isinstance(data, dict):
        raise InvalidEventData(
            f"{what} must be a dict (a JSON object), got {type(data).__name__} {data!r:.60}"
        )
    copied: JSONData = _json_copy(data, what)
    return copied


_READ_ONLY = (
    "recorded event data is read-only: an event is a fact that already happened. Work on a "
    "copy (copy.deepcopy(event.data)), or record a new event."
)


class FrozenDict(dict[str, Any]):
    """A dict that refuses changes: the data of events an in-memory store keeps.

    It is still a ``dict`` (``json.dumps``, ``==`` and ``isinstance`` work); ``copy.copy`` and
    ``copy.deepcopy`` give ordinary, changeable dicts.
    """

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError(_READ_ONLY)

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A list that refuses changes; see :class:`FrozenDict`."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError(_READ_ONLY)

    __setitem__ = __delitem__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce__(self) -> tuple[type, tuple[list[Any]]]:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON data (dicts and lists frozen, scalars as they are)."""
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(item) for item in value)
    return value


MAX_EVENT_ID_LENGTH = 256


def check_event_id(event_id: object) -> str:
    """Return ``event_id`` if it is a usable event id, else raise :class:`InvalidInput`."""
    if not isinstance(event_id, str) or not event_id.strip():
        raise InvalidInput(f"event id must be a non-empty str, got {event_id!r:.60}")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise InvalidInput(
            f"event id is {len(event_id)} characters long; at most {MAX_EVENT_ID_LENGTH} allowed"
        )
    return check_id_characters(event_id, "event id")


def check_id_characters(value: str, what: str) -> str:
    """Return the id ``value`` if it holds no NUL, newline, CR or tab and is valid Unicode."""
    if "\x00" in value or "\n" in value or "\r" in value or "\t" in value:
        raise InvalidInput(f"{what} {value!r:.60} contains control characters")
    return check_text(value, what)


def thaw(value: Any) -> Any:
    """A changeable deep copy of JSON data (frozen or not): dicts and lists copied, scalars kept.

    Far cheaper than ``copy.deepcopy``, which JSON data does not need.
    """
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def check_event_type(event_type: object) -> str:
    """Return ``event_type`` if it is a business name like ``"UserCreated"``, else raise."""
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise InvalidEventData(
            f"event_type {event_type!r} is not a business event name: use the event's "
            f"past-tense name such as 'UserCreated' (letters, digits and _, at most 100), "
            f"never a language type path such as 'esteach.domains.user.UserCreated'"
        )
    return event_type


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Who and what caused an event: the ids that let you trace a request through the log.

    ``correlation_id`` is shared by everything one request caused; ``causation_id`` is the id
    of the message (command or event) that directly caused this one; ``schema_version`` is the
    version of the event's data shape, which upcasters lift on read.
    """

    correlation_id: str | None = None
    causation_id: str | None = None
    user_id: str | None = None
    source: str = "esteach"
    schema_version: int = 1

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
        version = self.schema_version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInput(f"metadata schema_version must be an int >= 1, got {version!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> EventMetadata:
        """Build metadata from :meth:`to_dict` output, or raise :class:`InvalidEventData`."""
        if not isinstance(data, dict):
            raise InvalidEventData(f"metadata must be a JSON object, got {data!r:.60}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise InvalidEventData(f"metadata has unexpected fields {sorted(unknown)}")
        try:
            return cls(**data)
        except InvalidInput as exc:
            raise InvalidEventData(str(exc)) from None


_METADATA_SLOTS = tuple(
    getattr(EventMetadata, f.name).__set__ for f in dataclasses.fields(EventMetadata)
)


def stored_metadata(
    correlation_id: str | None,
    causation_id: str | None,
    user_id: str | None,
    source: str,
    schema_version: int,
) -> EventMetadata:
    """Metadata a store read back, built without the checks ``EventMetadata()`` runs.

    Only for values that passed those checks on their way in: a replay builds one per event,
    and checking each again would cost a third of a DuckDB load.
    """
    metadata = object.__new__(EventMetadata)
    set_correlation, set_causation, set_user, set_source, set_version = _METADATA_SLOTS
    set_correlation(metadata, correlation_id)
    set_causation(metadata, causation_id)
    set_user(metadata, user_id)
    set_source(metadata, source)
    set_version(metadata, schema_version)
    return metadata


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event on its way into the store: the store assigns version, timestamp and position.

    ``id`` may be chosen by the caller (so that retrying the same append is recognised as a
    retry); when it is ``None`` the store takes one from its id factory. ``data`` is checked to
    be a JSON object and copied, so later changes to the caller's dict cannot reach the log.
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
        object.__setattr__(self, "data", ensure_json_data(self.data))
        if not isinstance(self.aggregate_type, str):
            raise InvalidInput(f"aggregate_type must be a str, got {self.aggregate_type!r}")
        if not isinstance(self.metadata, EventMetadata):
            raise InvalidInput(f"metadata must be an EventMetadata, got {self.metadata!r}")
        if self.id is not None:
            check_event_id(self.id)


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
        """A JSON-safe dict; :meth:`from_dict` turns it back into an equal event."""
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
        """Build an event from :meth:`to_dict` output, checking every field."""
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
            if isinstance(raw[name], bool) or not isinstance(raw[name], int):
                raise InvalidEventData(f"{name} must be an int, got {raw[name]!r}")
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


_EVENT_SLOTS = tuple(getattr(Event, f.name).__set__ for f in dataclasses.fields(Event))


def stored_event(
    id: str,
    aggregate_id: str,
    aggregate_type: str,
    event_type: str,
    version: int,
    timestamp: datetime,
    data: JSONData,
    metadata: EventMetadata,
    global_position: int,
) -> Event:
    """``Event(...)`` in half the time, for a store building the events it reads back.

    The same fields in the same order; a frozen dataclass's ``__init__`` sets each through
    ``object.__setattr__``, this sets the slots directly.
    """
    event = object.__new__(Event)
    (set_id, set_aggregate_id, set_aggregate_type, set_event_type, set_version, set_timestamp,
     set_data, set_metadata, set_position) = _EVENT_SLOTS  # fmt: skip
    set_id(event, id)
    set_aggregate_id(event, aggregate_id)
    set_aggregate_type(event, aggregate_type)
    set_event_type(event, event_type)
    set_version(event, version)
    set_timestamp(event, timestamp)
    set_data(event, data)
    set_metadata(event, metadata)
    set_position(event, global_position)
    return event


# --- field type checks shared by domain events and commands -------------------------------


def _matches(value: object, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _exact_types(hint: Any) -> frozenset[type]:
    """Types whose instances certainly match ``hint``: ``type(value) in ...`` skips ``_matches``."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return frozenset().union(*(_exact_types(arg) for arg in typing.get_args(hint)))
    if hint is float:
        return frozenset({float, int})
    if isinstance(origin, type):
        return frozenset({origin})
    return frozenset({hint}) if isinstance(hint, type) else frozenset()


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


_field_checks: dict[type, tuple[tuple[str, Any, frozenset[type]], ...]] = {}


def check_field_types(obj: object, error: type[InvalidInput]) -> None:
    """Raise ``error`` naming the first dataclass field whose value has the wrong type."""
    cls = type(obj)
    checks = _field_checks.get(cls)
    if checks is None:  # worked out once per class: replays check every event they rebuild
        hints = typing.get_type_hints(cls)
        checks = _field_checks[cls] = tuple(
            (f.name, hints.get(f.name, Any), _exact_types(hints.get(f.name, Any)))
            for f in dataclasses.fields(obj)  # type: ignore[arg-type]
            if hints.get(f.name, Any) is not Any
        )
    for name, hint, exact in checks:
        value = getattr(obj, name)
        if type(value) not in exact and not _matches(value, hint):
            raise error(
                f"{cls.__name__}.{name} must be {_type_name(hint)}, got "
                f"{type(value).__name__} {value!r:.60}"
            )


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_type = check_event_type(cls.__name__)
        registry.register(cls)

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
    """Maps event type names to domain event classes, and lifts old event shapes on read."""

    def __init__(self) -> None:
        from esteach.upcasting import Upcasters

        self._classes: dict[str, type[DomainEvent]] = {}
        self.upcasters = Upcasters()

    def register(self, cls: type[DomainEvent]) -> None:
        name = cls.event_type
        known = self._classes.get(name)
        # A notebook cell that defines the same class again replaces it; two different
        # classes claiming one name would make stored events ambiguous.
        if known is not None and (known.__module__, known.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise InvalidInput(
                f"event type {name!r} is already registered by {known.__module__}."
                f"{known.__qualname__}; give {cls.__module__}.{cls.__qualname__} another name"
            )
        self._classes[name] = cls

    def get(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._classes[event_type]
        except KeyError:
            raise UnknownEventType(event_type, list(self._classes)) from None

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
        from esteach.upcasting import Upcaster

        check_event_type(event_type)
        for name, version in (("from_version", from_version), ("to_version", to_version)):
            if version is not None and (
                isinstance(version, bool) or not isinstance(version, int) or version < 1
            ):
                raise InvalidInput(f"{name} must be an int >= 1, got {version!r}")
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

    def upcast(self, event: Event) -> Event:
        """The event lifted to its class's current schema version (itself if already there)."""
        cls = self._classes.get(event.event_type)
        version = event.metadata.schema_version
        if (cls is None or version == cls.schema_version) and not self.upcasters.has(
            event.event_type, version
        ):
            return event  # the common case, kept cheap: nothing to lift
        return self.upcasters.lift(event, self._current_version)

    def _current_version(self, event_type: str) -> int | None:
        cls = self._classes.get(event_type)
        return None if cls is None else cls.schema_version

    def to_domain(self, event: Event) -> DomainEvent:
        """Turn a recorded envelope into its domain event, upcasting it first."""
        event = self.upcast(event)
        return self.get(event.event_type).from_data(event.data)


registry = EventRegistry()
"""The default registry every :class:`DomainEvent` subclass joins when it is defined."""
