"""The PostgreSQL section of benchmarks/suite.py, on one embedded server started for the run.

* **commands**: the suite's command plan through ``CommandProcessor`` on ``PostgresEventStore``
  without and with an ``AggregateCache``, against the raw limit (the same number of
  single-statement INSERT transactions into the store's own ``events`` table, by psycopg in
  autocommit) and the ``eventsourcing`` library's PostgreSQL recorder doing the same commands.
  Rounds interleaved; each run in a fresh schema.
* **writers**: 1, 2 and 4 writer processes, each creating and renaming its own users through
  ``CommandProcessor`` (no cache) on one schema, started together: commands/s of all of them.
* **raw INSERT processes: 1, 2, 4**: the same, each process sending as many single-row INSERT
  transactions instead: what the machine gives that many processes with no shared lock.
* **catch-up**: ``read_all`` in pages of 1,000 (what ``EventProcessor.catch_up`` reads) over a
  bulk-imported sample log of ``--projection-events``, and ``UserQueryModel.catch_up`` (its
  page handler, into a DuckDB read model, on at most ``--per-event-events``).
* **subscription**: a ``UserQueryModel`` following the store (``follow()``); for each command,
  the time from its append's commit (``process_command`` returned) until
  ``wait_for_position`` sees the event applied by the following thread.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from esteach import CommandProcessor
from esteach.domains.user import ChangeName, CreateUser, User
from esteach.readmodels.users import UserQueryModel
from esteach.store.postgres import COLUMNS, PostgresEventStore, local_server

_schemas = iter(range(1_000_000))


def fresh(url: str) -> PostgresEventStore:
    return PostgresEventStore(url, schema=f"bench_{next(_schemas)}")


@contextlib.contextmanager
def server() -> Iterator[str]:
    with (
        tempfile.TemporaryDirectory(prefix="esteach-pg-") as directory,
        local_server(directory) as url,
    ):
        yield url


def raw_runner(url: str, raw_rows: Callable[[int, int], list[tuple[Any, ...]]]) -> Any:
    import psycopg

    insert = f"INSERT INTO {{s}}.events ({COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"

    def run(users: int, changes: int) -> list[float]:
        store = fresh(url)  # the store's own table, indexes and trigger
        store.close()
        rows = raw_rows(users, changes)
        query = insert.replace("{s}", store.schema)
        latencies = []
        with psycopg.connect(url, autocommit=True) as conn:
            for r in rows:  # autocommit: each INSERT is its own transaction
                t = time.perf_counter()
                conn.execute(query, r)
                latencies.append(time.perf_counter() - t)
            [(count,)] = conn.execute(f"SELECT count(*) FROM {store.schema}.events").fetchall()
        assert count == len(rows)
        return latencies

    return run


def eventsourcing_env(url: str) -> dict[str, str]:
    """Settings for the eventsourcing library's PostgreSQL recorder, in a fresh schema."""
    import psycopg

    schema = f"es_{next(_schemas)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info.get("dbname", "postgres")),
        "POSTGRES_HOST": str(info["host"]),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(info.get("password", "")),
        "POSTGRES_SCHEMA": schema,
        "IS_SNAPSHOTTING_ENABLED": "n",
    }


def _writer(url: str, schema: str, name: str, users: int, changes: int, go: Any,
            results: Any) -> None:  # fmt: skip
    """One writer process: connect, say so, wait for the common start, run its commands."""
    store = PostgresEventStore(url, schema=schema)
    processor = CommandProcessor(store, User)
    results.put("ready")
    go.wait()
    started = time.time()
    for i in range(users):
        processor.process_command(CreateUser(f"{name}-{i}", f"{name}{i}@example.com", "U"))
    for k in range(changes):
        for i in range(users):
            processor.process_command(ChangeName(f"{name}-{i}", f"U {k}"))
    results.put((started, time.time(), users * (1 + changes)))
    store.close()


def _raw_writer(url: str, schema: str, name: str, users: int, changes: int, go: Any,
                results: Any) -> None:  # fmt: skip
    """A writer of raw single-row INSERTs, as many as ``_writer``'s commands: the machine's
    ceiling for that many processes, with no head row and no command path."""
    import psycopg

    insert = (f"INSERT INTO {schema}.events ({COLUMNS}) VALUES (%s, %s, %s, %s, 'User', "
              f"'UserRenamed', now(), '{{}}', NULL, NULL, NULL, 'bench', 1, NULL)")  # fmt: skip
    conn = psycopg.connect(url, autocommit=True)
    count = users * (1 + changes)
    offset = int(name[1:]) * count  # positions of its own: no two writers share one
    results.put("ready")
    go.wait()
    started = time.time()
    for i in range(count):
        conn.execute(insert, (offset + i + 1, f"{name}-{i}", 1, f"{name}-{i}"))
    results.put((started, time.time(), count))
    conn.close()


