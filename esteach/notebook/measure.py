"""Load time against stream length: full replay, snapshot and cache, measured live.

Notebook 05 uses these helpers to measure what snapshots and caching save, in two currencies:

* **events read** per load, from each load's `LoadReport`: exact
  and the same on every machine, so a checked notebook cell can print it;
* **seconds** per load (the median of a few ``time.perf_counter`` readings): real, but
  different on every machine and every run, so only generous ratios of them are checked.

>>> from esteach import InMemoryEventStore
>>> frame = measure_loads(InMemoryEventStore, [10, 250], repeats=1)
>>> print(frame[["strategy", "length", "source", "events_read"]].to_string(index=False))
   strategy  length   source  events_read
full replay      10   replay           10
full replay     250   replay          250
   snapshot      10   replay           10
   snapshot     250 snapshot           50
  cache hit      10    cache            0
  cache hit     250    cache            0

matplotlib is imported only inside `plot_loads`, so measuring needs no plotting library.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from esteach.caching import AggregateCache
from esteach.domains.user import User
from esteach.errors import InvalidInput
from esteach.repository import LoadReport, Repository
from esteach.snapshots import DuckDBSnapshotStore, InMemorySnapshotStore, SnapshotStore
from esteach.store.base import EventStore, SQLEventLog
from esteach.testing import user_stream

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "COLUMNS",
    "QUANTITIES",
    "STRATEGIES",
    "measure_loads",
    "plot_loads",
    "shape_summary",
    "user_stream",
]

StoreFactory = Callable[[], EventStore]

STRATEGIES = ("full replay", "snapshot", "cache hit")
"""The three ways to load, in the order rows and plot lines come."""

COLUMNS = ("store", "strategy", "length", "source", "seconds", "events_read")
"""The columns of `measure_loads`' frame."""

QUANTITIES = ("seconds", "events_read")
"""What `plot_loads` can draw, one row of panels each."""

USER_ID = "user-1"
MIN_SAMPLE = 0.005  # seconds: fast loads are timed in batches at least this long
MAX_BATCH = 1000
START = datetime(2024, 1, 1, tzinfo=UTC)


def snapshot_store_for(store: EventStore) -> SnapshotStore:
    """The snapshot store that goes with ``store``: DuckDB beside DuckDB, memory beside memory."""
    if isinstance(store, SQLEventLog):
        return DuckDBSnapshotStore(":memory:")
    return InMemorySnapshotStore()


@dataclass
class _Stream:
    """One store holding one stream of ``length`` events, and a repository per strategy."""

    store: EventStore
    snapshots: SnapshotStore
    length: int
    repositories: dict[str, Repository[User]]
    number: dict[str, int] = field(default_factory=dict)  # loads per timed sample
    samples: dict[str, list[float]] = field(default_factory=dict)  # seconds per load
    reports: dict[str, LoadReport] = field(default_factory=dict)

    def close(self) -> None:
        if isinstance(self.snapshots, DuckDBSnapshotStore):
            self.snapshots.close()
        self.store.close()


def _prepare(store: EventStore, length: int, interval: int) -> _Stream:
    events = user_stream(length)
    store.bulk_import(events)
    snapshots = snapshot_store_for(store)
    stream = _Stream(
        store,
        snapshots,
        length,
        {
            "full replay": Repository(store, User),
            "snapshot": Repository(store, User, snapshots=snapshots, snapshot_interval=interval),
            "cache hit": Repository(store, User, cache=AggregateCache(8)),
        },
    )
    # The snapshot where the policy "at least `interval` events since the last one" leaves it
    # when every command appends one event: at the last multiple of `interval` (none yet
    # below `interval`). A load then reads the `length % interval` events after it.
    manager = stream.repositories["snapshot"].snapshots
    assert manager is not None
    taken_at = length - length % interval
    if taken_at > 0:
        manager.take(User.load_from_events(events[:taken_at]))
    stream.repositories["cache hit"].load(USER_ID)  # the one miss that fills the cache
    for strategy, repository in stream.repositories.items():
        # One untimed-for-the-result load warms up and sizes the samples: fast loads are
        # timed in batches of at least MIN_SAMPLE seconds, so timer and scheduler noise
        # average out, as `timeit` does.
        started = time.perf_counter()
        _, stream.reports[strategy] = repository.load_with_report(USER_ID)
        first = time.perf_counter() - started
        stream.number[strategy] = max(1, min(MAX_BATCH, math.ceil(MIN_SAMPLE / first)))
        stream.samples[strategy] = []
    return stream


