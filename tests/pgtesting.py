"""Helpers for the tests that run against the session's PostgreSQL server (`postgres_url`)."""

from __future__ import annotations

import itertools
import os

_schemas = itertools.count(1)


def fresh_schema() -> str:
    """A schema name no other store of this test session uses (the process id keeps apart
    the helper processes some tests start)."""
    return f"t{os.getpid()}_{next(_schemas)}"
