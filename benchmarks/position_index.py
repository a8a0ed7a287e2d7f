"""What the unique index on ``global_position`` costs an append (docs/bad-input.md, Faults).

Two DuckDB file stores in one process, one with the index and one without (dropped after
opening), take 1-event appends at known versions in alternating rounds, so both meet the same
machine load. Prints appends per second for each.

Usage: python benchmarks/position_index.py [ROUNDS] [APPENDS_PER_ROUND]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from esteach import DuckDBEventStore, NewEvent, StepClock


def main(rounds: int = 20, per_round: int = 250) -> None:
    with tempfile.TemporaryDirectory() as folder:
        stores = {
            "with the index": DuckDBEventStore(os.path.join(folder, "a.duckdb"), clock=StepClock()),
            "without it": DuckDBEventStore(os.path.join(folder, "b.duckdb"), clock=StepClock()),
        }
        stores["without it"].sql("DROP INDEX events_by_position")
        spent = dict.fromkeys(stores, 0.0)
        versions: dict[str, dict[str, int]] = {name: {} for name in stores}
        for round_ in range(rounds):
            order = list(stores.items())
            for name, store in order if round_ % 2 else reversed(order):
                started = time.perf_counter()
                for i in range(per_round):
                    stream = f"s{(round_ * per_round + i) % 500}"
                    version = versions[name].get(stream, 0)
                    event = NewEvent("ItemAdded", {"i": i, "name": "x" * 40})
                    store.append_events(stream, version, [event])
                    versions[name][stream] = version + 1
                spent[name] += time.perf_counter() - started
        for name, seconds in spent.items():
            events = stores[name].head_position()
            print(f"{name}: {rounds * per_round / seconds:,.0f} appends/s ({events:,} events)")
            stores[name].close()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