def writers_rate(url: str, processes: int, users: int, changes: int, raw: bool = False) -> float:
    """Commands/s of ``processes`` writers started together, each with its own users (or, with
    ``raw``, as many single-row INSERT transactions)."""
    store = fresh(url)
    store.close()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    go = context.Event()
    children = [
        context.Process(
            target=_writer, args=(url, store.schema, f"w{n}", users, changes, go, results)
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    assert [results.get(timeout=120) for _ in children] == ["ready"] * processes
    go.set()
    done = [results.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    started = min(d[0] for d in done)
    ended = max(d[1] for d in done)
    return sum(d[2] for d in done) / (ended - started)


def bench(args: Any, raw_rows: Callable[[int, int], list[tuple[Any, ...]]], sample: Any,
          row: Callable[..., dict[str, Any]], eventsourcing_runner: Any,
          progress: Any, esteach_runner: Any) -> list[dict[str, Any]]:  # fmt: skip
    """``esteach_runner(make_store, cached)`` and ``eventsourcing_runner(make_env)`` are the
    suite's command loops, run here on stores made by `fresh` and applications made by
    `eventsourcing_env` on this section's server."""
    rows = []
    with server() as url:
        runners: dict[str, Callable[[int, int], list[float]]] = {
            "esteach postgres": esteach_runner(lambda: fresh(url), cached=False),
            "esteach postgres + cache": esteach_runner(lambda: fresh(url), cached=True),
            "raw postgres INSERT": raw_runner(url, raw_rows),
        }
        if args.eventsourcing and importlib.util.find_spec("psycopg_pool") is None:
            print("eventsourcing's postgres extra is not installed (pip install -e '.[bench]'): "
                  "skipping its PostgreSQL row")  # fmt: skip
        elif args.eventsourcing:
            runners["eventsourcing postgres"] = eventsourcing_runner(lambda: eventsourcing_env(url))
        rates: dict[str, list[float]] = {name: [] for name in runners}
        latencies: dict[str, list[float]] = {name: [] for name in runners}
        rounds = [(r, name) for r in range(args.repeats) for name in runners]
        for _, name in progress(rounds, desc="postgres commands", unit="run", leave=False):
            lat = runners[name](args.users, args.changes)
            rates[name].append(len(lat) / sum(lat))
            latencies[name] += lat
        size = args.users * (1 + args.changes)
        for name in runners:
            lat = sorted(latencies[name])
            rows.append(
                row("postgres", name, size, statistics.median(rates[name]), "commands/s",
                    p50_ms=statistics.median(lat) * 1000,
                    p99_ms=lat[max(0, math.ceil(len(lat) * 0.99) - 1)] * 1000)
            )  # fmt: skip

        for processes in progress((1, 2, 4), desc="postgres writers", unit="run", leave=False):
            per = max(1, args.users // 2)
            rate = statistics.median(
                writers_rate(url, processes, per, args.changes) for _ in range(args.repeats)
            )
            rows.append(row("postgres", f"writer processes: {processes}", processes * per *
                            (1 + args.changes), rate, "commands/s"))  # fmt: skip
            raw = statistics.median(
                writers_rate(url, processes, per, args.changes, raw=True)
                for _ in range(args.repeats)
            )
            rows.append(row("postgres", f"raw INSERT processes: {processes}", processes * per *
                            (1 + args.changes), raw, "inserts/s"))  # fmt: skip

        n = args.projection_events
        per_event = min(n, args.per_event_events)
        store = fresh(url)
        store.bulk_import(sample(n))
        few = fresh(url)
        few.bulk_import(sample(per_event))
        reads, catch_ups = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            position, read = 0, 0
            while page := store.read_all(position + 1, limit=1000):
                read += len(page)
                position = page[-1].global_position
            assert read == n
            reads.append(n / (time.perf_counter() - t))
            model = UserQueryModel(few)
            t = time.perf_counter()
            assert model.catch_up() == per_event
            catch_ups.append(per_event / (time.perf_counter() - t))
            model.close()
        store.close()
        few.close()
        rows.append(row("postgres", "catch-up read (read_all pages of 1,000)", n,
                        statistics.median(reads), "events/s"))  # fmt: skip
        rows.append(row("postgres", "UserQueryModel page catch-up (DuckDB read model)",
                        per_event, statistics.median(catch_ups), "events/s"))  # fmt: skip

        store = fresh(url)
        model = UserQueryModel(store)
        processor = CommandProcessor(store, User)
        lat = []
        with model.processor.follow():
            for i in range(args.users):
                result = processor.process_command(CreateUser(f"u{i}", f"u{i}@example.com", "U"))
                t = time.perf_counter()  # the append has committed: now to the read model
                model.wait_for_position(result.position, timeout=10)
                lat.append(time.perf_counter() - t)
        assert model.get_user(f"u{args.users - 1}") is not None
        model.close()
        store.close()
        lat.sort()
        rows.append(row("postgres", "subscription: append to read model (follow)", len(lat),
                        statistics.median(lat) * 1000, "ms p50",
                        p50_ms=statistics.median(lat) * 1000,
                        p99_ms=lat[max(0, math.ceil(len(lat) * 0.99) - 1)] * 1000))  # fmt: skip
    return rows
