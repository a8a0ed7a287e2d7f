#!/usr/bin/env python3
"""Set up and run esteach with nothing but python3 (standard library only).

    python3 run.py setup               create .venv and install the project into it
    python3 run.py lab [ARGS...]       set up, then start JupyterLab in notebooks/
    python3 run.py test [ARGS...]      set up, then ruff, ruff format, mypy, pytest [ARGS]
    python3 run.py notebooks [NAMES]   set up, then rebuild notebooks from notebooks/src
    python3 run.py exercises [NAMES]   set up, then rebuild the exercise notebooks (learner and
                                       solved copies) from notebooks/exercises/src

Set-up re-installs only when pyproject.toml changed since the last install.
"""

import hashlib
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# Kept equal to requires-python in pyproject.toml by tests/test_project.py.
MIN_PYTHON = (3, 11)
if sys.version_info < MIN_PYTHON:
    sys.exit(
        f"esteach needs Python {'.'.join(map(str, MIN_PYTHON))} or newer (its pinned duckdb 2.0.1"
        f" does), but python3 is {platform.python_version()}. Install a newer Python and run"
        f" this again with it, e.g. `python3.11 run.py test`."
    )

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / "esteach-install.sha256"
PYPROJECT = ROOT / "pyproject.toml"
PIP_OPTIONS = ["--quiet", "--disable-pip-version-check"]

APT_FIX = "On Debian or Ubuntu: sudo apt install python3-venv (or python{v}-venv), then rerun."


def run(argv: list[str]) -> int:
    """Run one step from the repo root, printing it first; return its exit code."""
    shown = [os.path.relpath(arg, ROOT) if arg == str(PYTHON) else arg for arg in argv]
    print(f"\n$ {shlex.join(shown)}", flush=True)
    with subprocess.Popen(argv, cwd=ROOT) as proc:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                # The child got the Ctrl-C too; let it shut down its own way (Jupyter asks first).
                continue


def venv_python(*args: str) -> list[str]:
    return [str(PYTHON), *args]


def create_venv() -> int:
    fix = APT_FIX.format(v=f"{sys.version_info.major}.{sys.version_info.minor}")
    if importlib.util.find_spec("ensurepip") is None:
        print(f"Cannot create .venv: this Python has no ensurepip.\n{fix}", file=sys.stderr)
        return 1
    code = run([sys.executable, "-m", "venv", VENV.name])
    if code != 0:
        # A half-made .venv without pip would fool the next run; start clean instead.
        shutil.rmtree(VENV, ignore_errors=True)
        print(f"\nrun.py: creating .venv failed (exit code {code}), see above.", file=sys.stderr)
        print(f"If the message mentions ensurepip or python3-venv: {fix}", file=sys.stderr)
    return code


def setup() -> int:
    """Create .venv if missing and (re)install the project when pyproject.toml changed."""
    if not PYTHON.exists():
        print(f"Creating {VENV.name} with Python {platform.python_version()} (first run only).")
        code = create_venv()
        if code != 0:
            return code
    wanted = hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        print("Set-up is current (pyproject.toml unchanged since the last install).")
        return 0
    print("Installing esteach and its dependencies into .venv (a few minutes the first time).")
    code = run(venv_python("-m", "pip", "install", *PIP_OPTIONS, "-e", ".[dev]"))
    if code != 0:
        print(f"\nrun.py: installing into .venv failed (exit code {code}).", file=sys.stderr)
        return code
    STAMP.write_text(wanted + "\n")
    return 0


def lab(args: list[str]) -> int:
    # The notebooks' folder is Jupyter's root, and the kernel's working directory.
    first = "notebooks/00_setup_check.ipynb"
    to_open = [first] if (ROOT / first).exists() else []
    # Jupyter refuses to run as root unless told; containers and CI machines often are root.
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    server = venv_python("-m", "jupyter", "lab", "--ServerApp.root_dir=notebooks", *as_root)
    return run([*server, *args, *to_open])


def test(args: list[str]) -> int:
    steps = [
        venv_python("-m", "ruff", "check", "."),
        venv_python("-m", "ruff", "format", "--check", "."),
        venv_python("-m", "mypy", "esteach"),
        venv_python("-m", "pytest", *args),
    ]
    for step in steps:
        code = run(step)
        if code != 0:
            name = shlex.join(step[2:])
            print(f"\nrun.py test: FAILED at `{name}` (exit code {code}).", file=sys.stderr)
            return code
    print("\nrun.py test: all steps passed (ruff check, ruff format, mypy, pytest).")
    return 0


def notebooks(names: list[str]) -> int:
    return run(venv_python("tools/build_notebooks.py", *names))


def exercises(names: list[str]) -> int:
    return run(venv_python("tools/build_exercises.py", *names))


COMMANDS = {"lab": lab, "test": test, "notebooks": notebooks, "exercises": exercises}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"setup", *COMMANDS}:
        print(__doc__, file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help", "help"} else 2
    command, rest = argv[0], argv[1:]
    code = setup()
    if code != 0 or command == "setup":
        return code
    return COMMANDS[command](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
