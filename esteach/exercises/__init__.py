"""Workshop exercises with automatic checks, hints that know the common mistakes, and solutions.

Each exercise notebook in ``notebooks/exercises/`` imports its exercises from the module here
named after its topic (``esteach.exercises.commands_and_events`` for notebook 01, ...; see
`TOPICS`) as ``ex1``, ``ex2``, ...:

* ``ex1.check(Cart)`` answers in one line: "not attempted" (a ``____`` is still there),
  "not yet: <why>" (a mistake it recognises, or what went wrong), or "correct"; in Jupyter,
  a coloured box (green correct, orange not yet, grey not attempted);
* ``ex1.hint()`` gives a hint for the last mistake, then the general hints one at a time;
* ``ex1.solution()`` shows a reference solution, which pastes and runs in the notebook;
* ``ex1.catch_up()`` loads the reference solution into the notebook, so a learner who is stuck
  can go on with the next exercise;
* ``progress()`` checks every exercise of the notebook again and lists where the learner is.

``____`` is the placeholder a learner replaces; ``fresh_store`` gives a store that starts
over (``store.reset()`` empties one in place) with a clock and ids that repeat run after run.

Kept apart from the core like ``esteach.notebook``: ``import esteach`` does not import this.
"""

from typing import Final

from esteach.exercises.core import (
    Exercise,
    Note,
    NotYet,
    Placeholder,
    Progress,
    Result,
    ____,
    progress,
)
from esteach.exercises.sandbox import ExerciseStore, fresh_store

__all__ = [
    "TOPICS",
    "Exercise",
    "ExerciseStore",
    "NotYet",
    "Note",
    "Placeholder",
    "Progress",
    "Result",
    "____",
    "fresh_store",
    "progress",
]

TOPICS: Final = {
    "01": "commands_and_events",
    "02": "event_store",
    "03": "projections",
    "04": "time_travel",
    "05": "snapshots_and_caching",
    "06": "concurrency",
    "07": "versioning",
    "08": "flaws",
    "09": "analytics",
    "11": "deciders",
}
"""The checker module (``esteach.exercises.<topic>``) of each exercise notebook, by number."""
