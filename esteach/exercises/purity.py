"""Catch a learner's code reading the clock, doing I/O or drawing random numbers.

``apply_event`` and projection handlers must be pure: the same events must always give the
same state, on every replay, on any day. `watch` runs a function under a profiler hook
and lists the impure calls it made, however they were imported (``datetime.now``,
``from time import time``, ``open``, ``random.random``, ``uuid.uuid4``, ...).

>>> import time
>>> result, calls = watch(lambda: time.time() > 0)
>>> result, calls
(True, [Impurity(kind='the clock', name='time.time')])
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

__all__ = ["CLOCK", "IO", "RANDOM", "Impurity", "describe", "watch"]

T = TypeVar("T")

CLOCK: Final = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "time.localtime",
        "time.gmtime",
        "time.ctime",
        "datetime.now",
        "datetime.utcnow",
        "datetime.today",
        "date.today",
        "esteach.determinism.system_clock",
        "pandas.Timestamp.now",
    }
)
IO: Final = frozenset(
    {
        "io.open",
        "builtins.open",
        "builtins.input",
        "os.open",
        "os.system",
        "socket.socket.__init__",
        "socket.create_connection",
        "urllib.request.urlopen",
        "duckdb.connect",
        "sqlite3.connect",
    }
)
RANDOM: Final = frozenset(
    {
        "Random.random",
        "Random.getrandbits",
        "os.urandom",
        "uuid.uuid4",
        "uuid.uuid1",
        "esteach.determinism.uuid4_ids",
        "secrets.token_hex",
    }
)
_KINDS: Final = (("the clock", CLOCK), ("I/O", IO), ("random numbers", RANDOM))
_MODULE_ALIASES: Final = {"posix": "os", "nt": "os", "_io": "io", "_socket": "socket"}


@dataclass(frozen=True)
class Impurity:
    """One impure call: ``kind`` is "the clock", "I/O" or "random numbers"."""

    kind: str
    name: str


def _c_name(function: object) -> str:
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "?")
    if isinstance(owner, types.ModuleType):
        module = owner.__name__
        return f"{_MODULE_ALIASES.get(module, module)}.{name}"
    if isinstance(owner, type):
        return f"{owner.__name__}.{name}"
    if owner is not None:
        return f"{type(owner).__name__}.{name}"
    return name


def _classify(name: str) -> Impurity | None:
    for kind, names in _KINDS:
        if name in names:
            return Impurity(kind, name)
    return None


def watch(function: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[Impurity]]:
    """Call ``function(*args, **kwargs)``; return its result and the impure calls it made.

    Exceptions from ``function`` propagate; the impure calls made before one are lost with it,
    so callers that want both use `watch` around a wrapper that catches.
    """
    seen: list[Impurity] = []
    previous = sys.getprofile()

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "c_call":
            found = _classify(_c_name(arg))
        elif event == "call":
            module = frame.f_globals.get("__name__", "?")
            found = _classify(f"{module}.{frame.f_code.co_qualname}")
        else:
            found = None
        if found is not None and found not in seen:
            seen.append(found)

    # A garbage collection during the call could run some other object's finalizer, whose
    # clock reading would be blamed on the learner: no automatic collection while watching.
    collecting = gc.isenabled()
    gc.disable()
    sys.setprofile(profile)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.setprofile(previous)
        if collecting:
            gc.enable()
    return result, seen


def describe(calls: list[Impurity]) -> str:
    """``"read the clock (datetime.now)"``: what the calls did, for a message."""
    verbs = {
        "the clock": "read the clock",
        "I/O": "did I/O",
        "random numbers": "drew random numbers",
    }
    parts: dict[str, list[str]] = {}
    for call in calls:
        parts.setdefault(verbs[call.kind], []).append(call.name)
    return " and ".join(f"{verb} ({', '.join(names)})" for verb, names in parts.items())
