"""Commands per second through ``CommandProcessor`` on each store: a quick measurement.

    python benchmarks/commands.py [--users N] [--changes K] [--out DIR]

Creates N users, then sends K ``ChangeName`` commands to each, on the in-memory store, DuckDB in
memory and a DuckDB file, each without and with an ``AggregateCache``. Prints a table and saves
it as CSV under ``--out`` (default ``benchmarks/results``). The full benchmark suite, with its
comparisons against raw DuckDB, sqlite3 and the eventsourcing library, is a separate script.
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from esteach import (
    AggregateCache,
    CommandProcessor,
    DuckDBEventStore,
    EventStore,
    InMemoryEventStore,
)
from esteach.domains.user import ChangeName, CreateUser, User


def run(
    make_store: Callable[[], EventStore], cached: bool, users: int, changes: int
) -> dict[str, float]:
    store = make_store()
    processor = CommandProcessor(store, User, cache=AggregateCache(users) if cached else None)
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(users):
        t = time.perf_counter()
        processor.process_command(CreateUser(f"user-{i}", f"user{i}@example.com", f"User {i}"))
        latencies.append(time.perf_counter() - t)
    for k in range(changes):
        for i in range(users):
            t = time.perf_counter()
            processor.process_command(ChangeName(f"user-{i}", f"User {i} ({k})"))
            latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    assert store.head_position() == users * (1 + changes)
    latencies.sort()
    return {
        "commands": len(latencies),
        "commands_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--changes", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    counter = iter(range(1_000_000))
    stores: dict[str, Callable[[], EventStore]] = {
        "in-memory": InMemoryEventStore,
        "duckdb :memory:": lambda: DuckDBEventStore(":memory:"),
        "duckdb file": lambda: DuckDBEventStore(scratch / f"bench-{next(counter)}.duckdb"),
    }
    machine = f"python {platform.python_version()}, duckdb {duckdb.__version__}"
    print(f"{machine}, {args.users} users x (1 create + {args.changes} changes)")
    rows = []
    print(f"{'store':<16} {'cache':<6} {'commands/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for name, make in stores.items():
        for cached in (False, True):
            result = run(make, cached, args.users, args.changes)
            rows.append({"store": name, "cache": cached, **result})
            print(f"{name:<16} {'yes' if cached else 'no':<6} {result['commands_per_s']:>11.0f} "
                  f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "commands.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
