"""Fault injection for the fault tests: a DuckDB connection that fails at a chosen statement.

DuckDB's Python client meets a SIGINT (the notebook's stop button) in one of three ways
(measured with duckdb 2.0.1): the statement is cancelled and ``RuntimeError: Query
interrupted`` is raised; the signal is dropped; or the statement completes, *commits*, and
then ``KeyboardInterrupt`` is raised on the line of the ``execute`` call. ``RuntimeError:
Query interrupted`` also comes from a ``COMMIT`` that committed and a ``BEGIN`` that began.
:class:`Faulty` replays each of these at one statement: the fault is raised either before the
engine sees the statement or after the engine has run it.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def query_interrupted() -> BaseException:
    return RuntimeError("Query interrupted")


FAULTS: dict[str, Callable[[], BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "Query-interrupted": query_interrupted,
}


class Faulty:
    """Wraps a DuckDB connection; raises ``fault()`` at statement number ``at`` (from 1).

    ``after=True``: the engine runs the statement first (it may have committed), as when DuckDB
    raises ``KeyboardInterrupt`` after the INSERT returned. ``at=0`` never fails: it counts the
    statements an operation runs, in :attr:`statements`.
    """

    def __init__(
        self,
        conn: Any,
        at: int = 0,
        fault: Callable[[], BaseException] = KeyboardInterrupt,
        *,
        after: bool = True,
    ) -> None:
        self._conn = conn
        self.at = at
        self.fault = fault
        self.after = after
        self.statements: list[str] = []
        self.fired = False

    def _run(self, name: str, query: str, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(f"{name}: {' '.join(str(query).split())[:60]}")
        hit = len(self.statements) == self.at
        if hit and not self.after:
            self.fired = True
            raise self.fault()
        result = getattr(self._conn, name)(query, *args, **kwargs)
        if hit:
            self.fired = True
            raise self.fault()
        return result

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return self._run("execute", query, *args, **kwargs)

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return self._run("sql", query, *args, **kwargs)

    def register(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._run("register", name, *args, **kwargs)

    def unregister(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._run("unregister", name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextmanager
def small_disk(parent: Path, size_kib: int) -> Iterator[Path]:
    """A directory on a tmpfs of ``size_kib`` KiB (needs root and ``mount``), unmounted after."""
    target = parent / "small-disk"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise OSError(errno.EPERM, f"cannot mount a tmpfs: {mounted.stderr!r}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


def fill(directory: Path, leave: int = 0) -> Path:
    """Write a filler file until ``directory``'s disk has at most ``leave`` bytes free."""
    path = directory / "filler.bin"
    chunk = b"\0" * 4096
    with open(path, "wb") as out:
        try:
            while True:
                stat = os.statvfs(directory)
                if stat.f_bavail * stat.f_frsize <= leave:
                    break
                out.write(chunk)
                out.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return path
