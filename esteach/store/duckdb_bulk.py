"""The DuckDB store's bulk import: chunks checked and laid out while DuckDB inserts the last.

Checking and laying out 100,000 events is Python (~0.17 s); inserting them into the table's
four indexes is DuckDB (~0.19 s on one thread), which releases the GIL meanwhile. So the import
goes in chunks, all in the caller's one transaction: while a thread of its own inserts one
chunk, the calling thread checks and lays out the next, and inserts the last chunk itself. An
import of one chunk (most of them) runs no thread at all.

The rules and the columns are `esteach.store.bulk`'s, chunk by chunk: each chunk continues
the stream versions and the time where the chunk before left them. A chunk that breaks a rule
raises an error that counts its items from the chunk's start, so the caller checks the whole
batch again (nothing was committed) to name the item in the batch.

When anything fails (a rule, the insert, the stop button), the insert under way is interrupted
and waited for before the error goes on, so the caller's ``ROLLBACK`` never races it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import duckdb

from esteach import duck
from esteach.events import Event
from esteach.store.bulk import checked_columns
from esteach.store.duckdb_sql import BULK, _table

__all__ = ["DEFAULT_BULK_CHUNK", "insert_in_chunks"]

DEFAULT_BULK_CHUNK = 25_000
"""Events per chunk. Measured on 100,000 events (2 cores): 25,000 and 50,000 a fifth faster
than one chunk; 10,000 slower than one (each INSERT has its own fixed cost)."""

_VIEW = "esteach_bulk"


def insert_in_chunks(
    conn: duckdb.DuckDBPyConnection,
    events: list[Event],
    *,
    size: int,
    first_position: int,
    last_timestamp: datetime | None,
    known_heads: Callable[[list[str]], Mapping[str, int] | None],
    file_heads: Callable[[list[str]], Mapping[str, int]],
) -> dict[str, int]:
    """Check ``events`` and insert them from ``first_position`` on, inside the caller's
    transaction on ``conn``; each stream's last version in the batch.

    A stream's version before the import comes from ``known_heads(streams)`` (memory: None
    when it does not know them all) or else from ``file_heads(streams)``, which is asked only
    while no insert runs. Raises what `checked_columns` raises for a chunk, or what the
    insert raised.
    """
    inserter = _Inserter(conn)
    after: dict[str, int] = {}  # the streams of the chunks done so far: their last version

    def heads(streams: list[str]) -> dict[str, int]:
        found = {stream: after[stream] for stream in streams if stream in after}
        new = [stream for stream in streams if stream not in after]  # untouched by the import
        if new:
            known = known_heads(new)
            if known is None:
                inserter.wait()  # a query on the connection: not while it inserts
                known = file_heads(new)
            found.update(known)
        return found

    try:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            columns = checked_columns(chunk, heads, last_timestamp)
            table = _table(columns, first_position + start)
            inserter.insert(table, here=start + size >= len(events))
            after.update(columns.last_versions())
            last_timestamp = chunk[-1].timestamp
        inserter.wait()
        inserter.close()
    except BaseException:
        inserter.stop()
        raise
    return after


class _Inserter:
    """Inserts one chunk at a time: on a worker thread of its own, or in the caller's
    (``here``: the last chunk, and the only one of most imports, which start no thread).

    The stop button may land anywhere in the caller, so nothing here relies on what an
    interrupted ``threading`` call leaves behind: in Python 3.11 a ``KeyboardInterrupt``
    inside ``Thread.join`` can mark a running thread as stopped, and one right after
    ``Thread.start`` launched it leaves ``is_alive()`` False until the thread gets going; the
    stress test caught both as a ``ROLLBACK`` racing an insert. The worker talks through two
    ``SimpleQueue``s instead (their ``get`` is interrupted cleanly, in C): it says it runs
    before it is given a chunk, sends each chunk's outcome back, and says when it has ended.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn
        self._chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()  # None: end
        self._outcomes: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._working = False  # the worker runs and may be given chunks
        self._busy = False  # a chunk was given whose outcome is still to come

    def insert(self, table: Any, *, here: bool) -> None:
        """Insert ``table`` once the chunk before is in; ``here``: before returning."""
        self.wait()
        if here:
            error = self._insert(table)
            if error is not None:
                raise error
            return
        if not self._working:
            threading.Thread(target=self._work, name="esteach bulk insert", daemon=True).start()
            if self._outcomes.get() is not _RUNNING:
                raise AssertionError("the bulk insert thread did not start")  # pragma: no cover
            self._working = True
        self._busy = True
        self._chunks.put(table)

    def _work(self) -> None:
        self._outcomes.put(_RUNNING)
        try:
            while (table := self._chunks.get()) is not None:
                self._outcomes.put(self._insert(table))
        finally:
            self._outcomes.put(_ENDED)

    def _insert(self, table: Any) -> BaseException | None:
        try:
            with duck.registered(self._conn, _VIEW, table):
                self._conn.execute(BULK)
        except BaseException as exc:  # raised in the caller's thread
            return exc
        return None

    def wait(self) -> None:
        """Wait for the chunk under way, and raise what its insert raised."""
        if self._busy:
            outcome = self._outcomes.get()
            self._busy = False
            if outcome is not None:
                raise outcome

    def close(self) -> None:
        """All chunks are in: let the worker end."""
        self._chunks.put(None)

    def stop(self) -> None:
        """After a failure: interrupt the chunk under way and wait until the worker has ended,
        whatever state the failure left this in (and however often the stop button is pressed
        meanwhile), so that the caller's ``ROLLBACK`` never races an insert."""
        told = False
        while True:
            try:
                if not told:
                    self._chunks.put(None)  # a worker that never got a chunk ends as well
                    told = True
                if not self._working:
                    return  # no chunk was ever given: nothing touched the connection
                self._conn.interrupt()  # between two statements nothing is: asked again
                if self._outcomes.get(timeout=0.005) is _ENDED:
                    return
            except (queue.Empty, KeyboardInterrupt):
                continue


_RUNNING, _ENDED = object(), object()
