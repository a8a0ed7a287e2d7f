"""Live subscriptions: `EventProcessor.follow()` and the stores' `wait_for_append`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pgtesting import fresh_schema

from esteach import (
    DuckDBEventStore,
    Event,
    EventProcessor,
    EventStore,
    InMemoryEventStore,
    InvalidInput,
    LiveEventLog,
    NewEvent,
    ProjectionError,
    ProjectionTimeout,
    Subscription,
)
from esteach.store.postgres import PostgresEventStore

KINDS = ["memory", "duckdb", "postgres"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens stores of one kind on the same data: the second call is another writer."""
    opened: list[EventStore] = []
    memory = InMemoryEventStore()
    schema = fresh_schema()

    def open_one() -> EventStore:
        store: EventStore
        if kind == "memory":
            return memory  # one object: a second one would be another log
        if kind == "duckdb":
            store = DuckDBEventStore(tmp_path / "events.duckdb")
        else:
            url = request.getfixturevalue("postgres_url")
            store = PostgresEventStore(url, schema=schema)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def append(store: EventStore, stream: str, n: int = 1) -> list[Event]:
    return store.append_events(stream, "any", [NewEvent("Counted", {"n": i}) for i in range(n)])


def counting_processor(store: EventStore) -> tuple[EventProcessor, list[str]]:
    """A processor counting events per stream, and the names of the threads that applied them."""
    processor = EventProcessor(
        store,
        name="counts",
        tables=["counts"],
        schema="CREATE TABLE IF NOT EXISTS counts (stream VARCHAR PRIMARY KEY, n BIGINT)",
    )
    threads: list[str] = []

    def counted(conn: Any, event: Event) -> None:
        threads.append(threading.current_thread().name)
        conn.execute(
            "INSERT INTO counts VALUES (?, 1) ON CONFLICT (stream) DO UPDATE SET n = n + 1",
            [event.aggregate_id],
        )

    processor.register_event_handler("Counted", counted)
    return processor, threads


def test_every_store_can_signal_an_append(open_store: Any) -> None:
    store = open_store()
    assert isinstance(store, LiveEventLog)
    assert store.wait_for_append(0, timeout=0.05) is False

    writer = open_store()
    timer = threading.Timer(0.1, append, [writer, "s"])
    timer.start()
    started = time.monotonic()
    assert store.wait_for_append(0, timeout=10) is True
    timer.join()
    assert time.monotonic() - started < 5  # woken by the append, not by the timeout
    assert store.wait_for_append(0, timeout=0) is True  # already past: no wait
    assert store.wait_for_append(1, timeout=0.05) is False


def test_a_following_processor_applies_appends_in_its_own_thread(open_store: Any) -> None:
    store = open_store()
    append(store, "before", 3)
    processor, threads = counting_processor(store)
    with processor:
        subscription = processor.follow()
        assert processor.follow() is subscription  # one thread per processor
        writer = open_store()
        last = [append(writer, f"s{i % 3}", 2)[-1] for i in range(10)][-1]

        assert processor.wait_for_position(last.global_position, timeout=10) == 23
        assert dict(processor.query("SELECT stream, n FROM counts")) == {
            "before": 3,
            "s0": 8,
            "s1": 6,
            "s2": 6,
        }
        assert set(threads) == {"esteach-follow-counts"}
        subscription.stop()
        assert not subscription.running


def test_wait_for_position_raises_the_error_that_stopped_the_subscription(
    open_store: Any,
) -> None:
    store = open_store()
    processor = EventProcessor(store, name="fails")

    def broken(conn: Any, event: Event) -> None:
        raise ValueError("boom")

    processor.register_event_handler("Counted", broken)
    with processor:
        subscription = processor.follow()
        [event] = append(store, "s")
        with pytest.raises(ProjectionError, match="boom"):
            processor.wait_for_position(event.global_position, timeout=10)
        assert not subscription.running
        assert isinstance(subscription.error, ProjectionError)
        assert processor.position == 0


def test_closing_the_processor_stops_its_subscription(open_store: Any) -> None:
    processor, _ = counting_processor(open_store())
    subscription = processor.follow()
    processor.close()
    assert not subscription.running


class PlainStore:
    """A store without `wait_for_append`: the subscription polls it."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "wait_for_append":
            raise AttributeError(name)
        return getattr(self._store, name)


def test_a_store_that_cannot_signal_is_polled() -> None:
    inner = InMemoryEventStore()
    store: Any = PlainStore(inner)
    assert not isinstance(store, LiveEventLog)
    processor, _ = counting_processor(store)
    with processor, processor.follow(poll=0.01):
        [event] = append(inner, "s")
        assert processor.wait_for_position(event.global_position, timeout=10) == 1


@pytest.mark.parametrize("poll", [0, -1, True, "1"])
def test_a_bad_poll_interval_is_refused(poll: object) -> None:
    processor, _ = counting_processor(InMemoryEventStore())
    with processor, pytest.raises(InvalidInput, match="poll"):
        Subscription(processor, poll=poll)  # type: ignore[arg-type]


def test_waiting_for_a_position_the_store_never_reaches_times_out_while_following() -> None:
    processor, _ = counting_processor(InMemoryEventStore())
    with processor, processor.follow():
        started = time.monotonic()
        with pytest.raises(ProjectionTimeout, match="head is only 0"):
            processor.wait_for_position(5, timeout=0.2)
        assert time.monotonic() - started >= 0.2
