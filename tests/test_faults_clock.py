"""A clock that jumps ahead: one reading far in the future (an NTP glitch) is refused with
``ClockJumped`` instead of stamping every later event with that future time; a jump that the
clock's next reading confirms (the clock was wrong before, or the computer slept) is accepted.
The rule is the same on every store (``esteach.store.rules.ClockGuard``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esteach import (
    ANY,
    DuckDBEventStore,
    EventStore,
    InMemoryEventStore,
    NewEvent,
    SQLiteEventStore,
)
from esteach.errors import ClockJumped
from esteach.store import rules

START = datetime(2025, 1, 1, tzinfo=UTC)
GLITCH = datetime(2075, 1, 1, tzinfo=UTC)


class Readings:
    def __init__(self, *readings: datetime) -> None:
        self.readings = list(readings)

    def __call__(self) -> datetime:
        return self.readings.pop(0)


STORES: dict[str, Callable[..., EventStore]] = {
    "memory": lambda clock, path, **kw: InMemoryEventStore(clock=clock, **kw),
    "duckdb-memory": lambda clock, path, **kw: DuckDBEventStore(":memory:", clock=clock, **kw),
    "duckdb-file": lambda clock, path, **kw: DuckDBEventStore(path, clock=clock, **kw),
    "sqlite-file": lambda clock, path, **kw: SQLiteEventStore(
        path.with_suffix(".sqlite"), clock=clock, **kw
    ),
}


@pytest.fixture(params=[*STORES, "postgres"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., EventStore]]:
    opened: list[EventStore] = []

    def open_store(clock: Callable[[], datetime], **kw: object) -> EventStore:
        store: EventStore
        if request.param == "postgres":  # the session's server, a schema of its own
            from pgtesting import fresh_schema

            from esteach.store.postgres import PostgresEventStore

            url = request.getfixturevalue("postgres_url")
            store = PostgresEventStore(url, schema=fresh_schema(), clock=clock, **kw)  # type: ignore[arg-type]
        else:
            store = STORES[request.param](clock, tmp_path / "events.duckdb", **kw)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def append(store: EventStore, stream: str = "u") -> datetime:
    return store.append_events(stream, ANY, [NewEvent("ItemAdded", {})])[0].timestamp


def test_one_reading_far_ahead_is_refused_and_the_next_true_reading_is_used(
    make: Callable[..., EventStore],
) -> None:
    store = make(Readings(START, GLITCH, START + timedelta(minutes=1)))
    append(store)
    with pytest.raises(ClockJumped) as refused:
        append(store)
    message = str(refused.value)
    assert "2075-01-01" in message and "Nothing was written" in message
    assert store.head_position() == 1
    assert append(store) == START + timedelta(minutes=1)  # not held at 2075


def test_a_jump_that_the_next_reading_confirms_is_accepted(
    make: Callable[..., EventStore],
) -> None:
    ahead = START + timedelta(days=400)
    store = make(Readings(START, ahead, ahead + timedelta(seconds=1)))
    append(store)
    with pytest.raises(ClockJumped):
        append(store)
    assert append(store) == ahead + timedelta(seconds=1)


def test_jumps_within_the_margin_and_steps_back_are_not_refused(
    make: Callable[..., EventStore],
) -> None:
    readings = [START, START + timedelta(days=6), START, START + timedelta(days=29)]
    store = make(Readings(*readings))
    stamps = [append(store) for _ in readings]
    assert stamps == [
        START,
        START + timedelta(days=6),
        START + timedelta(days=6),  # held, as before
        START + timedelta(days=29),
    ]


def test_the_time_that_really_passed_is_allowed_on_top_of_the_margin(
    make: Callable[..., EventStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    elapsed = [0.0]
    monkeypatch.setattr(rules, "_elapsed", lambda: elapsed[0])
    store = make(Readings(START, START + timedelta(days=100)))
    append(store)
    elapsed[0] = timedelta(days=90).total_seconds()  # the kernel idled for 90 days
    assert append(store) == START + timedelta(days=100)


def test_the_rule_can_be_switched_off_or_narrowed(make: Callable[..., EventStore]) -> None:
    store = make(Readings(START, GLITCH), max_clock_jump=None)
    append(store)
    assert append(store) == GLITCH
    narrow = make(Readings(START, START + timedelta(hours=2)), max_clock_jump=timedelta(hours=1))
    append(narrow, "v")
    with pytest.raises(ClockJumped):
        append(narrow, "v")


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-1), 5, "1 day"])
def test_a_bad_margin_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="max_clock_jump"):
        InMemoryEventStore(max_clock_jump=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_clock_jump"):
        DuckDBEventStore(":memory:", max_clock_jump=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_clock_jump"):
        SQLiteEventStore(":memory:", max_clock_jump=bad)  # type: ignore[arg-type]
