"""The DuckDB conventions every DuckDB user in esteach shares: one place, so they cannot drift.

* `connect`: a connection whose session time zone is UTC, so timestamps and every comparison
  on them mean UTC; `open_file` connects for a store or read model and leaves nothing behind
  when that fails (below);
* `json_text` and `naive_utc`: event data and commit times as the ``JSON`` and ``TIMESTAMP``
  columns hold them (compact JSON text; UTC without a zone);
* `transaction`: ``BEGIN ... COMMIT`` that rolls back explicitly on any error, the stop button
  (``KeyboardInterrupt``) included, so a connection is never left inside an aborted transaction.

Faults, the same way for every object that keeps a DuckDB file:

* **Engine errors name their cause.** `storage_error` turns what DuckDB raises for a full disk,
  a read-only file, a file held by another process, a damaged file or a database DuckDB gave up
  on into a `StorageError` subclass that says what to do, with DuckDB's own words attached
  (``engine_message``).
* **An interrupt is an interrupt.** A SIGINT (the notebook's stop button) during a statement
  comes out of DuckDB's Python client either as ``KeyboardInterrupt`` (sometimes *after* the
  statement committed) or as ``RuntimeError: Query interrupted`` (sometimes from a ``COMMIT``
  that committed, or a ``BEGIN`` that began). `interrupt` makes both a ``KeyboardInterrupt``;
  callers treat either as "outcome unknown: ask the file".
* **A failed open leaves nothing behind.** `open_file` removes a file (and WAL) that the failed
  open itself created, refuses an empty file (what an open that failed on a full disk used to
  leave) and a file shorter than its own header says (truncated).

>>> conn = connect(":memory:")
>>> with transaction(conn):
...     _ = conn.execute("CREATE TABLE t (x JSON)")
...     _ = conn.execute("INSERT INTO t VALUES (?)", [json_text({"a": 1})])
>>> conn.execute("SELECT x->>'a' FROM t").fetchall()
[('1',)]
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import duckdb

from esteach.errors import (
    DamagedFile,
    DatabaseInvalidated,
    DiskFull,
    FileInUse,
    FileNotWritable,
    StorageError,
)

__all__ = [
    "INTERRUPTED",
    "connect",
    "engine_errors",
    "interrupt",
    "is_interrupt",
    "json_text",
    "json_texts",
    "naive_utc",
    "one_thread",
    "open_file",
    "registered",
    "reraise",
    "rollback_quietly",
    "storage_error",
    "transaction",
    "translated",
    "utc",
]


def connect(
    path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection on ``path`` with the session time zone set to UTC."""
    conn = duckdb.connect(str(path), read_only=read_only)
    try:
        conn.execute("SET TimeZone = 'UTC'")
    except BaseException:
        conn.close()
        raise
    return conn


