"""Live subscriptions: a projection that follows its store instead of being polled.

``processor.follow()`` starts a `Subscription`: a background thread that catches the
`EventProcessor` up, then sleeps until the store signals an append (`LiveEventLog`:
``LISTEN``/``NOTIFY`` on PostgreSQL, a condition variable in the in-process stores), and
catches up again. While it runs, ``processor.wait_for_position(p)`` waits for the thread to get
there instead of reading the store itself, so a command handler can still read its own writes.

A store without the capability is polled every ``poll`` seconds instead. A handler that fails
stops the subscription; its `ProjectionError` is kept in ``error`` and raised by the next
``wait_for_position``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from esteach.checks import check_int
from esteach.errors import InvalidInput
from esteach.store.base import LiveEventLog

if TYPE_CHECKING:
    from esteach.projections import EventProcessor

__all__ = ["Subscription"]


class Subscription:
    """A background thread keeping one `EventProcessor` caught up; stop it with `stop`."""

    def __init__(self, processor: EventProcessor, *, batch_size: int = 1000, poll: float = 0.1):
        check_int(batch_size, "batch_size", 1)
        if isinstance(poll, bool) or not isinstance(poll, (int, float)) or poll <= 0:
            raise InvalidInput(f"poll must be a number of seconds > 0, got {poll!r}")
        self.processor = processor
        self.batch_size = batch_size
        # How long one wait lasts before the thread looks at `stop` again (and, for a store
        # without `wait_for_append`, how often it polls).
        self.poll = float(poll)
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, name=f"esteach-follow-{processor.name}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it (it finishes the page it is applying)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the processor's checkpoint reaches ``position``, the thread stops or
        ``timeout`` passes; True if it got there. Raises the error that stopped the thread."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.processor.position < position and self.running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._progress.wait(remaining)
        if self.error is not None:
            raise self.error
        return self.processor.position >= position

    def _run(self) -> None:
        store = self.processor.store
        wait = store.wait_for_append if isinstance(store, LiveEventLog) else None
        try:
            while not self._stop.is_set():
                if self.processor.catch_up(self.batch_size):
                    with self._progress:
                        self._progress.notify_all()
                if wait is not None:
                    wait(self.processor.position, self.poll)
                else:
                    self._stop.wait(self.poll)
        except Exception as exc:  # kept for wait_for_position; the thread ends
            self.error = exc
        finally:
            with self._progress:
                self._progress.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Subscription({self.processor.name!r}, {state}, at {self.processor.position})"
