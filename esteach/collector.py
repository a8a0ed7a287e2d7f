"""The garbage collector paused over work that makes many short-lived objects and no cycles.

CPython's cyclic garbage collector runs after every few hundred new container objects (lists,
dicts, objects). A catch-up page of 10,000 events makes tens of thousands (the events, their
data, their metadata) and frees them by reference counting once the page is applied; meanwhile
the collector ran a hundred times over them, now and then over the whole heap. Measured on a
300,000-event log: 1,600 collections, a quarter of a page catch-up's time. Paused while a page
is read and applied, it runs once afterwards, over what is left.

>>> import gc
>>> with paused():
...     gc.isenabled()
False
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused"]


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Switch the collector off for the block, and back on after it if it was on.

    Nothing is lost: objects in a cycle made meanwhile are collected once the collector runs
    again. A pause inside another (or in another thread) leaves the switching to the one that
    switched it off. A generator, not a class: if an interrupt lands as the block ends, before
    the collector is back on, closing the generator still switches it on.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
