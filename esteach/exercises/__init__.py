"""Workshop exercises with automatic checks, hints that know the common mistakes, and solutions.

Each exercise notebook in ``notebooks/exercises/`` imports its exercises from one module here
(``esteach.exercises.nb01`` ... ``nb07``) as ``ex1``, ``ex2``, ...:

* ``ex1.check(Cart)`` answers in one line: "not attempted" (a ``____`` is still there),
  "not yet: <why>" (a mistake it recognises, or what went wrong), or "correct";
* ``ex1.hint()`` gives a hint for the last mistake, then the general hints one at a time;
* ``ex1.solution()`` shows a reference solution;
* ``ex1.catch_up()`` loads the reference solution into the notebook, so a learner who is stuck
  can go on with the next exercise.

``____`` is the placeholder a learner replaces; :func:`fresh_store` gives a store that starts
over (``store.reset()`` empties one in place) with a clock and ids that repeat run after run.

Kept apart from the core like ``esteach.notebook``: ``import esteach`` does not import this.
"""

from esteach.exercises.core import Exercise, Note, NotYet, Placeholder, Result, ____
from esteach.exercises.sandbox import ExerciseStore, fresh_store

__all__ = [
    "Exercise",
    "ExerciseStore",
    "NotYet",
    "Note",
    "Placeholder",
    "Result",
    "____",
    "fresh_store",
]
