"""The benchmark suite: every esteach figure measured beside what it is compared with.

    python benchmarks/suite.py [--quick] [--only SECTIONS] [--users N] [--changes K]
                               [--repeats R] [--lengths 10,100,...] [--bulk-events N]
                               [--projection-events N] [--per-event-events N]
                               [--notebooks all|none|NAMES] [--no-eventsourcing]
                               [--no-postgres] [--out DIR]

Six sections, each comparison in the same run and (for commands) interleaved round by round,
so a slow moment of the machine touches them alike:

1. **commands**: N users created, then K ``ChangeName`` commands each, through
   ``CommandProcessor`` on the in-memory store, DuckDB ``:memory:``, a DuckDB file and a SQLite
   file (the file and DuckDB ones also with an ``AggregateCache``); against
   the raw limit (the same number of single-statement INSERT transactions, one row each, into a
   bare table made with ``esteach.store.duckdb_sql.SCHEMA``) in DuckDB and sqlite3; and the
   ``eventsourcing`` library (POPO and SQLite) doing the same commands on a tiny aggregate.
   Median commands/s over the rounds; p50/p99 latency over all commands of all rounds.
2. **bulk**: ``DuckDBEventStore.bulk_import`` of a sample log against a raw pandas
   ``INSERT INTO events SELECT * FROM df`` into the same table (timed with and without building
   the frame from the events); and one ``append_events`` of 10,000 events to a stream of a
   DuckDB file, through the columnar path and through the ``VALUES`` path.
3. **load**: one ``User`` stream of each length loaded by full replay, from a snapshot taken
   every 100 events and from the cache (``esteach.notebook.measure.measure_loads``), and by the
   eventsourcing library's repository without and with a snapshot.
4. **projection**: ``UserQueryModel`` over a sample log in a DuckDB file, reopened: ``read_all``,
   set-based rebuild, page catch-up of a new read model (``on_user_events``, 10,000 events a
   page), and per-event catch-up (on at most ``--per-event-events`` events); then the peak
   memory (VmHWM) of ``read_all`` paging and of page catch-up, each in a child process of its
   own.
5. **notebooks**: the numbered notebooks run top to bottom, each in a fresh kernel, at test
   size (``ESTEACH_SIZE=small``), and the whole sequence.
6. **postgres**: on one embedded PostgreSQL server (``esteach.store.postgres.local_server``):
   the command path with and without a cache against raw single-statement INSERT transactions
   and the eventsourcing library's PostgreSQL recorder; 1, 2 and 4 writer processes; catch-up
   reads; the latency of a live subscription (``benchmarks/on_postgres.py``). ``--no-postgres``
   leaves it out.

Prints a table and the ratios the project targets; saves ``suite.csv`` and ``loads.png``
under ``--out`` (default ``benchmarks/results``, which git ignores). ``--quick`` is a smoke
run: small defaults, one round, no 100,000-event stream, only notebook 00. The eventsourcing
rows need the ``bench`` extra (``pip install -e ".[bench]"``); without it they are skipped,
and said so.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import gc
import itertools
import json
import math
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from esteach import (
    AggregateCache,
    CommandProcessor,
    DuckDBEventStore,
    InMemoryEventStore,
    NewEvent,
)
from esteach.domains.user import ChangeName, CreateUser, User
from esteach.notebook.measure import measure_loads
from esteach.readmodels.users import UserQueryModel
from esteach.store.duckdb_sql import COLUMNS, DEFAULT_COLUMNAR_THRESHOLD, SCHEMA
from esteach.store.sqlite import SQLiteEventStore

sys.path.insert(0, str(Path(__file__).parent))
import on_postgres  # benchmarks/on_postgres.py: the PostgreSQL section
from projections import sample  # benchmarks/projections.py: the sample log

try:
    from tqdm import tqdm
except ImportError:  # the bench extra is not installed: no progress bars

    def tqdm(iterable: Iterable[Any], **_: Any) -> Iterable[Any]:  # type: ignore[no-redef]
        return iterable


try:
    import eventsourcing  # noqa: F401

    HAVE_EVENTSOURCING = True
except ImportError:
    HAVE_EVENTSOURCING = False

CSV_COLUMNS = ("section", "subject", "size", "value", "unit", "p50_ms", "p99_ms", "target", "met")
SNAPSHOT_INTERVAL = 100
MIN_SAMPLE = 0.005  # seconds: fast loads are timed in batches at least this long


# --- 1. commands --------------------------------------------------------------------------------


def command_plan(users: int, changes: int) -> list[tuple[str, str]]:
    """The commands of one round: ("create", name) then ("rename", name) per user and change."""
    plan = [("create", f"User {i}") for i in range(users)]
    plan += [("rename", f"User {i} ({k})") for k in range(changes) for i in range(users)]
    return plan


def esteach_runner(
    make_store: Callable[[], Any], cached: bool = False
) -> Callable[[int, int], list[float]]:
    def run(users: int, changes: int) -> list[float]:
        store = make_store()
        processor = CommandProcessor(store, User, cache=AggregateCache(users) if cached else None)
        latencies: list[float] = []
        try:
            for i in range(users):
                t = time.perf_counter()
                processor.process_command(CreateUser(f"user-{i}", f"u{i}@example.com", f"User {i}"))
                latencies.append(time.perf_counter() - t)
            for k in range(changes):
                for i in range(users):
                    t = time.perf_counter()
                    processor.process_command(ChangeName(f"user-{i}", f"User {i} ({k})"))
                    latencies.append(time.perf_counter() - t)
            assert store.head_position() == users * (1 + changes)
        finally:
            store.close()
        return latencies

    return run


def raw_rows(users: int, changes: int) -> list[tuple[Any, ...]]:
    """One events-table row per command, made before timing: the raw limit pays only the INSERT."""
    start = datetime(2024, 1, 1)
    rows: list[tuple[Any, ...]] = []
    versions: dict[int, int] = {}
    for position, (kind, name) in enumerate(command_plan(users, changes), start=1):
        i = (position - 1) % users
        versions[i] = versions.get(i, 0) + 1
        data = json.dumps({"name": name}) if kind == "create" else json.dumps({"new_name": name})
        event_type = "UserCreated" if kind == "create" else "UserNameChanged"
        rows.append(
            (position, f"user-{i}", versions[i], f"e{position}", "User", event_type,
             start + timedelta(microseconds=position), data, None, None, None, "bench", 1, None)
        )  # fmt: skip
    return rows


INSERT_ONE = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * 14)})"


def raw_duckdb_runner(path_factory: Callable[[], str]) -> Callable[[int, int], list[float]]:
    def run(users: int, changes: int) -> list[float]:
        conn = duckdb.connect(path_factory())
        conn.execute(SCHEMA)
        rows = raw_rows(users, changes)
        latencies = []
        for row in rows:  # autocommit: each INSERT is its own transaction
            t = time.perf_counter()
            conn.execute(INSERT_ONE, row)
            latencies.append(time.perf_counter() - t)
        assert conn.execute("SELECT count(*) FROM events").fetchall() == [(len(rows),)]
        conn.close()
        return latencies

    return run


def raw_sqlite_runner(
    path_factory: Callable[[], str], wal: bool = False
) -> Callable[[int, int], list[float]]:
    def run(users: int, changes: int) -> list[float]:
        conn = sqlite3.connect(path_factory(), isolation_level=None)  # autocommit
        if wal:  # the settings SQLiteEventStore uses
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)
        rows = raw_rows(users, changes)
        latencies = []
        for row in rows:
            t = time.perf_counter()
            conn.execute(INSERT_ONE, row)
            latencies.append(time.perf_counter() - t)
        assert conn.execute("SELECT count(*) FROM events").fetchall() == [(len(rows),)]
        conn.close()
        return latencies

    return run


@functools.cache  # eventsourcing refuses two classes under one topic: define them once
def eventsourcing_classes() -> tuple[type, type]:
    """A tiny eventsourcing aggregate (created, renamed) and an application sending commands."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Person(Aggregate):  # type: ignore[misc]
        @event("Created")
        def __init__(self, name: str) -> None:
            self.name = name

        @event("Renamed")
        def rename(self, name: str) -> None:
            self.name = name

    class People(Application):  # type: ignore[misc]
        def create(self, name: str) -> Any:
            person = Person(name)
            self.save(person)
            return person.id

        def rename(self, person_id: Any, name: str) -> None:
            person = self.repository.get(person_id)
            person.rename(name)
            self.save(person)

    return Person, People


