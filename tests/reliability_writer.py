"""A child process for the reliability tests: it writes, holds or rebuilds a DuckDB file.

Not a test module (pytest collects only ``test_*.py``). The tests start it with
``sys.executable`` and talk to it through its stdout (one line per step, flushed) and stdin:

``append PATH``
    Appends commands of three events each, in a loop, until killed or ``--seconds`` pass.
    Command ``i`` goes to stream ``stream-{i % 5}`` with correlation id ``batch-{i}``, event ids
    ``b{i}-k{k}`` and data ``{"batch": i, "k": k}``; it prints ``i`` once the append returned.
    A rerun on the same file resumes after the last whole command it finds.
``hold PATH [--read-only]``
    Opens the file, prints ``ready <head>``, then obeys stdin: ``append`` appends one command
    and prints ``appended <head>``; ``close`` closes the store, prints ``closed`` and exits.
``bulk PATH COUNT``
    Bulk-imports COUNT events in one call, printing ``inserting`` just before the store's one
    INSERT statement starts (so a test can kill it in the middle of it) and ``imported`` after.
``rebuild STORE MODEL``
    Opens the event store read-only and rebuilds the users read model in the file MODEL, event
    by event, printing ``at <position>`` every 100 events and ``done <position>`` at the end.

Every mode gives up after ``--seconds`` (default 30): a child the test failed to kill cannot
outlive it for long.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import duckdb

from esteach import DuckDBEventStore, Event, EventMetadata, NewEvent
from esteach.projections import Handler, PageHandler
from esteach.readmodels.users import UserQueryModel

STREAMS = 5
EVENTS_PER_COMMAND = 3


def say(line: str) -> None:
    print(line, flush=True)


def command(i: int) -> tuple[str, list[NewEvent]]:
    """The stream and the three events of command ``i``."""
    metadata = EventMetadata(correlation_id=f"batch-{i}", causation_id=f"batch-{i}")
    events = [
        NewEvent("ItemAdded", {"batch": i, "k": k}, "Crash", metadata, id=f"b{i}-k{k}")
        for k in range(EVENTS_PER_COMMAND)
    ]
    return f"stream-{i % STREAMS}", events


def append_one(store: DuckDBEventStore, i: int) -> None:
    stream, events = command(i)
    store.append_events(stream, store.stream_version(stream), events)


def run_append(path: str) -> None:
    store = DuckDBEventStore(path, threads=1)
    head = store.head_position()
    if head % EVENTS_PER_COMMAND:
        say(f"partial {head}")  # the test fails on this line: a command was cut in two
        sys.exit(3)
    i = head // EVENTS_PER_COMMAND
    say(f"start {i}")
    while True:
        append_one(store, i)
        say(str(i))
        i += 1


def run_hold(path: str, read_only: bool) -> None:
    store = DuckDBEventStore(path, read_only=read_only)
    say(f"ready {store.head_position()}")
    for line in sys.stdin:
        if line.strip() == "append":
            append_one(store, store.head_position() // EVENTS_PER_COMMAND)
            say(f"appended {store.head_position()}")
        elif line.strip() == "close":
            break
    store.close()
    say("closed")


class Announcing:
    """A store's DuckDB connection that says ``inserting`` just before running an INSERT."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, query: str, *args: Any) -> duckdb.DuckDBPyConnection:
        if query.lstrip().startswith("INSERT"):
            say("inserting")
        return self._conn.execute(query, *args)


def run_bulk(path: str, count: int) -> None:
    store = DuckDBEventStore(path)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    events = [
        Event(
            id=f"bulk-{n}",
            aggregate_id=f"bulk-{n % 10}",
            aggregate_type="Bulk",
            event_type="ItemImported",
            version=n // 10 + 1,
            timestamp=start + timedelta(microseconds=n),
            data={"n": n},
        )
        for n in range(count)
    ]
    store._conn = Announcing(store._conn)  # type: ignore[assignment]
    store.bulk_import(events)
    say("imported")
    store.close()


def reporting(handler: Handler) -> Handler:
    def report(conn: object, event: Event) -> None:
        handler(conn, event)  # type: ignore[arg-type]
        if event.global_position % 100 == 0:
            say(f"at {event.global_position}")

    return report  # type: ignore[return-value]


def run_rebuild(store_path: str, model_path: str) -> None:
    class ReportingUsers(UserQueryModel):
        handlers: ClassVar[Mapping[str, Handler]] = {
            name: reporting(h) for name, h in UserQueryModel.handlers.items()
        }
        page_handlers: ClassVar[Mapping[str, PageHandler]] = {}  # event by event, reporting

    store = DuckDBEventStore(store_path, read_only=True)
    model = ReportingUsers(store, database=model_path)
    say("rebuilding")
    model.processor.rebuild(batch_size=1000)  # two pages and a bit of the test's log
    say(f"done {model.position}")
    model.close()
    store.close()


def give_up_after(seconds: float) -> None:
    def stop() -> None:
        say("timeout")
        os._exit(4)

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["append", "hold", "bulk", "rebuild"])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    give_up_after(args.seconds)
    modes: dict[str, Callable[[], None]] = {
        "append": lambda: run_append(args.paths[0]),
        "hold": lambda: run_hold(args.paths[0], args.read_only),
        "bulk": lambda: run_bulk(args.paths[0], int(args.paths[1])),
        "rebuild": lambda: run_rebuild(args.paths[0], args.paths[1]),
    }
    modes[args.mode]()


if __name__ == "__main__":
    main(sys.argv[1:])