def _compact_encoder() -> tuple[Callable[[Any], str], Callable[[Iterable[Any]], list[str]]]:
    """``json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))``, at a
    third of its cost: the standard library's C encoder made once and called directly.

    ``JSONEncoder.encode`` makes a new C encoder at every call, which costs more than encoding
    a small event's data. NaN and infinity raise ``ValueError``, values JSON has no type for
    ``TypeError``, as ``json.dumps`` does; the data it encodes was checked before (no cycles).
    """
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return encoder.encode, lambda values: list(map(encoder.encode, values))
    encode = make(
        None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    join = "".join

    def compact(value: Any) -> str:
        return join(encode(value, 0))

    def compact_all(values: Iterable[Any]) -> list[str]:
        return [join(encode(value, 0)) for value in values]

    return compact, compact_all


_encode, _encode_all = _compact_encoder()


def json_text(data: Mapping[str, Any]) -> str:
    """Event data as the compact JSON text the ``data`` columns hold."""
    return _encode(data)


def json_texts(datas: Iterable[Mapping[str, Any]]) -> list[str]:
    """`json_text` of each, in one call (a fifth faster than mapping `json_text`)."""
    return _encode_all(datas)


def naive_utc(timestamp: datetime) -> datetime:
    """A datetime as DuckDB's ``TIMESTAMP`` columns hold it: UTC, without a zone."""
    if timestamp.tzinfo is not UTC:  # events read back are in UTC already: skip the sum
        timestamp = timestamp.astimezone(UTC)
    return timestamp.replace(tzinfo=None)


def utc(timestamp: datetime) -> datetime:
    """A ``TIMESTAMP`` column's value (UTC without a zone) as an aware UTC datetime."""
    return timestamp.replace(tzinfo=UTC)


INTERRUPTED = "Query interrupted"
"""The text of DuckDB's ``RuntimeError`` when a SIGINT cancels a statement (duckdb 2.0.1)."""

_HEADER_BYTES = 3 * 4096  # a DuckDB file's main header and its two database headers

_DISK_FULL = ("no space left on device", "file too large", "disk quota exceeded")
_NOT_WRITABLE = ("permission denied", "read-only file system", "operation not permitted")
_DAMAGED = (
    "corrupt database file",
    "could not read enough bytes",
    "not a valid duckdb database file",
    "wal does not match",
    "failure while replaying wal",
    "checksum",
)


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is the stop button: ``KeyboardInterrupt`` or DuckDB's interrupt error.

    DuckDB also turns a ``KeyboardInterrupt`` raised in Python code it calls (pandas, while it
    scans a registered DataFrame; pyarrow, while it counts or reads a registered Arrow table)
    into a ``duckdb.Error`` holding that traceback, or its last line, as text.
    """
    if isinstance(exc, KeyboardInterrupt):
        return True
    if isinstance(exc, RuntimeError) and str(exc).startswith(INTERRUPTED):
        return True
    return isinstance(exc, duckdb.Error) and any(
        mark in str(exc) for mark in _INTERRUPTED_IN_PYTHON
    )


# How DuckDB writes a KeyboardInterrupt it caught in Python: a traceback (pandas), or
# "... registered as 'x' as Arrow data failed: KeyboardInterrupt: " (pyarrow).
_INTERRUPTED_IN_PYTHON = ("\nKeyboardInterrupt", "failed: KeyboardInterrupt")


def interrupt(exc: BaseException) -> KeyboardInterrupt:
    """``exc`` as the ``KeyboardInterrupt`` a Jupyter user expects."""
    if isinstance(exc, KeyboardInterrupt):
        return exc
    raised = KeyboardInterrupt(f"interrupted ({exc}); the statement was cancelled or finished")
    raised.__cause__ = exc
    return raised


def storage_error(exc: BaseException, path: str, doing: str) -> StorageError | None:
    """The `StorageError` ``exc`` stands for, or ``None`` if it is no storage fault.

    ``doing`` starts the message ("cannot open DuckDB file 'x'", "the append to stream 'a'
    failed"); DuckDB's text is kept at the end and in ``engine_message``.
    """
    if not isinstance(exc, (duckdb.Error, OSError)):
        return None
    engine = str(exc)
    text = engine.lower()
    where = f"{path!r}" if path and path != ":memory:" else "the database"
    disk_full = any(marker in text for marker in _DISK_FULL)
    said = f" DuckDB said: {engine}"
    if isinstance(exc, duckdb.FatalException) or "has been invalidated" in text:
        because = " (the disk is full)" if disk_full else ""
        free = "free some space, then " if disk_full else ""
        return DatabaseInvalidated(
            f"{doing}: DuckDB stopped using {where} after a fatal error{because}, and refuses "
            f"every use of it in this process until it is opened again. Events already "
            f"acknowledged are safe in the file. {free.capitalize()}close every store, read "
            f"model and snapshot store on this file (or restart the kernel) and open it "
            f"again.{said}",
            engine,
        )
    if disk_full:
        return DiskFull(
            f"{doing}: the disk holding {where} is full (or a file-size limit was hit). "
            f"Nothing was written; free some space (or move the file to a bigger disk) and try "
            f"again.{said}",
            engine,
        )
    if "could not set lock" in text:
        return FileInUse(
            f"{doing}: {engine}. Another process writes this file, and while it does DuckDB "
            f"refuses every other process, read_only=True included: close that process (or "
            f"its notebook kernel) first. Several processes may open a file read_only=True "
            f"when none writes it.",
            engine,
        )
    if "different configuration" in text:
        return FileInUse(
            f"{doing}: {engine}. This process already has the file open with other settings "
            f"(read_only or not): close that store first, or open it the same way.",
            engine,
        )
    if any(marker in text for marker in _NOT_WRITABLE):
        return FileNotWritable(
            f"{doing}: {where} (or its folder, where DuckDB writes the .wal file beside it) "
            f"cannot be written by this process. Nothing was written; make the file and its "
            f"folder writable, or open it with read_only=True to read it.{said}",
            engine,
        )
    if any(marker in text for marker in _DAMAGED):
        return DamagedFile(
            f"{doing}: {where} is damaged: it is not a whole DuckDB database (truncated, "
            f"partly overwritten, or copied while in use). Restore it from a backup "
            f"(DuckDBEventStore.backup makes one).{said}",
            engine,
        )
    return None


def translated(exc: BaseException, path: str, doing: str) -> BaseException:
    """What to raise for ``exc``: a ``KeyboardInterrupt`` for an interrupt, a
    `StorageError` for a storage fault, else ``exc`` itself."""
    if is_interrupt(exc):
        return interrupt(exc)
    error = storage_error(exc, path, doing)
    if error is not None:
        error.__cause__ = exc
        return error
    return exc


def reraise(exc: BaseException, path: str, doing: str) -> NoReturn:
    """Raise what `translated` makes of ``exc`` (``exc`` itself if nothing)."""
    error = translated(exc, path, doing)
    if error is exc:
        raise exc
    raise error from exc


@contextlib.contextmanager
def engine_errors(path: str, doing: str) -> Iterator[None]:
    """Raise what `translated` makes of any exception in the block."""
    try:
        yield
    except BaseException as exc:
        reraise(exc, path, doing)


def rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    """End whatever transaction ``conn`` may be in, and drop an unfinished result.

    After an interrupt nobody knows whether a ``BEGIN`` began or a ``COMMIT`` committed; a
    ``ROLLBACK`` outside a transaction fails harmlessly, and inside one it undoes what the
    caller did not see finish. An unfinished result (an interrupt between ``execute`` and the
    fetch) would make DuckDB refuse the ``ROLLBACK``, so it is dropped first. A
    ``KeyboardInterrupt`` meanwhile is passed over too: the caller is already raising one.
    """
    with contextlib.suppress(Exception, KeyboardInterrupt):
        conn.abort()
    with contextlib.suppress(Exception, KeyboardInterrupt):
        conn.execute("ROLLBACK")


def open_file(
    path: str,
    *,
    read_only: bool = False,
    doing: str | None = None,
    setup: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to ``path`` (UTC session), run ``setup(conn)``, or raise a clear error and leave
    nothing behind.

    Refused before DuckDB sees them: an empty file (what an open that failed on a full disk
    leaves). Refused after connecting: a file shorter than its header says (truncated). If the
    connect or ``setup`` fails and this call created the file, the file and its WAL are
    removed again, so the path stays free.
    """
    doing = doing or f"cannot open DuckDB file {path!r}"
    on_disk = path != ":memory:" and not path.startswith(":memory:")
    existed = on_disk and os.path.exists(path)
    if existed and os.path.isfile(path) and os.path.getsize(path) == 0:
        raise DamagedFile(
            f"{doing}: the file is empty (0 bytes), so it holds no events; an earlier open "
            f"that failed (on a full disk, say) leaves such a file. Delete it and open again, "
            f"or restore the file from a backup if it should hold events.",
            "",
        )
    wal_existed = on_disk and os.path.exists(f"{path}.wal")
    conn: duckdb.DuckDBPyConnection | None = None
    try:
        conn = connect(path, read_only=read_only)
        if existed:
            _check_length(conn, path, doing)
        if setup is not None:
            setup(conn)
    except BaseException as exc:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if on_disk and not existed:
            _remove(path, wal=not wal_existed)
        error = translated(exc, path, doing)
        if error is exc and isinstance(exc, duckdb.Error):  # no known cause: still say where
            error = StorageError(f"{doing}: {exc}", str(exc))
        if error is exc:
            raise
        raise error from exc
    return conn


def _check_length(conn: duckdb.DuckDBPyConnection, path: str, doing: str) -> None:
    # Used blocks, not total: DuckDB cuts free blocks off the end of a file, so the file may be
    # shorter than all its blocks, never than the blocks in use.
    [(blocks, block_size)] = conn.execute(
        "SELECT used_blocks, block_size FROM pragma_database_size() LIMIT 1"
    ).fetchall()
    wanted = _HEADER_BYTES + int(blocks) * int(block_size)
    length = os.path.getsize(path)
    if length < wanted:
        raise DamagedFile(
            f"{doing}: the file is {length:,} bytes, shorter than the {wanted:,} its own "
            f"header says: it was truncated (a copy cut short, a disk that filled while it was "
            f"copied). Restore it from a backup (DuckDBEventStore.backup makes one).",
            f"{blocks} blocks of {block_size} bytes",
        )


def _remove(path: str, *, wal: bool) -> None:
    for leftover in (path, f"{path}.wal") if wal else (path,):
        with contextlib.suppress(OSError):
            Path(leftover).unlink()


@contextlib.contextmanager
def transaction(
    conn: duckdb.DuckDBPyConnection,
    commit_failed: Callable[[duckdb.Error], Exception] | None = None,
    *,
    path: str = "",
    doing: str = "the transaction failed",
) -> Iterator[None]:
    """``BEGIN ... COMMIT``; on any error (then re-raised) an explicit ``ROLLBACK``.

    A failed ``COMMIT`` (another connection wrote the same rows first, say) is rolled back too;
    ``commit_failed(error)`` makes the exception raised for it (else the engine's own). A
    storage fault (`storage_error`) is raised as such, with ``doing`` and ``path`` in its
    message, and an interrupt as ``KeyboardInterrupt``.

    After an interrupt at ``BEGIN`` or ``COMMIT`` nobody knows whether the transaction began or
    committed: whatever may be open is rolled back, and the caller must read what it keeps in
    memory (a checkpoint, a head) from the database again.
    """
    try:
        conn.execute("BEGIN TRANSACTION")
    except BaseException as exc:  # an interrupted BEGIN may have begun
        rollback_quietly(conn)
        reraise(exc, path, doing)
    try:
        yield
    except BaseException as exc:  # KeyboardInterrupt in a notebook too: leave nothing half-done
        rollback_quietly(conn)  # keeps the original error, not this one
        if is_interrupt(exc) and not isinstance(exc, KeyboardInterrupt):
            raise interrupt(exc) from exc
        raise
    try:
        conn.execute("COMMIT")
    except BaseException as exc:  # DuckDB may have ended it already, or committed it
        rollback_quietly(conn)
        error = translated(exc, path, doing)
        if error is exc and isinstance(exc, duckdb.Error) and commit_failed is not None:
            error = commit_failed(exc)
        if error is exc:
            raise
        raise error from exc


@contextlib.contextmanager
def one_thread(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB runs the block's statements on one thread, then on as many as before.

    The setting is the database's, not the connection's: other connections to the same file
    in this process run single-threaded meanwhile too (slower, never wrong). An interrupt that
    lands while the setting is put back leaves it at one thread, which costs speed only.
    """
    try:
        [(before,)] = conn.execute("SELECT current_setting('threads')").fetchall()
    except BaseException:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            conn.abort()  # an interrupt before the fetch leaves the result unfinished
        raise
    restore = f"SET threads = {int(before)}"
    try:
        conn.execute("SET threads = 1")
        yield
    except BaseException:
        with contextlib.suppress(Exception, KeyboardInterrupt):  # keep the block's error
            conn.abort()
            conn.execute(restore)
        raise
    try:
        conn.execute(restore)
    except BaseException:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            conn.abort()
        raise


@contextlib.contextmanager
def registered(conn: duckdb.DuckDBPyConnection, name: str, frame: Any) -> Iterator[None]:
    """``frame`` (a DataFrame) as the view ``name`` on ``conn`` for the block, then gone.

    On a failure (an interrupt raised as an ``execute`` returns, say) the connection may hold
    an unfinished result, which makes DuckDB refuse ``unregister``; that refusal must not hide
    the failure, so the result is dropped first and the view removed quietly.
    """
    # An interrupt between an earlier execute() and its fetch leaves an unfinished result;
    # execute() drops one by itself, but register() refuses to run, so drop it first (a
    # transaction in progress survives this).
    conn.abort()
    conn.register(name, frame)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            conn.abort()
        with contextlib.suppress(Exception, KeyboardInterrupt):
            conn.unregister(name)
        raise
    conn.unregister(name)
