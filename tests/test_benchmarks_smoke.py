"""benchmarks/suite.py still runs: a ``--quick`` run at tiny sizes, in a subprocess.

Only the shape of the output is checked (exit status, CSV columns, one row per measurement),
never a speed: timings on a shared test machine prove nothing. The eventsourcing rows are
expected only where the ``bench`` extra is installed; the dev environment runs without them.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "benchmarks" / "suite.py"
COLUMNS = ["section", "subject", "size", "value", "unit", "p50_ms", "p99_ms", "target", "met"]


def installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


HAVE_EVENTSOURCING = installed("eventsourcing")
# Its PostgreSQL recorder needs its postgres extra (the bench extra brings it).
HAVE_ES_POSTGRES = HAVE_EVENTSOURCING and installed("psycopg_pool")

ESTEACH_COMMANDS = {
    "esteach in-memory",
    "esteach duckdb :memory:",
    "esteach duckdb file",
    "esteach duckdb :memory: + cache",
    "esteach duckdb file + cache",
    "esteach sqlite file",
    "esteach sqlite file + cache",
    "raw duckdb :memory: INSERT",
    "raw duckdb file INSERT",
    "raw sqlite3 :memory: INSERT",
    "raw sqlite3 file INSERT",
    "raw sqlite3 file INSERT (WAL, synchronous=NORMAL)",
}
ES_COMMANDS = {"eventsourcing POPO", "eventsourcing SQLite file"}
LENGTHS = (10, 100)


def test_quick_suite_runs_and_writes_the_expected_csv(tmp_path: Path) -> None:
    command = [
        sys.executable, str(SUITE), "--quick", "--users", "10", "--changes", "1",
        "--lengths", ",".join(map(str, LENGTHS)), "--bulk-events", "300",
        "--projection-events", "300", "--per-event-events", "100", "--out", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, f"suite.py failed:\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "loads.png").stat().st_size > 0

    with (tmp_path / "suite.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    by_section: dict[str, dict[str, list[dict[str, str]]]] = {}
    for row in rows:
        by_section.setdefault(row["section"], {}).setdefault(row["subject"], []).append(row)

    commands = by_section["commands"]
    assert set(commands) == ESTEACH_COMMANDS | (ES_COMMANDS if HAVE_EVENTSOURCING else set())
    for [row] in commands.values():
        assert row["size"] == "20"  # 10 creates + 10 renames
        assert float(row["value"]) > 0 and float(row["p50_ms"]) <= float(row["p99_ms"])

    assert set(by_section["bulk"]) == {
        "esteach bulk_import",
        "raw pandas INSERT (incl. building frame)",
        "raw pandas INSERT (frame prebuilt)",
        "one 10,000-event append_events (duckdb file, columnar)",
        "one 10,000-event append_events (duckdb file, VALUES)",
    }

    loads = by_section["load"]
    expected_loads = {
        f"esteach {store} {strategy}"
        for store in ("in-memory", "duckdb file")
        for strategy in ("full replay", "snapshot", "cache hit")
    }
    if HAVE_EVENTSOURCING:
        expected_loads |= {
            f"{lib} {strategy}" for lib in ES_COMMANDS for strategy in ("full replay", "snapshot")
        }
    assert set(loads) == expected_loads
    for subject_rows in loads.values():
        assert sorted(int(r["size"]) for r in subject_rows) == list(LENGTHS)
        assert all(float(r["value"]) > 0 for r in subject_rows)

    assert set(by_section["projection"]) == {
        "read_all (duckdb file)",
        "set-based rebuild (duckdb file)",
        "page catch-up (duckdb file)",
        "per-event catch-up (duckdb file)",
        "peak RSS: read_all in pages of 10,000 (duckdb file)",
        "peak RSS: page catch-up of UserQueryModel (duckdb file)",
    }
    assert set(by_section["notebooks"]) == {"00_setup_check", "whole sequence"}
    [whole] = by_section["notebooks"]["whole sequence"]
    [setup] = by_section["notebooks"]["00_setup_check"]
    assert whole["size"] == "1" and float(whole["value"]) == float(setup["value"]) > 0

    postgres = by_section["postgres"]
    assert set(postgres) == {
        "esteach postgres",
        "esteach postgres + cache",
        "raw postgres INSERT",
        "writer processes: 1",
        "writer processes: 2",
        "writer processes: 4",
        "raw INSERT processes: 1",
        "raw INSERT processes: 2",
        "raw INSERT processes: 4",
        "catch-up read (read_all pages of 1,000)",
        "UserQueryModel page catch-up (DuckDB read model)",
        "subscription: append to read model (follow)",
    } | ({"eventsourcing postgres"} if HAVE_ES_POSTGRES else set())
    assert all(float(r["value"]) > 0 for rs in postgres.values() for r in rs)

    ratios = by_section["ratio"]
    for subject, rs in ratios.items():
        # A ratio against the eventsourcing library is measured only where it is installed.
        unmeasured = "eventsourcing" in subject and not (
            HAVE_ES_POSTGRES if "postgres" in subject else HAVE_EVENTSOURCING
        )
        assert all(r["met"] in (("",) if unmeasured else ("yes", "no")) for r in rs), subject
    assert any("command path (AggregateCache) / raw" in subject for subject in ratios)

    # benchmarks/markdown.py prints the README's tables from that CSV: a table per section,
    # a line per row.
    shown = subprocess.run(
        [sys.executable, str(SUITE.parent / "markdown.py"), str(tmp_path / "suite.csv")],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    assert [line for line in shown.splitlines() if line.startswith("**")] == [
        f"**{section}**" for section in by_section
    ]
    expected = sum(  # a header and a line per row; the loads as one line per subject
        1 + (len(subjects) if section == "load" else sum(map(len, subjects.values())))
        for section, subjects in by_section.items()
    )
    assert sum(line.startswith("| ") for line in shown.splitlines()) == expected
