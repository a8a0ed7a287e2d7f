"""Fixtures more than one test module uses."""

from __future__ import annotations

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
