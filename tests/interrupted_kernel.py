"""A stand-in for a notebook kernel under the stop button, for ``test_faults_signals.py``.

Usage: ``python interrupted_kernel.py DIR SECONDS``. It runs commands (create a user, rename
one), bulk imports and catch-up pages of a users read model in a loop, as a learner's cells
would; like IPython it catches ``KeyboardInterrupt`` and goes on **with the same objects**. The
parent sends SIGINTs meanwhile. After ``SECONDS`` it ignores SIGINT, checks the store and the read
model, and prints one JSON line: what it acknowledged, what went wrong, what it found.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import traceback
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from esteach import CommandProcessor, DuckDBEventStore, Event, UserQueryModel
from esteach.domains.user import ChangeName, CreateUser, User

BULK = 5_000  # events per bulk import


def main() -> None:
    directory, seconds = Path(sys.argv[1]), float(sys.argv[2])
    store = DuckDBEventStore(directory / "events.duckdb")
    # Every other command appends through the columnar path (a registered DataFrame), whose
    # Python code DuckDB runs: an interrupt can land there too. Both share the file's head.
    columnar = DuckDBEventStore(directory / "events.duckdb", columnar_threshold=1)
    # Bulk imports go to a file of their own: the read model need not page through them. In
    # chunks of 1,000 events, so that four of each import's five INSERTs run on a thread of
    # their own while the next chunk is checked: an interrupt lands beside them too.
    bulk = DuckDBEventStore(directory / "bulk.duckdb", bulk_chunk=1_000)
    paths = [CommandProcessor(store, User), CommandProcessor(columnar, User)]
    users = paths[0]
    model = UserQueryModel(store, database=directory / "users.duckdb")
    users.process_command(CreateUser("u-0", "u0@example.com", "User 0"))
    model.catch_up()
    created, renamed, imported = {"u-0"}, {}, []
    interrupts, bulk_interrupts, unexpected = 0, 0, Counter[str]()
    # Like a kernel, turn SIGINT into KeyboardInterrupt only while a "cell" runs (and once per
    # cell), so the loop's own bookkeeping is never hit. Inside a cell it lands anywhere: in
    # esteach's Python code, or in DuckDB, which then raises KeyboardInterrupt or
    # "RuntimeError: Query interrupted".
    cell = {"running": False}

    def on_sigint(signum: int, frame: object) -> None:
        if cell["running"]:
            cell["running"] = False
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    n = 1
    while time.monotonic() < deadline:
        users = paths[n % 2]
        try:
            cell["running"] = True
            if n % 5 == 4:  # a bulk import
                stream = f"b-{n}"
                at = datetime.now(UTC)
                bulk.bulk_import(
                    Event(f"{stream}-{v}", stream, "Batch", "ItemAdded", v, at, {"v": v})
                    for v in range(1, BULK + 1)
                )
                imported.append(stream)
            elif n % 3 == 2 and created:
                user = sorted(created)[n % len(created)]
                users.process_command(ChangeName(user, f"Renamed {n}"))
                renamed[user] = f"Renamed {n}"
            else:
                users.process_command(CreateUser(f"u-{n}", f"u{n}@example.com", f"User {n}"))
                created.add(f"u-{n}")
            model.catch_up(batch_size=3)
            cell["running"] = False
        except KeyboardInterrupt:
            interrupts += 1
            bulk_interrupts += n % 5 == 4
        except Exception as exc:  # the parent reports every one
            cell["running"] = False
            unexpected[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
            traceback.print_exc(file=sys.stderr)
        n += 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    [(count, distinct, top)] = store.sql(
        "SELECT count(*), count(DISTINCT global_position), max(global_position) FROM events"
    ).fetchall()
    model.catch_up()
    missing = [u for u in created if model.get_user(u) is None]
    # An interrupted command may have committed after all: the log decides each user's name,
    # and every acknowledged rename must be in it.
    stale, lost = [], []
    for user, name in renamed.items():
        names = [e.data["new_name"] for e in store.get_events(user) if "new_name" in e.data]
        if name not in names:
            lost.append(user)
        view = model.get_user(user)
        if view is None or view.name != names[-1]:
            stale.append(user)
    [(checkpoint,)] = model.processor.query("SELECT position FROM projection_checkpoints")
    # All or nothing: a bulk import's stream holds every event of it or none, and every
    # acknowledged one holds them all.
    batches = bulk.sql("SELECT aggregate_id, count(*) FROM events GROUP BY ALL").fetchall()
    partial = sorted(stream for stream, count in batches if count != BULK)
    unimported = sorted(set(imported) - {stream for stream, _ in batches})
    report = {
        "interrupts": interrupts,
        "unexpected": dict(unexpected),
        "rows": count,
        "distinct_positions": distinct,
        "max_position": top,
        "head": store.head_position(),
        "model_position": model.position,
        "stored_checkpoint": checkpoint,
        "missing_users": missing,
        "stale_names": stale,
        "lost_renames": lost,
        "acknowledged_creates": len(created),
        "acknowledged_bulk_imports": len(imported),
        "interrupted_bulk_imports": bulk_interrupts,
        "partial_bulk_imports": partial,
        "lost_bulk_imports": unimported,
    }
    columnar.close()
    store.close()
    bulk.close()
    with DuckDBEventStore(directory / "bulk.duckdb") as again:
        report["bulk_rows_after_reopen"] = again.head_position()
        report["bulk_rows"] = len(imported) * BULK
    with DuckDBEventStore(directory / "events.duckdb") as again:
        report["head_after_reopen"] = again.head_position()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
