"""Upcasting: lift events recorded in an old shape to the shape the code knows today.

Stored events never change. When a domain event's fields change, raise its class's
``schema_version`` and register an **upcaster** for each step: a pure function from the old
data to the next version's data. On every read (aggregate load, projection replay, time
travel) the registry lifts an event step by step, ``v1 -> v2 -> v3``, until it reaches its
class's current version.

>>> from esteach.events import EventRegistry
>>> events = EventRegistry()
>>> @events.upcaster("UserRenamed", from_version=1)
... def split_name(data):
...     first, _, last = data["name"].partition(" ")
...     return {"first_name": first, "last_name": last}

An upcaster gets its own copy of the data: it must return new data, never change what it got.
An upcaster may also rename the event (``to_event_type=...``, ``to_version=...``) when a
business name changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esteach.errors import InvalidEventData
from esteach.jsondata import ensure_json_data, thaw

if TYPE_CHECKING:  # events.py imports this module: the envelope is only named here
    from esteach.events import Event

__all__ = ["UpcastFunction", "Upcaster", "Upcasters"]

UpcastFunction = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Upcaster:
    """One step: ``event_type`` data at ``from_version`` becomes version ``to_version``.

    ``to_version`` is ``from_version + 1`` unless the step renames the event
    (``to_event_type``), where it names the version of the new type the data now has.
    """

    event_type: str
    from_version: int
    function: UpcastFunction
    to_event_type: str | None = None
    to_version: int | None = None

    def __repr__(self) -> str:
        name = getattr(self.function, "__name__", "upcaster")
        to_type, to_version = self.target
        return (
            f"Upcaster({self.event_type} v{self.from_version} -> {to_type} v{to_version}: {name})"
        )

    @property
    def target(self) -> tuple[str, int]:
        version = self.from_version + 1 if self.to_version is None else self.to_version
        return (self.to_event_type or self.event_type, version)

    def apply(self, event: Event) -> Event:
        name = getattr(self.function, "__name__", "upcaster")
        try:
            lifted = self.function(thaw(event.data))
        except Exception as exc:
            raise InvalidEventData(
                f"upcaster {name} failed on {event.event_type} v{self.from_version} event "
                f"{event.id}: {type(exc).__name__}: {exc}"
            ) from exc
        data = ensure_json_data(lifted, f"the data upcaster {name} returned")
        event_type, version = self.target
        metadata = dataclasses.replace(event.metadata, schema_version=version)
        return dataclasses.replace(event, event_type=event_type, data=data, metadata=metadata)


class Upcasters:
    """The upcasters of one registry, keyed by (event type, from version)."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def add(self, upcaster: Upcaster) -> None:
        # Registering the same step again replaces it, so re-running a notebook cell works.
        self._steps[(upcaster.event_type, upcaster.from_version)] = upcaster

    def remove(self, event_type: str, from_version: int) -> None:
        self._steps.pop((event_type, from_version), None)

    def __len__(self) -> int:
        return len(self._steps)

    def has(self, event_type: str, from_version: int) -> bool:
        """Whether a step lifts ``event_type`` from ``from_version``."""
        return (event_type, from_version) in self._steps

    def steps(self) -> list[Upcaster]:
        return sorted(self._steps.values(), key=lambda u: (u.event_type, u.from_version))

    def lift(self, event: Event, current_version: Callable[[str], int | None]) -> Event:
        """Apply steps until none applies; then the event must be at its class's version.

        ``current_version(event_type)`` is the registered class's schema version, or ``None``
        when no class is registered (such an event passes through unchanged).
        """
        for _ in range(1000):  # a cycle of renames would otherwise loop forever
            step = self._steps.get((event.event_type, event.metadata.schema_version))
            if step is None:
                break
            event = step.apply(event)
        else:
            raise InvalidEventData(f"upcasters for {event.event_type} form a cycle")
        wanted = current_version(event.event_type)
        if wanted is not None and event.metadata.schema_version > wanted:
            raise InvalidEventData(
                f"{event.event_type} event {event.id} is at schema version "
                f"{event.metadata.schema_version}, newer than its class: the class is at version "
                f"{wanted}, so newer code wrote it. Upgrade this code; an upcaster only lifts "
                f"old events."
            )
        if wanted is not None and event.metadata.schema_version != wanted:
            raise InvalidEventData(
                f"{event.event_type} event {event.id} is at schema version "
                f"{event.metadata.schema_version}, but its class is at version {wanted} and no "
                f"upcaster lifts {event.event_type} from version "
                f"{event.metadata.schema_version}; register one with "
                f"@registry.upcaster({event.event_type!r}, from_version="
                f"{event.metadata.schema_version})"
            )
        return event
