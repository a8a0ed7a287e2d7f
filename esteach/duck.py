"""The DuckDB conventions every DuckDB user in esteach shares: one place, so they cannot drift.

* `connect`: a connection whose session time zone is UTC, so timestamps and every comparison
  on them mean UTC;
* `json_text` and `naive_utc`: event data and commit times as the ``JSON`` and ``TIMESTAMP``
  columns hold them (compact JSON text; UTC without a zone);
* `transaction`: ``BEGIN ... COMMIT`` that rolls back explicitly on any error, the stop button
  (``KeyboardInterrupt``) included, so a connection is never left inside an aborted transaction.

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
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb

__all__ = ["connect", "json_text", "naive_utc", "transaction", "utc"]


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


def json_text(data: Mapping[str, Any]) -> str:
    """Event data as the compact JSON text the ``data`` columns hold."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def naive_utc(timestamp: datetime) -> datetime:
    """A datetime as DuckDB's ``TIMESTAMP`` columns hold it: UTC, without a zone."""
    if timestamp.tzinfo is not UTC:  # events read back are in UTC already: skip the sum
        timestamp = timestamp.astimezone(UTC)
    return timestamp.replace(tzinfo=None)


def utc(timestamp: datetime) -> datetime:
    """A ``TIMESTAMP`` column's value (UTC without a zone) as an aware UTC datetime."""
    return timestamp.replace(tzinfo=UTC)


@contextlib.contextmanager
def transaction(
    conn: duckdb.DuckDBPyConnection,
    commit_failed: Callable[[duckdb.Error], Exception] | None = None,
) -> Iterator[None]:
    """``BEGIN ... COMMIT``; on any error (then re-raised) an explicit ``ROLLBACK``.

    A failed ``COMMIT`` (another connection wrote the same rows first, say) is rolled back too;
    ``commit_failed(error)`` makes the exception raised for it (else the engine's own).
    """
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:  # KeyboardInterrupt in a notebook too: leave nothing half-done
        with contextlib.suppress(duckdb.Error):  # keep the original error, not this one
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except duckdb.Error as exc:
        with contextlib.suppress(duckdb.Error):  # DuckDB may have ended it already
            conn.execute("ROLLBACK")
        if commit_failed is None:
            raise
        raise commit_failed(exc) from exc