def _sample(stream: _Stream, strategy: str) -> None:
    """Time one batch of loads, after one untimed; check each says what the first one said."""
    repository, number = stream.repositories[strategy], stream.number[strategy]
    expected = stream.reports[strategy]
    # One untimed load first: the rounds interleave strategies, and right after a long full
    # replay (which freed as many objects as it read) the next loads pay for that memory, not
    # for their own work.
    reports: list[LoadReport] = [repository.load_with_report(USER_ID)[1]]
    started = time.perf_counter()
    for _ in range(number):
        reports.append(repository.load_with_report(USER_ID)[1])
    stream.samples[strategy].append((time.perf_counter() - started) / number)
    if any(r.version != stream.length or r.events_read != expected.events_read for r in reports):
        raise RuntimeError(
            f"{strategy} loads of a {stream.length}-event stream disagree: {expected}, {reports}"
        )


def _measure_store(
    name: str, factory: StoreFactory, lengths: list[int], repeats: int, interval: int
) -> list[dict[str, Any]]:
    streams: list[_Stream] = []
    try:
        for length in lengths:
            store = factory()
            try:
                streams.append(_prepare(store, length, interval))
            except BaseException:
                store.close()
                raise
        collecting = gc.isenabled()
        gc.disable()  # as timeit does: a collection in one sample is noise, not load time
        try:
            # Rounds over every length and strategy, so that a slow moment of the machine
            # touches all of them alike instead of one whole length.
            for _ in range(repeats):
                for stream in streams:
                    for strategy in STRATEGIES:
                        _sample(stream, strategy)
        finally:
            if collecting:
                gc.enable()
    finally:
        for stream in streams:
            stream.close()
    store_name = name or (type(streams[0].store).__name__ if streams else "")
    return [
        {
            "store": store_name,
            "strategy": strategy,
            "length": stream.length,
            "source": stream.reports[strategy].source,
            "seconds": statistics.median(stream.samples[strategy]),
            "events_read": stream.reports[strategy].events_read,
        }
        for strategy in STRATEGIES
        for stream in streams
    ]


def measure_loads(
    make_store: StoreFactory | Mapping[str, StoreFactory],
    lengths: Iterable[int],
    *,
    repeats: int = 3,
    interval: int = 100,
) -> pd.DataFrame:
    """Measure loading one ``User`` stream of each length, three ways, on each store.

    ``make_store`` makes an empty event store (its class name names it in the frame), or is a
    mapping ``{name: factory}`` for several stores. For every store and length, a fresh store
    gets one stream of ``length`` events by ``bulk_import``, and three repositories load it:

    * ``full replay``: a `Repository` without snapshots or cache reads every event;
    * ``snapshot``: with a snapshot store holding the snapshot the every-``interval`` policy
      would have taken (none below ``interval``), a load reads only the events after it;
    * ``cache hit``: with an `AggregateCache` filled by one load before timing, a load
      reads nothing new.

    Each is timed in ``repeats`` rounds over all lengths; a fast load is timed as a batch of
    loads lasting at least a few milliseconds. Returns one row per (store, strategy, length)
    with the columns of `COLUMNS`: ``source`` and ``events_read`` come from the
    `LoadReport` (exact), ``seconds`` is the median time of one load.
    """
    if repeats < 1:
        raise InvalidInput(f"repeats must be >= 1, got {repeats}")
    factories: Mapping[str, StoreFactory] = (
        make_store if isinstance(make_store, Mapping) else {"": make_store}
    )
    lengths = list(lengths)
    rows: list[dict[str, Any]] = []
    for name, factory in factories.items():
        rows += _measure_store(name, factory, lengths, repeats, interval)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.sort_values(["store"], kind="stable").reset_index(drop=True)


def _seconds(rows: pd.DataFrame, strategy: str) -> list[float]:
    """Median seconds of one strategy, shortest stream first."""
    mine = rows[rows["strategy"] == strategy].sort_values("length")
    return [float(seconds) for seconds in mine["seconds"]]


