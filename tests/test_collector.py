"""`esteach.collector.paused`: the garbage collector off over a block, back as it was after."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from esteach import DuckDBEventStore, UserQueryModel
from esteach.collector import paused
from tests.test_faults_interrupts import sample


@contextlib.contextmanager
def counted_collections() -> Iterator[list[int]]:
    """The generation of each collection the block sets off, after a full one first."""
    collections: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        yield collections
    finally:
        gc.callbacks.remove(count)


@pytest.fixture
def collector_on() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_off_in_the_block_and_on_after_it_even_after_an_error() -> None:
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "an inner pause must not switch it on under the outer one"
    assert gc.isenabled()
    with pytest.raises(KeyboardInterrupt), paused():
        raise KeyboardInterrupt
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_program_stays_off() -> None:
    was_on = gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        if was_on:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_a_catch_up_sets_off_no_collection_per_page() -> None:
    """Unpaused, this 12,000-event catch-up in pages of 2,000 set off 30 collections (1,600
    for 300,000 events in pages of 10,000); now at most one runs after each page."""
    with DuckDBEventStore(":memory:") as store:
        store.bulk_import(sample(12_000))
        model = UserQueryModel(store)
        model.processor.register_event_handler("ItemImported", lambda conn, event: None)
        with counted_collections() as collections:
            assert model.catch_up(batch_size=2_000) == 12_000
        assert len(collections) <= 6, collections  # 6 pages
