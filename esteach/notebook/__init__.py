"""Helpers for the notebooks: sizes, plots, widgets and exercise checks.

Kept apart from the core on purpose: ``import esteach`` never imports Jupyter, matplotlib or
ipywidgets; only the notebooks import ``esteach.notebook`` and its modules.
"""

from __future__ import annotations

import os
from typing import TypeVar

from esteach.errors import InvalidInput

__all__ = ["SIZE_VARIABLE", "size"]

T = TypeVar("T")

SIZE_VARIABLE = "ESTEACH_SIZE"
"""The environment variable that sizes the notebooks' heavy cells: ``small`` or ``full``."""


def size(*, small: T, full: T) -> T:
    """Pick a workload by the ``ESTEACH_SIZE`` knob: ``small`` for tests, ``full`` (the default)
    for learners.

    >>> import os
    >>> os.environ["ESTEACH_SIZE"] = "small"
    >>> size(small=100, full=100_000)
    100
    """
    value = os.environ.get(SIZE_VARIABLE, "full").strip().lower()
    if value not in ("small", "full"):
        raise InvalidInput(f"{SIZE_VARIABLE} must be 'small' or 'full', got {value!r}")
    return small if value == "small" else full
