"""Fixtures more than one test module uses."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from esteach import DuckDBEventStore, EventStore, InMemoryEventStore, SeededIds, StepClock
from esteach.notebook.measure import user_stream

LONG = 10_000
"""The length of the long stream the count tests (cache, snapshots) load."""


@pytest.fixture(params=["memory", "duckdb-memory"])
def long_stream_store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    """A store holding one ``User`` stream ``u-long`` of ``LONG`` events, bulk-imported
    (10,000 commands would make these tests slow and teach nothing more); its clock starts a
    day after the stream's events."""
    clock = StepClock(datetime(2024, 1, 2, tzinfo=UTC), timedelta(seconds=1))
    store: EventStore
    if request.param == "memory":
        store = InMemoryEventStore(clock=clock, ids=SeededIds(1))
    else:
        store = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(1))
    assert store.bulk_import(user_stream(LONG, user_id="u-long")) == LONG
    yield store
    store.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One PostgreSQL server for the whole test session (it takes a second or two to start);
    tests stay independent by each using schemas of their own (`pgtesting.fresh_schema`).

    Its data lives in a directory of its own under /tmp, not under pytest's tmp_path: run as
    root, the server runs as another user, who cannot enter pytest's private (0700) folders.
    """
    from esteach.store.postgres import local_server

    directory = tempfile.mkdtemp(prefix="esteach-pg-")
    try:
        with local_server(directory) as url:
            yield url
    finally:
        shutil.rmtree(directory, ignore_errors=True)
