"""Measure notebook 05's load times once and save them as the reference figure it shows.

    .venv/bin/python tools/reference_figure.py [--repeats N] [--output PATH]

The stored copy of notebook 05 is built at test size without timings (they differ on every
run, and the build must give the same bytes twice), so a learner who only reads it, or reads
it on a code host, would see no time at all. This script runs the same measurement as the
notebook at full size (`esteach.notebook.measure`), on both stores, and writes a PNG whose
caption names the date, the machine and the versions, and says plainly that it is not the
reader's machine. Notebook 05's markdown shows it beside the live plot. Run it again after a
change that moves load times, and commit the new PNG.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, no window
import matplotlib.pyplot as plt

from esteach import DuckDBEventStore, EventStore, InMemoryEventStore
from esteach.notebook.measure import measure_loads, plot_loads

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "figures" / "05-load-times-reference.png"
# The lengths notebook 05 measures at full size: multiples of the snapshot interval (100), where
# the tail after the snapshot is empty, and 50 past them, where it is 50 events.
LENGTHS = [10, 100, 150, 1_000, 1_050, 10_000, 10_050, 100_000, 100_050]
INTERVAL = 100


def cpu_name() -> str:
    """The processor's model name (Linux's /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def caption(when: datetime) -> str:
    return (
        f"NOT YOUR MACHINE. Measured {when:%Y-%m-%d %H:%M} UTC by tools/reference_figure.py on "
        f"{cpu_name()} ({os.cpu_count()} cores, shared with other jobs), "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"DuckDB {version('duckdb')}, pandas {version('pandas')}, esteach {version('esteach')}.\n"
        f"Median of the repeats per point; snapshot interval {INTERVAL}. "
        "Run notebook 05 to measure your own."
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing rounds per point")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the PNG")
    args = parser.parse_args(argv)
    stores: dict[str, Callable[[], EventStore]] = {
        "in-memory": InMemoryEventStore,
        "duckdb :memory:": lambda: DuckDBEventStore(":memory:"),
    }
    when = datetime.now(UTC)
    frame = measure_loads(stores, LENGTHS, repeats=args.repeats, interval=INTERVAL)
    table = frame.assign(ms=frame["seconds"] * 1000)
    print(table.pivot(index="length", columns=["store", "strategy"], values="ms").round(3))
    figure = plot_loads(frame, ["seconds", "events_read"])
    figure.suptitle("Reference: load time against stream length (measured once, not your machine)")
    figure.text(0.5, -0.01, caption(when), ha="center", va="top", fontsize=7.5, wrap=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=100, bbox_inches="tight")
    plt.close(figure)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