def es_env(kind: str, scratch: Path, snapshots: bool = False) -> dict[str, str]:
    env = {"IS_SNAPSHOTTING_ENABLED": "y" if snapshots else "n"}
    if kind == "sqlite":
        fd, name = tempfile.mkstemp(suffix=".sqlite", dir=scratch)
        os.close(fd)
        env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name}
    return env


def eventsourcing_runner(
    make_env: Callable[[], dict[str, str]],
) -> Callable[[int, int], list[float]]:
    """The eventsourcing library's command loop, on a fresh application made with
    ``make_env()`` each run (a persistence module and its settings)."""
    _, people = eventsourcing_classes()

    def run(users: int, changes: int) -> list[float]:
        app = people(env=make_env())
        latencies = []
        ids = []
        for i in range(users):
            t = time.perf_counter()
            ids.append(app.create(f"User {i}"))
            latencies.append(time.perf_counter() - t)
        for k in range(changes):
            for i, person_id in enumerate(ids):
                t = time.perf_counter()
                app.rename(person_id, f"User {i} ({k})")
                latencies.append(time.perf_counter() - t)
        app.close()
        return latencies

    return run


def bench_commands(args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    counter = iter(range(1_000_000))

    def file(suffix: str) -> Callable[[], str]:
        return lambda: str(scratch / f"cmd-{next(counter)}.{suffix}")

    runners: dict[str, Callable[[int, int], list[float]]] = {
        "esteach in-memory": esteach_runner(InMemoryEventStore),
        "esteach duckdb :memory:": esteach_runner(lambda: DuckDBEventStore(":memory:")),
        "esteach duckdb file": esteach_runner(lambda: DuckDBEventStore(file("duckdb")())),
        "esteach duckdb :memory: + cache": esteach_runner(
            lambda: DuckDBEventStore(":memory:"), cached=True
        ),
        "esteach duckdb file + cache": esteach_runner(
            lambda: DuckDBEventStore(file("duckdb")()), cached=True
        ),
        "esteach sqlite file": esteach_runner(lambda: SQLiteEventStore(file("sqlite")())),
        "esteach sqlite file + cache": esteach_runner(
            lambda: SQLiteEventStore(file("sqlite")()), cached=True
        ),
        "raw duckdb :memory: INSERT": raw_duckdb_runner(lambda: ":memory:"),
        "raw duckdb file INSERT": raw_duckdb_runner(file("duckdb")),
        "raw sqlite3 :memory: INSERT": raw_sqlite_runner(lambda: ":memory:"),
        "raw sqlite3 file INSERT": raw_sqlite_runner(file("sqlite")),
        "raw sqlite3 file INSERT (WAL, synchronous=NORMAL)": raw_sqlite_runner(
            file("sqlite"), wal=True
        ),
    }
    if args.eventsourcing:
        runners["eventsourcing POPO"] = eventsourcing_runner(lambda: es_env("popo", scratch))
        runners["eventsourcing SQLite file"] = eventsourcing_runner(
            lambda: es_env("sqlite", scratch)
        )
    rates: dict[str, list[float]] = {name: [] for name in runners}
    latencies: dict[str, list[float]] = {name: [] for name in runners}
    rounds = [(r, name) for r in range(args.repeats) for name in runners]
    for _, name in tqdm(rounds, desc="commands", unit="run", leave=False):
        lat = runners[name](args.users, args.changes)
        rates[name].append(len(lat) / sum(lat))
        latencies[name] += lat
    rows = []
    for name in runners:
        lat = sorted(latencies[name])
        rows.append(
            row("commands", name, args.users * (1 + args.changes), statistics.median(rates[name]),
                "commands/s", p50_ms=statistics.median(lat) * 1000,
                p99_ms=lat[max(0, math.ceil(len(lat) * 0.99) - 1)] * 1000)
        )  # fmt: skip
    return rows


# --- 1b. batch appends to the in-memory store, from threads -------------------------------------

BATCH_THREADS, BATCH_SIZE = 4, 50


def settle_collector() -> None:
    """A full garbage collection before a timed run. Otherwise whether CPython's occasional
    full collection (130 ms over this suite's heap, most of it objects of earlier
    measurements) lands inside one side's timed window is luck: in the batches comparison it
    moved the ratio between 0.85x and 1.16x from run to run with the same code."""
    gc.collect()


def threaded(work: Callable[[int], None], threads: int) -> float:
    """Seconds for ``threads`` threads to run ``work(thread_number)`` each."""
    import threading

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    settle_collector()
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started


def bench_batches(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The eventsourcing library's recorder throughput test, as both sides run it: 4 threads
    appending 50-event batches to new streams, the events made before the clock starts."""
    from esteach import NewEvent

    per_thread = max(1, args.bulk_events // (BATCH_THREADS * BATCH_SIZE))
    total = per_thread * BATCH_THREADS * BATCH_SIZE
    data = {"name": "Ada", "n": 1, "tags": ["a", "b"]}
    rates: dict[str, list[float]] = {"esteach in-memory 50-event batches": []}
    if args.eventsourcing:
        rates["eventsourcing POPO recorder 50-event batches"] = []
    for _ in tqdm(range(args.repeats), desc="batches", unit="round", leave=False):
        store = InMemoryEventStore()
        # Made with their ids, as a caller that retries safely makes them (eventsourcing's
        # stored events carry their identity, stream and version, too).
        ids = iter(range(total))
        mine = [
            [
                [NewEvent("ItemAdded", data, id=f"e-{next(ids)}") for _ in range(BATCH_SIZE)]
                for _ in range(per_thread)
            ]
            for _ in range(BATCH_THREADS)
        ]

        def esteach_work(n: int, store: Any = store, mine: Any = mine) -> None:
            for b, batch in enumerate(mine[n]):
                store.append_events(f"s-{n}-{b}", 0, batch)

        rates["esteach in-memory 50-event batches"].append(
            total / threaded(esteach_work, BATCH_THREADS)
        )
        assert store.head_position() == total
        if args.eventsourcing:
            import uuid

            from eventsourcing.persistence import StoredEvent
            from eventsourcing.popo import POPOAggregateRecorder

            recorder = POPOAggregateRecorder()
            state = json.dumps(data).encode()
            theirs = [
                [
                    [StoredEvent(stream, v, "ItemAdded", state) for v in range(1, BATCH_SIZE + 1)]
                    for stream in (uuid.uuid4() for _ in range(per_thread))
                ]
                for _ in range(BATCH_THREADS)
            ]

            def es_work(n: int, recorder: Any = recorder, theirs: Any = theirs) -> None:
                for batch in theirs[n]:
                    recorder.insert_events(batch)

            rates["eventsourcing POPO recorder 50-event batches"].append(
                total / threaded(es_work, BATCH_THREADS)
            )
    return [
        row("batches", name, total, statistics.median(values), "events/s")
        for name, values in rates.items()
    ]


# --- 2. bulk import -----------------------------------------------------------------------------


def frame_of(events: list[Any]) -> pd.DataFrame:
    """The events as a DataFrame in the table's column order (what a raw import would build)."""
    return pd.DataFrame(
        {
            "global_position": range(1, len(events) + 1),
            "aggregate_id": [e.aggregate_id for e in events],
            "version": [e.version for e in events],
            "id": [e.id for e in events],
            "aggregate_type": [e.aggregate_type for e in events],
            "event_type": [e.event_type for e in events],
            "timestamp": [e.timestamp.replace(tzinfo=None) for e in events],
            "data": [json.dumps(e.data, separators=(",", ":")) for e in events],
            "correlation_id": [e.metadata.correlation_id for e in events],
            "causation_id": [e.metadata.causation_id for e in events],
            "user_id": [e.metadata.user_id for e in events],
            "source": [e.metadata.source for e in events],
            "schema_version": [e.metadata.schema_version for e in events],
            "headers": [None for e in events],  # the sample carries no headers
        }
    )


def bench_bulk(args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    events = sample(args.bulk_events)
    times: dict[str, list[float]] = {
        "esteach bulk_import": [],
        "raw pandas INSERT (incl. building frame)": [],
        "raw pandas INSERT (frame prebuilt)": [],
    }
    for _ in tqdm(range(args.repeats), desc="bulk", unit="round", leave=False):
        with DuckDBEventStore(":memory:") as store:
            settle_collector()
            t = time.perf_counter()
            assert store.bulk_import(events) == len(events)
            times["esteach bulk_import"].append(time.perf_counter() - t)
        for prebuilt in (False, True):
            conn = duckdb.connect(":memory:")
            conn.execute(SCHEMA)
            df = frame_of(events) if prebuilt else None
            settle_collector()
            t = time.perf_counter()
            if df is None:
                df = frame_of(events)
            conn.execute("INSERT INTO events SELECT * FROM df")
            elapsed = time.perf_counter() - t
            assert conn.execute("SELECT count(*) FROM events").fetchall() == [(len(events),)]
            conn.close()
            how = "frame prebuilt" if prebuilt else "incl. building frame"
            key = f"raw pandas INSERT ({how})"
            times[key].append(elapsed)
    rows = [
        row("bulk", name, len(events), len(events) / statistics.median(seconds), "events/s")
        for name, seconds in times.items()
    ]
    return rows + bench_big_append(args, scratch)


APPEND_EVENTS = 10_000


def bench_big_append(args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    """One append of 10,000 events to a stream of a DuckDB file: columnar, and by VALUES."""
    counter = itertools.count()
    paths = {"columnar": DEFAULT_COLUMNAR_THRESHOLD, "VALUES": 10**9}
    times: dict[str, list[float]] = {how: [] for how in paths}
    for _ in tqdm(range(args.repeats), desc="append", unit="round", leave=False):
        for how, threshold in paths.items():
            path = scratch / f"append-{next(counter)}.duckdb"
            with DuckDBEventStore(path, columnar_threshold=threshold) as store:
                store.append_events("other", 0, [NewEvent("Warmed", {})])  # opened, written
                batch = [NewEvent("ThingHappened", {"n": i, "text": f"thing {i}"})
                         for i in range(APPEND_EVENTS)]  # fmt: skip
                t = time.perf_counter()
                store.append_events("big", 0, batch)
                times[how].append(time.perf_counter() - t)
                assert store.stream_version("big") == APPEND_EVENTS
    return [
        row(
            "bulk",
            f"one {APPEND_EVENTS:,}-event append_events (duckdb file, {how})",
            APPEND_EVENTS,
            APPEND_EVENTS / statistics.median(seconds),
            "events/s",
        )
        for how, seconds in times.items()
    ]


# --- 3. aggregate loads -------------------------------------------------------------------------


def time_per_call(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of one call, fast calls timed in batches of at least MIN_SAMPLE."""
    t = time.perf_counter()
    fn()  # warm-up, and sizes the batch
    number = max(1, min(1000, math.ceil(MIN_SAMPLE / max(time.perf_counter() - t, 1e-9))))
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) / number)
    return statistics.median(samples)


def eventsourcing_loads(lengths: list[int], repeats: int, scratch: Path) -> list[dict[str, Any]]:
    person, people = eventsourcing_classes()
    rows = []
    for kind, label in (("popo", "eventsourcing POPO"), ("sqlite", "eventsourcing SQLite file")):
        for length in tqdm(lengths, desc=f"loads {label}", unit="stream", leave=False):
            for snapshots in (False, True):
                # The same stream in an application without and one with a snapshot store.
                app = people(env=es_env(kind, scratch, snapshots=snapshots))
                aggregate = person("Ada 1")
                for version in range(2, length + 1):
                    aggregate.rename(f"Ada {version}")
                app.save(aggregate)  # one save of every event: fast to set up, same stream
                taken_at = length - length % SNAPSHOT_INTERVAL
                if snapshots and taken_at:
                    app.take_snapshot(aggregate.id, version=taken_at)
                seconds = time_per_call(
                    lambda app=app, a=aggregate: app.repository.get(a.id), repeats
                )
                got = app.repository.get(aggregate.id)
                assert got.version == length and got.name == f"Ada {length}", (got.version, length)
                strategy = "snapshot" if snapshots else "full replay"
                rows.append(row("load", f"{label} {strategy}", length, seconds, "s/load"))
                app.close()
    return rows


def bench_loads(args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    counter = iter(range(1_000_000))
    factories = {
        "esteach in-memory": InMemoryEventStore,
        "esteach duckdb file": lambda: DuckDBEventStore(scratch / f"load-{next(counter)}.duckdb"),
    }
    rows = []
    for name, factory in tqdm(factories.items(), desc="loads esteach", unit="store", leave=False):
        frame = measure_loads(
            factory, args.lengths, repeats=args.repeats, interval=SNAPSHOT_INTERVAL
        )
        for r in frame.itertuples():
            rows.append(row("load", f"{name} {r.strategy}", r.length, r.seconds, "s/load"))
    if args.eventsourcing:
        rows += eventsourcing_loads(args.lengths, args.repeats, scratch)
    return rows


# --- 4. projections -----------------------------------------------------------------------------


class UsersEventByEvent(UserQueryModel):
    """The users read model with its per-event handlers only: one statement per event."""

    page_handlers = {}  # noqa: RUF012


def bench_projection(args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    rows = []
    sizes = {"full": args.projection_events, "per-event": min(args.projection_events,
                                                              args.per_event_events)}  # fmt: skip
    paths = {}
    for key, n in sizes.items():
        path = scratch / f"projection-{key}.duckdb"
        with DuckDBEventStore(path) as store:
            store.bulk_import(sample(n))
        paths[key] = path
    for _ in tqdm(range(args.repeats), desc="projection", unit="round", leave=False):
        with DuckDBEventStore(paths["full"]) as store:  # reopened: read from the file
            n = sizes["full"]
            t = time.perf_counter()
            assert len(store.read_all()) == n
            rows.append(row("projection", "read_all (duckdb file)", n,
                            n / (time.perf_counter() - t), "events/s"))  # fmt: skip
            model = UserQueryModel(store)
            t = time.perf_counter()
            applied = model.rebuild(set_based=True)
            rows.append(row("projection", "set-based rebuild (duckdb file)", applied,
                            applied / (time.perf_counter() - t), "events/s"))  # fmt: skip
            model = UserQueryModel(store)  # a new read model: catch-up, not a rebuild
            t = time.perf_counter()
            applied = model.catch_up()  # by page (on_user_events), 10,000 events a page
            rows.append(row("projection", "page catch-up (duckdb file)", applied,
                            applied / (time.perf_counter() - t), "events/s"))  # fmt: skip
        with DuckDBEventStore(paths["per-event"]) as store:
            model = UsersEventByEvent(store)
            t = time.perf_counter()
            applied = model.catch_up()
            rows.append(row("projection", "per-event catch-up (duckdb file)", applied,
                            applied / (time.perf_counter() - t), "events/s"))  # fmt: skip
    # One row per subject: the median over the rounds.
    merged: dict[str, dict[str, Any]] = {}
    for r in rows:
        merged.setdefault(r["subject"], {**r, "values": []})["values"].append(r["value"])
    medians = [
        {**{k: v for k, v in r.items() if k != "values"}, "value": statistics.median(r["values"])}
        for r in merged.values()
    ]
    return medians + peak_memory(paths["full"], sizes["full"])


MEMORY_CASES = {
    "read_all": "peak RSS: read_all in pages of 10,000 (duckdb file)",
    "catch_up": "peak RSS: page catch-up of UserQueryModel (duckdb file)",
}


def peak_memory(path: Path, n: int) -> list[dict[str, Any]]:
    """Each case in a fresh child process, so that each peak is its own (the parent's heap,
    and the cases before, would otherwise set the high-water mark)."""
    import multiprocessing

    rows = []
    context = multiprocessing.get_context("spawn")
    for case, subject in MEMORY_CASES.items():
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=memory_case, args=(case, str(path), sender))
        child.start()
        events, peak_kib = receiver.recv()
        child.join()
        assert events == n, (case, events, n)
        rows.append(row("projection", subject, n, peak_kib / 1024, "MiB"))
    return rows


def memory_case(case: str, path: str, sender: Any) -> None:
    """In a child process: run one case over the whole file, send (events, peak RSS in KiB)."""
    import resource

    with DuckDBEventStore(path, read_only=True) as store:
        if case == "read_all":
            seen, position = 0, 0
            while page := store.read_all(position + 1, limit=10_000):
                seen += len(page)
                position = page[-1].global_position
        else:
            seen = UserQueryModel(store).catch_up()
    # Linux keeps ru_maxrss across the fork and exec that start this child, so it would
    # report the parent's size at the fork when that is larger; VmHWM is this process's own
    # high-water mark. ru_maxrss (KiB on Linux) where there is no /proc.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with contextlib.suppress(OSError):
        status = Path("/proc/self/status").read_text()
        [peak] = [int(line.split()[1]) for line in status.splitlines() if "VmHWM:" in line]
    sender.send((seen, peak))


# --- 5. notebooks -------------------------------------------------------------------------------

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def numbered_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def bench_notebooks(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run the numbered notebooks top to bottom in a fresh kernel each, at test size."""
    if args.notebooks == "none":
        return []
    import nbformat

    sys.path.insert(0, str(NOTEBOOKS.parent / "tools"))
    from build_notebooks import execute  # how the notebooks are built: a fresh kernel each

    paths = numbered_notebooks()
    if args.notebooks != "all":
        names = set(args.notebooks.split(","))
        paths = [p for p in paths if p.stem in names]
    os.environ["ESTEACH_SIZE"] = "small"  # the kernels inherit it: the size the tests run at
    rows, total = [], 0.0
    for path in tqdm(paths, desc="notebooks", unit="nb", leave=False):
        notebook = nbformat.read(path, as_version=4)
        t = time.perf_counter()
        execute(notebook, timeout=600)
        took = time.perf_counter() - t
        total += took
        rows.append(row("notebooks", path.stem, len(notebook.cells), took, "s"))
    if paths:
        rows.append(row("notebooks", "whole sequence", len(paths), total, "s"))
    return rows


# --- table, ratios, files -----------------------------------------------------------------------


def row(
    section: str, subject: str, size: int, value: float, unit: str, **extra: Any
) -> dict[str, Any]:
    return {"section": section, "subject": subject, "size": size, "value": value, "unit": unit,
            "p50_ms": extra.get("p50_ms", ""), "p99_ms": extra.get("p99_ms", ""),
            "target": "", "met": ""}  # fmt: skip


def find(rows: list[dict[str, Any]], subject: str, size: int | None = None) -> float | None:
    for r in rows:
        if r["subject"] == subject and (size is None or r["size"] == size):
            return float(r["value"])
    return None


def ratios(rows: list[dict[str, Any]], lengths: list[int]) -> list[dict[str, Any]]:
    """The ratios the project targets, as rows (``met`` empty when one side was not measured)."""
    out = []

    def add(name: str, value: float | None, target: str, ok: Callable[[float], bool]) -> None:
        r = row("ratio", name, 0, value if value is not None else float("nan"), "x")
        r["target"] = target
        r["met"] = "" if value is None else ("yes" if ok(value) else "no")
        out.append(r)

    def div(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    for where in ("file", ":memory:"):
        raw = find(rows, f"raw duckdb {where} INSERT")
        add(f"duckdb {where} command path (AggregateCache) / raw single-statement INSERT",
            div(find(rows, f"esteach duckdb {where} + cache"), raw),
            ">= 0.7", lambda v: v >= 0.7)  # fmt: skip
        # Without a cache every command runs two statements (load, append) to raw's one.
        add(f"duckdb {where} command path (no cache) / raw single-statement INSERT",
            div(find(rows, f"esteach duckdb {where}"), raw),
            "(>= 0.7)", lambda v: v >= 0.7)  # fmt: skip
    add("sqlite file command path (AggregateCache) / eventsourcing SQLite file",
        div(find(rows, "esteach sqlite file + cache"), find(rows, "eventsourcing SQLite file")),
        ">= 1.5", lambda v: v >= 1.5)  # fmt: skip
    add("sqlite file command path (AggregateCache) / raw sqlite3 INSERT (same settings)",
        div(find(rows, "esteach sqlite file + cache"),
            find(rows, "raw sqlite3 file INSERT (WAL, synchronous=NORMAL)")),
        "(>= 0.7)", lambda v: v >= 0.7)  # fmt: skip
    add("in-memory 50-event batches from 4 threads / eventsourcing POPO recorder",
        div(find(rows, "esteach in-memory 50-event batches"),
            find(rows, "eventsourcing POPO recorder 50-event batches")),
        ">= 1", lambda v: v >= 1)  # fmt: skip
    add(f"one {APPEND_EVENTS:,}-event append (columnar) events/s / 100,000",
        div(find(rows, f"one {APPEND_EVENTS:,}-event append_events (duckdb file, columnar)"),
            100_000.0),
        ">= 1", lambda v: v >= 1)  # fmt: skip
    # The target is against the prebuilt frame (DuckDB's own cost of the insert);
    # the frame built in the timing is the fairer comparison, shown beside it.
    add("bulk_import / raw pandas INSERT (frame prebuilt)",
        div(find(rows, "esteach bulk_import"), find(rows, "raw pandas INSERT (frame prebuilt)")),
        ">= 0.5", lambda v: v >= 0.5)  # fmt: skip
    add("bulk_import / raw pandas INSERT (incl. building frame)",
        div(find(rows, "esteach bulk_import"),
            find(rows, "raw pandas INSERT (incl. building frame)")),
        "(>= 0.5)", lambda v: v >= 0.5)  # fmt: skip
    if 10_000 in lengths:
        add("10k full replay: eventsourcing SQLite / esteach duckdb file",
            div(find(rows, "eventsourcing SQLite file full replay", 10_000),
                find(rows, "esteach duckdb file full replay", 10_000)),
            ">= 4", lambda v: v >= 4)  # fmt: skip
    longest = max(lengths)
    if 100 in lengths and longest > 100:
        for store in ("esteach duckdb file", "esteach in-memory"):
            add(f"{store} snapshot load {longest:,} / 100",
                div(find(rows, f"{store} snapshot", longest), find(rows, f"{store} snapshot", 100)),
                "<= 2", lambda v: v <= 2)  # fmt: skip
    pg_raw = find(rows, "raw postgres INSERT")
    add(
        "postgres command path (AggregateCache) / raw single-statement INSERT",
        div(find(rows, "esteach postgres + cache"), pg_raw),
        ">= 0.7",
        lambda v: v >= 0.7,
    )
    add(
        "postgres command path (no cache) / raw single-statement INSERT",
        div(find(rows, "esteach postgres"), pg_raw),
        "(>= 0.7)",
        lambda v: v >= 0.7,
    )
    add(
        "postgres command path (no cache) / eventsourcing postgres",
        div(find(rows, "esteach postgres"), find(rows, "eventsourcing postgres")),
        "> 1",
        lambda v: v > 1,
    )
    add(
        "postgres 4 writer processes / 1",
        div(find(rows, "writer processes: 4"), find(rows, "writer processes: 1")),
        ">= 1.5",
        lambda v: v >= 1.5,
    )
    add(
        "postgres 4 raw INSERT processes / 1 (the machine's own scaling)",
        div(find(rows, "raw INSERT processes: 4"), find(rows, "raw INSERT processes: 1")),
        "(>= 1.5)",
        lambda v: v >= 1.5,
    )
    add(
        "postgres catch-up read events/s / 50,000",
        div(find(rows, "catch-up read (read_all pages of 1,000)"), 50_000.0),
        ">= 1",
        lambda v: v >= 1,
    )
    add(
        "postgres subscription latency p50 ms / 10 ms",
        div(find(rows, "subscription: append to read model (follow)"), 10.0),
        "< 1",
        lambda v: v < 1,
    )
    add("page catch-up events/s from a duckdb file / 100,000",
        div(find(rows, "page catch-up (duckdb file)"), 100_000.0),
        ">= 1", lambda v: v >= 1)  # fmt: skip
    add("page catch-up / per-event catch-up (duckdb file)",
        div(find(rows, "page catch-up (duckdb file)"),
            find(rows, "per-event catch-up (duckdb file)")),
        "(>= 10)", lambda v: v >= 10)  # fmt: skip
    for subject in MEMORY_CASES.values():
        add(f"{subject} MiB / 1,024", div(find(rows, subject), 1024.0), "< 1", lambda v: v < 1)
    add("set-based rebuild events/s from a duckdb file / 2,000,000",
        div(find(rows, "set-based rebuild (duckdb file)"), 2_000_000.0),
        ">= 1", lambda v: v >= 1)  # fmt: skip
    return out


def fmt(value: Any, unit: str = "") -> str:
    if value == "" or value is None:
        return ""
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if unit == "s/load":
        return f"{value * 1000:.3f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    widths = (10, 74, 9, 16, 11, 8, 8, 8, 4)
    header = ("section", "subject", "size", "value", "unit", "p50 ms", "p99 ms", "target", "met")
    print(" ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        cells = (r["section"], r["subject"], f"{r['size']:,}" if r["size"] else "",
                 fmt(r["value"], r["unit"]), "" if r["unit"] in ("s/load", "x") else r["unit"],
                 fmt(r["p50_ms"]), fmt(r["p99_ms"]), r["target"], r["met"])  # fmt: skip
        print(" ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loads = pd.DataFrame([r for r in rows if r["section"] == "load"])
    figure, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for subject, group in loads.groupby("subject", sort=True):
        group = group.sort_values("size")
        style = "--" if str(subject).startswith("eventsourcing") else "-"
        ax.plot(group["size"], group["value"], style, marker="o", markersize=4, label=subject)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stream length (events)")
    ax.set_ylabel("seconds per load (median)")
    ax.set_title("Loading one aggregate: time against stream length")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="x-small")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, one round")
    parser.add_argument("--users", type=int, help="users per command run (default 500; quick 50)")
    parser.add_argument("--changes", type=int, help="ChangeName per user (default 3; quick 1)")
    parser.add_argument("--repeats", type=int, help="rounds per measurement (default 3; quick 1)")
    parser.add_argument("--lengths", help="stream lengths (default 10,100,1000,10000,100000; "
                        "quick without 100000)")  # fmt: skip
    parser.add_argument("--bulk-events", type=int, help="default 100000; quick 10000")
    parser.add_argument("--projection-events", type=int, help="default 1000000; quick 10000")
    parser.add_argument("--notebooks", help="which numbered notebooks to time, comma-separated "
                        "stems, 'all' or 'none' (default all; quick 00_setup_check)")  # fmt: skip
    parser.add_argument("--per-event-events", type=int, default=20_000,
                        help="per-event catch-up runs on at most this many events")  # fmt: skip
    parser.add_argument("--no-eventsourcing", dest="eventsourcing", action="store_false",
                        help="skip the eventsourcing library even if installed")  # fmt: skip
    parser.add_argument("--only", type=lambda text: set(text.split(",")), default=None,
                        help="run only these sections, comma-separated: commands, batches, "
                        "bulk, loads, projection, notebooks, postgres (default: all)")  # fmt: skip
    parser.add_argument("--no-postgres", dest="postgres", action="store_false",
                        help="skip the PostgreSQL section")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "users": 50 if quick else 500,
        "changes": 1 if quick else 3,
        "repeats": 1 if quick else 3,
        "lengths": "10,100,1000,10000" if quick else "10,100,1000,10000,100000",
        "bulk_events": 10_000 if quick else 100_000,
        "projection_events": 10_000 if quick else 1_000_000,
        "notebooks": "00_setup_check" if quick else "all",
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.lengths = sorted({int(x) for x in str(args.lengths).split(",")})
    if args.notebooks not in ("all", "none"):
        have = [p.stem for p in numbered_notebooks()]
        unknown = set(args.notebooks.split(",")) - set(have)
        if unknown:
            parser.error(f"--notebooks: no notebook {', '.join(sorted(unknown))} (have: "
                         f"{', '.join(have)}, or 'all' or 'none')")  # fmt: skip
    sections = {"commands", "batches", "bulk", "loads", "projection", "notebooks", "postgres"}
    if args.only is not None and not args.only <= sections:
        parser.error(f"--only: no section {', '.join(sorted(args.only - sections))} (have: "
                     f"{', '.join(sorted(sections))})")  # fmt: skip
    if args.eventsourcing and not HAVE_EVENTSOURCING:
        print("eventsourcing is not installed (pip install -e '.[bench]'): skipping its rows")
        args.eventsourcing = False
    return args


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="esteach-bench-") as name:
        yield Path(name)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    machine = (f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
               f"duckdb {duckdb.__version__}, sqlite {sqlite3.sqlite_version}")  # fmt: skip
    if args.eventsourcing:
        from importlib.metadata import version

        machine += f", eventsourcing {version('eventsourcing')}"
    print(machine)
    print(f"users={args.users} changes={args.changes} repeats={args.repeats} "
          f"lengths={args.lengths} bulk={args.bulk_events} "
          f"projection={args.projection_events} notebooks={args.notebooks}")  # fmt: skip
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    sections: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
        "commands": lambda scratch: bench_commands(args, scratch),
        "batches": lambda scratch: bench_batches(args),
        "bulk": lambda scratch: bench_bulk(args, scratch),
        "loads": lambda scratch: bench_loads(args, scratch),
        "projection": lambda scratch: bench_projection(args, scratch),
        "notebooks": lambda scratch: bench_notebooks(args),
        "postgres": lambda scratch: (
            on_postgres.bench(
                args, raw_rows, sample, row, eventsourcing_runner, tqdm, esteach_runner
            )
            if args.postgres
            else []
        ),
    }
    with scratch_dir() as scratch:
        for name, section in sections.items():
            if args.only is None or name in args.only:
                rows += section(scratch)
                gc.collect()
    rows += ratios(rows, args.lengths)
    print_table(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "suite.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    png_path = args.out / "loads.png"
    if any(r["section"] == "load" for r in rows):
        plot(rows, png_path)
    print(f"saved {csv_path} and {png_path} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
