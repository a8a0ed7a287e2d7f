"""Print a suite run's CSV as the Markdown tables of benchmarks/README.md.

    python benchmarks/suite.py                 # writes benchmarks/results/suite.csv
    python benchmarks/markdown.py              # prints its tables, one per section
    python benchmarks/markdown.py path/to/suite.csv

The figures in the README are pasted from this output, so that none is typed by hand.
"""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

DEFAULT = Path(__file__).parent / "results" / "suite.csv"


def number(text: str, unit: str = "") -> str:
    if text == "":
        return ""
    value = float(text)
    if math.isnan(value):
        return "not measured"
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("ms", "MiB", "s") or abs(value) < 100:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def pivot(items: list[dict[str, str]]) -> list[str]:
    """The loads: a row per subject, a column per stream length, milliseconds per load."""
    sizes = sorted({int(float(r["size"])) for r in items})
    values: dict[str, dict[int, str]] = defaultdict(dict)
    for r in items:  # seconds per load, shown in milliseconds
        values[r["subject"]][int(float(r["size"]))] = f"{float(r['value']) * 1000:,.3f}"
    lines = [
        "| subject (ms per load) | " + " | ".join(f"{size:,}" for size in sizes) + " |",
        "|---|" + "--:|" * len(sizes),
    ]
    for subject, by_size in sorted(values.items()):
        lines.append(f"| {subject} | " + " | ".join(by_size.get(s, "") for s in sizes) + " |")
    return lines


def tables(rows: list[dict[str, str]]) -> str:
    by_section: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_section[row["section"]].append(row)
    out = []
    for section, items in by_section.items():
        out.append(f"**{section}**\n")
        if section == "ratio":
            out.append("| ratio | measured | target | met |\n|---|--:|---|---|")
            out += [
                f"| {r['subject']} | {number(r['value'], 'x')} | {r['target']} | "
                f"{r['met'] or 'not measured'} |"
                for r in items
            ]
        elif section == "load":
            out += pivot(items)
        else:
            out.append("| subject | size | value | unit | p50 ms | p99 ms |")
            out.append("|---|--:|--:|---|--:|--:|")
            out += [
                f"| {r['subject']} | {int(float(r['size'])):,} | {number(r['value'], r['unit'])} "
                f"| {r['unit']} | {number(r['p50_ms'], 'ms')} | {number(r['p99_ms'], 'ms')} |"
                for r in items
            ]
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DEFAULT
    with path.open(newline="", encoding="utf-8") as f:
        print(tables(list(csv.DictReader(f))))


if __name__ == "__main__":
    main(sys.argv[1:])
