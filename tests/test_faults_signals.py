"""Real SIGINTs, as the notebook's stop button sends them, to a child "kernel" that goes on with
the same objects after each ``KeyboardInterrupt`` (``tests/interrupted_kernel.py``).

Whatever statement a signal lands in, the log keeps one event per global position, dense
from 1; every acknowledged command is there and in the read model; the read model's object
and its stored checkpoint agree; and nothing but ``KeyboardInterrupt`` reaches the "learner".
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

KERNEL = Path(__file__).with_name("interrupted_kernel.py")
BULK = 5_000  # events per bulk import in the kernel (interrupted_kernel.BULK)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")


def test_sigints_during_commands_and_catch_up_leave_log_and_read_model_consistent(
    tmp_path: Path,
) -> None:
    seconds = 4.0
    child = subprocess.Popen(
        [sys.executable, str(KERNEL), str(tmp_path), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        rng = random.Random(18)
        deadline = time.monotonic() + seconds - 0.2
        sent = 0
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.003, 0.04))
            child.send_signal(signal.SIGINT)
            sent += 1
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["interrupts"] > 10, report
    assert report["unexpected"] == {}, err[-3000:]
    assert report["rows"] == report["distinct_positions"] == report["max_position"]
    assert report["head"] == report["max_position"] == report["head_after_reopen"]
    assert report["model_position"] == report["stored_checkpoint"] == report["head"]
    assert report["missing_users"] == [] and report["lost_renames"] == []
    assert report["stale_names"] == []
    assert report["acknowledged_bulk_imports"] > 0, report
    assert report["partial_bulk_imports"] == [] and report["lost_bulk_imports"] == []
    assert report["interrupted_bulk_imports"] > 0, report  # the stop button hit some of them
    # An interrupted import may have committed after all; never a part of one.
    assert report["bulk_rows_after_reopen"] % BULK == 0
    assert report["bulk_rows_after_reopen"] >= report["bulk_rows"]


def test_importing_the_duckdb_store_imports_numpy_up_front() -> None:
    # DuckDB imports numpy lazily, at the first fetchnumpy; a SIGINT during that import
    # leaves numpy half-imported for the rest of the process ("cannot load module more
    # than once per process"). Importing the store must import numpy first.
    code = "import sys, esteach.store.duckdb; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