def shape_summary(frame: pd.DataFrame, *, interval: int = 100, factor: float = 3.0) -> pd.DataFrame:
    """The facts the measurement should show, per store, as booleans (one row per fact).

    The events-read facts are exact. The time facts compare medians generously: at the
    longest stream against the shortest, more than ``factor`` times slower is "grows" and less
    than ``factor`` times is "stays flat"; and at the longest stream snapshot and cache loads
    must beat full replay. They compare only lengths with no tail to read after a snapshot
    (multiples of ``interval``, and lengths below it, which have no snapshot yet), so that a
    tail measured at other lengths does not pass for growth. They are meant for lengths at
    least 100 times apart, better 1,000: a 10-event load on DuckDB is mostly the cost of its
    query, and on a busy two-core machine (December 2026) full replay grew only about 3 times
    from 10 to 1,000 events, so "grows" sometimes failed; from 10 to 10,000 it held in every
    run (notebook 05 measures up to 10,000 events at test size).
    """
    facts: dict[str, dict[str, bool]] = {}
    for store, rows in frame.groupby("store", sort=True):
        read = {s: rows[rows["strategy"] == s] for s in STRATEGIES}
        no_tail = rows[(rows["length"] % interval == 0) | (rows["length"] < interval)]
        full, snapshot, cache = (_seconds(no_tail, s) for s in STRATEGIES)
        x = f"{factor:g}x"
        facts[str(store)] = {
            "full replay reads every event": bool(
                (read["full replay"]["events_read"] == read["full replay"]["length"]).all()
            ),
            f"snapshot load reads fewer than {interval} events": bool(
                (read["snapshot"]["events_read"] < interval).all()
            ),
            "cache hit reads 0 events": bool((read["cache hit"]["events_read"] == 0).all()),
            f"full replay time grows with length (> {x})": full[-1] / full[0] > factor,
            f"snapshot load time stays flat (< {x})": snapshot[-1] / snapshot[0] < factor,
            f"cache hit time stays flat (< {x})": cache[-1] / cache[0] < factor,
            "longest stream: snapshot and cache beat full replay": (
                max(snapshot[-1], cache[-1]) < full[-1]
            ),
        }
    summary = pd.DataFrame(facts)
    summary.index.name = "fact"
    return summary


def plot_loads(frame: pd.DataFrame, quantities: Sequence[str] = QUANTITIES) -> Figure:
    """Plot a `measure_loads` frame: one panel per store and quantity, one line per strategy.

    ``quantities`` picks the rows of panels: ``"seconds"`` (log-log) and/or ``"events_read"``
    (log length against a symmetric-log count, so that 0 events can show). The figure is made
    by pyplot, so in Jupyter ``plt.show()`` (or the end of the cell) shows it; elsewhere close
    it with ``plt.close(figure)`` when done.
    """
    import matplotlib.pyplot as plt

    unknown = [q for q in quantities if q not in QUANTITIES]
    if unknown or not quantities:
        raise InvalidInput(f"quantities must be some of {QUANTITIES}, got {tuple(quantities)}")
    stores = sorted(frame["store"].unique())
    figure = plt.figure(figsize=(4.8 * len(stores), 3.4 * len(quantities)), layout="constrained")
    # One y-axis per row, shared by the stores, so that their panels compare at a glance.
    axes = figure.subplots(len(quantities), len(stores), squeeze=False, sharey="row")
    labels = {
        "seconds": "seconds per load (median)",
        "events_read": "events read per load",
    }
    # Snapshot and cache lines can lie on each other (both at 0 events, or both a few
    # microseconds): a large hollow square around a small triangle, and a line style of
    # their own, keep both visible.
    styles = {
        "full replay": {"marker": "o", "markersize": 6, "linestyle": "-"},
        "snapshot": {"marker": "s", "markersize": 10, "linestyle": "--", "fillstyle": "none"},
        "cache hit": {"marker": "^", "markersize": 5, "linestyle": ":"},
    }
    for row, quantity in enumerate(quantities):
        for column, store in enumerate(stores):
            ax = axes[row][column]
            for strategy in STRATEGIES:
                rows = frame[(frame["store"] == store) & (frame["strategy"] == strategy)]
                rows = rows.sort_values("length")
                ax.plot(rows["length"], rows[quantity], label=strategy, **styles[strategy])
            ax.set_xscale("log")
            if quantity == "seconds":
                ax.set_yscale("log")
            else:
                ax.set_yscale("symlog", linthresh=1)
                ax.set_ylim(bottom=-0.5)
            ax.set_title(str(store))
            ax.set_xlabel("stream length (events)")
            ax.set_ylabel(labels[quantity])
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize="small")
    figure.suptitle("Loading one User: cost against stream length")
    return figure
