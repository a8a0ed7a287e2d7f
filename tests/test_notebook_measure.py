"""The load-time measurement of notebook 05: its frame, its exact counts, its facts, its plot.

Events read are exact and checked exactly. Seconds are only checked to be positive here; the
timing facts of :func:`shape_summary` are checked on lengths 100 times apart, where they hold
with a wide margin (the notebook prints them in a checked cell, so they must hold in CI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import matplotlib
import pandas as pd
import pytest

from esteach import DuckDBEventStore, EventStore, InMemoryEventStore
from esteach.domains.user import User
from esteach.notebook.measure import (
    COLUMNS,
    STRATEGIES,
    measure_loads,
    plot_loads,
    shape_summary,
    user_stream,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt

STORES: dict[str, Callable[[], EventStore]] = {
    "in-memory": InMemoryEventStore,
    "duckdb": lambda: DuckDBEventStore(":memory:"),
}
LENGTHS = [10, 100, 1000]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return measure_loads(STORES, LENGTHS, repeats=5, interval=100)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def rows(frame: pd.DataFrame, strategy: str) -> pd.DataFrame:
    return frame[frame["strategy"] == strategy]


def test_user_stream_is_one_valid_user_stream() -> None:
    events = user_stream(5)
    assert [e.version for e in events] == [1, 2, 3, 4, 5]
    user = User.load_from_events(events)
    assert (user.version, user.name, user.status) == (5, "Ada 5", "active")
    assert [e.id for e in user_stream(5)] == [e.id for e in events]  # seeded: the same ids


def test_user_stream_refuses_an_empty_stream() -> None:
    with pytest.raises(ValueError, match="at least 1 event"):
        user_stream(0)


def test_frame_has_one_row_per_store_strategy_and_length(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == len(STORES) * len(STRATEGIES) * len(LENGTHS)
    keys = list(zip(frame["store"], frame["strategy"], frame["length"], strict=True))
    assert keys == [
        (store, strategy, length)
        for store in sorted(STORES)
        for strategy in STRATEGIES
        for length in LENGTHS
    ]
    assert (frame["seconds"] > 0).all()


def test_events_read_are_exact(frame: pd.DataFrame) -> None:
    for store in STORES:
        mine = frame[frame["store"] == store]
        assert rows(mine, "full replay")["events_read"].tolist() == [10, 100, 1000]
        # The snapshot sits where the every-100 policy leaves it: none yet below 100 events.
        assert rows(mine, "snapshot")["events_read"].tolist() == [10, 0, 0]
        assert rows(mine, "cache hit")["events_read"].tolist() == [0, 0, 0]


def test_sources_say_where_each_load_started(frame: pd.DataFrame) -> None:
    assert set(rows(frame, "full replay")["source"]) == {"replay"}
    assert rows(frame, "snapshot")["source"].tolist() == ["replay", "snapshot", "snapshot"] * 2
    assert set(rows(frame, "cache hit")["source"]) == {"cache"}


def test_snapshot_tail_is_the_length_modulo_the_interval() -> None:
    frame = measure_loads(InMemoryEventStore, [7, 25, 60], repeats=1, interval=20)
    assert set(frame["store"]) == {"InMemoryEventStore"}
    assert rows(frame, "snapshot")["events_read"].tolist() == [7, 5, 0]


def test_every_fact_holds_on_both_stores() -> None:
    # Up to 10,000 events, as notebook 05 at test size: on a busy machine a 1,000-event DuckDB
    # replay is still mostly one query's fixed cost, and "full replay grows" could fail.
    frame = measure_loads(STORES, [10, 100, 10_000], repeats=3, interval=100)
    summary = shape_summary(frame, interval=100)
    assert sorted(summary.columns) == sorted(STORES)
    assert len(summary) == 7
    assert summary.to_numpy().all(), summary


def test_a_fact_that_does_not_hold_says_false(frame: pd.DataFrame) -> None:
    broken = frame.copy()
    broken.loc[broken["strategy"] == "cache hit", "events_read"] = 1
    summary = shape_summary(broken)
    assert not summary.loc["cache hit reads 0 events"].any()
    assert summary.loc["full replay reads every event"].all()


def test_plot_has_one_line_per_strategy_in_every_panel(frame: pd.DataFrame) -> None:
    from matplotlib.figure import Figure

    figure = plot_loads(frame)
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert len(axes) == 2 * len(STORES)  # seconds and events read, per store
    for ax in axes:
        assert [line.get_label() for line in ax.get_lines()] == list(STRATEGIES)
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert [ax.get_yscale() for ax in axes] == ["log", "log", "symlog", "symlog"]
    assert figure.get_suptitle()


def test_plot_shares_each_rows_y_axis_between_stores_and_tells_lines_apart(
    frame: pd.DataFrame,
) -> None:
    figure = plot_loads(frame)
    seconds_in_memory, seconds_duckdb, read_in_memory, read_duckdb = figure.get_axes()
    assert seconds_in_memory.get_shared_y_axes().joined(seconds_in_memory, seconds_duckdb)
    assert read_in_memory.get_shared_y_axes().joined(read_in_memory, read_duckdb)
    assert not seconds_in_memory.get_shared_y_axes().joined(seconds_in_memory, read_in_memory)
    looks = {(line.get_marker(), line.get_linestyle()) for line in seconds_in_memory.get_lines()}
    assert len(looks) == len(STRATEGIES), looks


def test_plot_of_events_read_only(frame: pd.DataFrame) -> None:
    figure = plot_loads(frame, ["events_read"])
    assert len(figure.get_axes()) == len(STORES)
    assert sum(len(ax.get_lines()) for ax in figure.get_axes()) == len(STORES) * 3


def test_plot_refuses_an_unknown_quantity(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="quantities"):
        plot_loads(frame, ["milliseconds"])


def test_measure_refuses_zero_repeats() -> None:
    with pytest.raises(ValueError, match="repeats"):
        measure_loads(InMemoryEventStore, [10], repeats=0)


def test_time_facts_compare_lengths_without_a_tail() -> None:
    # A snapshot load at 1,050 events reads a tail of 50 and is slower than one at 1,000; the
    # "flat" fact must not take that tail for growth with the stream's length.
    rows = []
    for length, tail_cost in ((10, 0.0), (1_000, 0.0), (1_050, 50.0)):
        for strategy, seconds, read in (
            ("full replay", length * 1.0, length),
            ("snapshot", 1.0 + tail_cost, length % 100 if length >= 100 else length),
            ("cache hit", 1.0, 0),
        ):
            rows.append(("s", strategy, length, "x", seconds * 1e-6, read))
    summary = shape_summary(pd.DataFrame(rows, columns=COLUMNS), interval=100)
    assert summary.loc["snapshot load time stays flat (< 3x)", "s"]
    assert summary.loc["full replay time grows with length (> 3x)", "s"]
