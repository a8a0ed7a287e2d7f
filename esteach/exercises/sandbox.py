"""A store for the exercise notebooks that can start over, with a clock and ids that repeat.

Re-running a cell that appends events appends them again (or is refused with
``WrongExpectedVersion``). `fresh_store` gives a new, empty store; ``store.reset()``
empties the store you have in place (objects holding it, such as a ``CommandProcessor``, keep
working) and rewinds its clock and ids, so the next appends get the same times and ids as on
a first run.

>>> store = fresh_store()
>>> from esteach import NewEvent
>>> _ = store.append_events("acc-1", 0, [NewEvent("AccountOpened", {"owner": "Ada"})])
>>> _ = store.append_events("acc-1", 1, [NewEvent("AccountOpened", {"owner": "Ada"})])
>>> store.head_position()
2
>>> store.reset()
>>> store.head_position()
0
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from esteach.determinism import SeededIds, StepClock
from esteach.store.memory import InMemoryEventStore

__all__ = ["START", "STEP", "ExerciseStore", "fresh_store"]

START: Final = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
"""When the exercise stores' clocks start: 2024-01-01 09:00 UTC."""
STEP: Final = timedelta(minutes=1)
"""How far their clocks move on each append, unless told otherwise."""


class ExerciseStore(InMemoryEventStore):
    """An `InMemoryEventStore` with a `StepClock` and
    `SeededIds`, and a `reset` that makes it as new."""

    def __init__(self, *, start: datetime = START, step: timedelta = STEP, seed: int = 0) -> None:
        self._settings = (start, step, seed)
        self.clock = StepClock(start, step)
        super().__init__(clock=self.clock, ids=SeededIds(seed))

    def reset(self) -> None:
        """Forget every event and rewind the clock and the ids: the store is as new."""
        start, step, seed = self._settings
        self.clock = StepClock(start, step)
        InMemoryEventStore.__init__(self, clock=self.clock, ids=SeededIds(seed))

    def __repr__(self) -> str:
        return (
            f"ExerciseStore(events={self.head_position()}, "
            f"streams={len({event.aggregate_id for event in self.read_all()})})"
        )


def fresh_store(*, start: datetime = START, step: timedelta = STEP, seed: int = 0) -> ExerciseStore:
    """A new, empty store whose clock starts at ``start`` and moves ``step`` per append."""
    return ExerciseStore(start=start, step=step, seed=seed)
