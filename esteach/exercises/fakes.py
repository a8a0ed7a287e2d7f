"""Event-store wrappers the checkers hand to a learner's code, to make trouble on cue.

Each wraps a real store and passes every call through, except where it makes trouble:
another writer appending first, a reply lost on the way back, or just counting what is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from esteach.events import Event, NewEvent
from esteach.store.base import EventStore, ExpectedVersion

__all__ = ["CountingStore", "LostReply", "Runaway", "SomeoneElseFirst"]


class Runaway(BaseException):
    """Stops a learner's loop that keeps retrying. A ``BaseException``, so ``except Exception``
    in the learner's code cannot swallow it."""


class _Passthrough:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        return self.store.get_events(aggregate_id, from_version)

    def stream_version(self, aggregate_id: str) -> int:
        return self.store.stream_version(aggregate_id)

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        return self.store.append_events(aggregate_id, expected_version, events)


class CountingStore(_Passthrough):
    """Counts the events ``get_events`` hands out, the loads and the appends, and keeps the
    ``from_version`` of every load."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.events_read = 0
        self.from_versions: list[int] = []
        self.loads = 0
        self.appends = 0
        self.expected_versions: list[ExpectedVersion] = []

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        events = self.store.get_events(aggregate_id, from_version)
        self.loads += 1
        self.from_versions.append(from_version)
        self.events_read += len(events)
        return events

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        self.appends += 1
        self.expected_versions.append(expected_version)
        if self.appends > 50:
            raise Runaway("more than 50 appends")
        return self.store.append_events(aggregate_id, expected_version, events)


class SomeoneElseFirst(CountingStore):
    """Lets "someone else" write between the learner's read and their append.

    ``meanwhile()`` (another writer appending to the real store) runs at the start of
    ``append_events``, at most ``times`` times in all (``None``: every time). With
    ``after_load=True`` it runs instead at the first ``stream_version`` or ``append_events``
    after each ``get_events``: so reading the version again just before appending does not
    close the gap between the load a decision was made on and the append.
    """

    def __init__(
        self,
        store: EventStore,
        meanwhile: Callable[[], object],
        times: int | None = 1,
        *,
        after_load: bool = False,
    ) -> None:
        super().__init__(store)
        self.meanwhile = meanwhile
        self.times = times
        self.after_load = after_load
        self.interfered = 0
        self._armed = not after_load

    def get_events(self, aggregate_id: str, from_version: int = 0) -> list[Event]:
        events = super().get_events(aggregate_id, from_version)
        self._armed = True
        return events

    def _interfere(self) -> None:
        if self._armed and (self.times is None or self.interfered < self.times):
            self._armed = not self.after_load
            self.interfered += 1
            self.meanwhile()

    def stream_version(self, aggregate_id: str) -> int:
        if self.after_load:
            self._interfere()
        return super().stream_version(aggregate_id)

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        self._interfere()
        return super().append_events(aggregate_id, expected_version, events)


class LostReply(CountingStore):
    """The first ``times`` appends reach the store, but their reply is lost: ``TimeoutError``.

    That is what a network between an application and its database can do: the write
    happened, the caller cannot know it did.
    """

    def __init__(self, store: EventStore, times: int | None = 1) -> None:
        super().__init__(store)
        self.times = times
        self.lost = 0

    def append_events(
        self, aggregate_id: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> list[Event]:
        recorded = super().append_events(aggregate_id, expected_version, events)
        if self.times is None or self.lost < self.times:
            self.lost += 1
            raise TimeoutError("the store's reply was lost on the network (the append happened)")
        return recorded
