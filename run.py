#!/usr/bin/env python3
"""Set up and run esteach with nothing but python3 (standard library only).

    python3 run.py setup               create .venv and install the project into it
    python3 run.py lab [ARGS...]       set up, then start JupyterLab on your working copies
                                       in workspace/ (made from notebooks/ on first use)
    python3 run.py reset NAME...       discard your working copy of a notebook (asks first)
                                       and start again from the tracked one
    python3 run.py test [ARGS...]      set up, then ruff, ruff format, mypy, pytest [ARGS]
    python3 run.py notebooks [NAMES]   set up, then rebuild notebooks from notebooks/src
    python3 run.py exercises [NAMES]   set up, then rebuild the exercise notebooks (learner and
                                       solved copies) from notebooks/exercises/src
    python3 run.py wheelhouse          set up, then put a wheel of every dependency into
                                       wheelhouse/, from which later set-ups install offline
    python3 run.py binder-url          print the Binder link of this clone's git remote

Set-up re-installs only when pyproject.toml changed since the last install.
"""

import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
from collections.abc import Callable
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
# A folder of wheels for rooms without a package index (`python3 run.py wheelhouse`); set-up
# installs from it, offline, once its stamp says it is complete. Git-ignored.
WHEELHOUSE = ROOT / "wheelhouse"
WHEELHOUSE_STAMP = WHEELHOUSE / "complete.sha256"
# The learner's working copies (`python3 run.py lab`), git-ignored: JupyterLab saves there, and
# the tracked notebooks, which the tests check, stay as they were built.
NOTEBOOKS = ROOT / "notebooks"
WORKSPACE = ROOT / "workspace"
FIRST_NOTEBOOK = "00_setup_check.ipynb"
START_PAGE = "START_HERE.ipynb"
# Jupyter configuration that `run.py lab` adds: JupyterLab setting defaults that keep the
# "Would you like to get notified about official Jupyter news?" pop-up off every page.
JUPYTER_CONFIG = ROOT / "tools" / "jupyter"

APT_FIX = "On Debian or Ubuntu: sudo apt install python3-venv (or python{v}-venv), then rerun."


def run(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run one step from the repo root, printing it first; return its exit code."""
    shown = [os.path.relpath(arg, ROOT) if arg == str(PYTHON) else arg for arg in argv]
    print(f"\n$ {shlex.join(shown)}", flush=True)
    with subprocess.Popen(argv, cwd=ROOT, env=env) as proc:
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
    code = run(
        venv_python("-m", "pip", "install", *PIP_OPTIONS, *wheelhouse_options(), "-e", ".[dev]")
    )
    if code != 0:
        print(f"\nrun.py: installing into .venv failed (exit code {code}).", file=sys.stderr)
        return code
    STAMP.write_text(wanted + "\n")
    return 0


def wheelhouse_options() -> list[str]:
    """pip's options to install from wheelhouse/ alone, once `run.py wheelhouse` completed it."""
    if not WHEELHOUSE_STAMP.exists():
        return []
    print(f"Installing offline from {WHEELHOUSE.name}/ (made by `python3 run.py wheelhouse`).")
    if WHEELHOUSE_STAMP.read_text().strip() != hashlib.sha256(PYPROJECT.read_bytes()).hexdigest():
        print(
            f"Note: pyproject.toml changed since {WHEELHOUSE.name}/ was made; if the install"
            " fails, run `python3 run.py wheelhouse` again where PyPI is reachable."
        )
    return ["--no-index", "--find-links", str(WHEELHOUSE)]


def requirements() -> list[str]:
    """Everything `pip install -e .[dev]` needs: the build backend, dependencies, dev extra."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return [
        *project["build-system"]["requires"],
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
        "pip",
    ]


def wheelhouse(args: list[str]) -> int:
    """Download (or build) a wheel of every requirement into wheelhouse/, then stamp it."""
    WHEELHOUSE.mkdir(exist_ok=True)
    WHEELHOUSE_STAMP.unlink(missing_ok=True)
    code = run(
        venv_python(
            "-m",
            "pip",
            "wheel",
            *PIP_OPTIONS,
            "--wheel-dir",
            str(WHEELHOUSE),
            *requirements(),
            *args,
        )
    )
    if code != 0:
        print(f"\nrun.py wheelhouse: pip wheel failed (exit code {code}).", file=sys.stderr)
        return code
    stamp = hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()
    WHEELHOUSE_STAMP.write_text(stamp + "\n")
    wheels = len(list(WHEELHOUSE.glob("*.whl")))
    print(
        f"\n{WHEELHOUSE.name}/ holds {wheels} wheels for {platform.system()} {platform.machine()},"
        f" Python {platform.python_version()}. Copy the repository with it to machines like this"
        " one: their `python3 run.py setup` installs from it without a package index."
    )
    return 0


def workspace_sources() -> dict[Path, Path]:
    """Each working copy (relative to workspace/) and the tracked notebook it starts from.

    Lessons sit at the top, the exercises' learner copies in exercises/, their solved copies
    apart in solutions/: each at the depth of its tracked notebook, so relative paths such as
    `../data/...` and `../docs/...` lead to the same files.
    """
    copies = {Path(path.name): path for path in sorted(NOTEBOOKS.glob("*.ipynb"))}
    for path in sorted((NOTEBOOKS / "exercises").glob("*.ipynb")):
        folder = "solutions" if path.stem.endswith("_solved") else "exercises"
        copies[Path(folder) / path.name] = path
    return copies


def title(notebook: Path) -> str:
    """The text of a notebook's first `# ` heading, or its file name."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return notebook.stem
    for cell in cells:
        for line in "".join(cell.get("source", "")).splitlines():
            if cell.get("cell_type") == "markdown" and line.startswith("# "):
                return line[2:].strip()
    return notebook.stem


def start_page(copies: dict[Path, Path]) -> str:
    """The start page, a notebook of one markdown cell with a link to every working copy."""

    def links(folder: str) -> list[str]:
        return [
            f"- [{title(source)}]({urllib.parse.quote(target.as_posix())})"
            for target, source in copies.items()
            if target.parent.as_posix() == folder
        ]

    lines = [
        "# Start here",
        "",
        "These are **your working copies** of the esteach notebooks: JupyterLab saves your work"
        " here, in `workspace/`, which git ignores. The originals in `notebooks/` stay as they"
        " are. To start a notebook again from its original, stop JupyterLab and run"
        " `python3 run.py reset NAME` (it asks before it discards anything).",
        "",
        "## Lessons, in order",
        "",
        *links("."),
        "",
        "## Exercises, one notebook per lesson that has them (01 to 09, and 11)",
        "",
        *links("exercises"),
        "",
        "## Reference solutions (look after you tried)",
        "",
        *links("solutions"),
        "",
        "The reference design the lessons cite is summarised in"
        " [docs/reference-design.md](../docs/reference-design.md); the sample data in"
        " [data/README.md](../data/README.md). This page is made again each time"
        " `python3 run.py lab` starts.",
    ]
    notebook = {
        "cells": [
            {"cell_type": "markdown", "id": "start", "metadata": {}, "source": "\n".join(lines)}
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1) + "\n"


def prepare_workspace() -> list[Path]:
    """Copy every tracked notebook that has no working copy yet into workspace/ (never over one
    the learner has), write the start page; return the copies made."""
    copies = workspace_sources()
    made = []
    for target, source in copies.items():
        path = WORKSPACE / target
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
            made.append(path)
    (WORKSPACE / START_PAGE).write_text(start_page(copies), encoding="utf-8")
    return made


def lab_command(args: list[str]) -> list[str]:
    """The JupyterLab command `run.py lab` runs: the repository is Jupyter's root (so that links
    to docs/, data/ and esteach/ work), and it opens on the working copy of notebook 00."""
    # Jupyter refuses to run as root unless told; containers and CI machines often are root.
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    first = f"{WORKSPACE.name}/{FIRST_NOTEBOOK}"
    return venv_python(
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={ROOT}",
        # Where the browser lands, and the address printed (also with --no-browser).
        f"--LabApp.default_url=/lab/tree/{first}",
        # No pop-up asking to fetch Jupyter news over the first page, and no update check.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *as_root,
        *args,
    )


def lab(args: list[str]) -> int:
    made = prepare_workspace()
    if made:
        print(f"Made {len(made)} working copies in {WORKSPACE.name}/ from the tracked notebooks.")
    print(
        f"Your work is saved in {WORKSPACE.name}/ (git ignores it); the start page is"
        f" {WORKSPACE.name}/{START_PAGE}. `python3 run.py reset NAME` starts a notebook again."
    )
    return run(lab_command(args), env=lab_environment())


def lab_environment() -> dict[str, str]:
    """This environment, with tools/jupyter/ first on Jupyter's configuration path."""
    path = [str(JUPYTER_CONFIG), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])]
    return {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(path)}


def find_copies(name: str) -> list[Path]:
    """The working copies (relative to workspace/) that NAME means: a file name, with or without
    `.ipynb`, or the start of one (`03` is lesson 03; `03_exercises` its exercises)."""
    copies = list(workspace_sources())
    stem = name.removesuffix(".ipynb").rstrip("/").split("/")[-1]
    exact = [copy for copy in copies if copy.stem == stem]
    return exact or [copy for copy in copies if copy.stem.startswith(stem)]


def reset(names: list[str], answer: Callable[[str], str] = input) -> int:
    """Replace working copies by fresh copies of their tracked notebooks, after asking."""
    if not names:
        print(
            "Usage: python3 run.py reset NAME... (e.g. 03_replay_and_projections, or 03)",
            file=sys.stderr,
        )
        return 2
    sources = workspace_sources()
    chosen: list[Path] = []
    for name in names:
        found = find_copies(name)
        if not found:
            print(
                f"No notebook called {name!r}; the names are those in {WORKSPACE.name}/ "
                f"(e.g. {FIRST_NOTEBOOK.removesuffix('.ipynb')}).",
                file=sys.stderr,
            )
            return 2
        lessons = [copy for copy in found if copy.parent == Path(".")]
        if len(found) > 1 and len(lessons) == 1:
            found = lessons  # `03` is the lesson; its exercises have longer names
        if len(found) > 1:
            listed = ", ".join(copy.stem for copy in found)
            print(f"{name!r} could mean {listed}; give more of the name.", file=sys.stderr)
            return 2
        chosen += found
    for copy in chosen:
        path = WORKSPACE / copy
        shown = f"{WORKSPACE.name}/{copy.as_posix()}"
        if path.exists():
            try:
                reply = answer(f"Discard your work in {shown} and start it again? [y/N] ")
            except EOFError:
                reply = ""
            if reply.strip().lower() not in ("y", "yes"):
                print(f"Kept {shown}.")
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sources[copy], path)
        print(f"{shown} is a fresh copy of {sources[copy].relative_to(ROOT).as_posix()}.")
    return 0


def binder_url(remote: str) -> str:
    """The mybinder.org link that opens notebook 00 of the repository at the git URL `remote`.

    >>> binder_url("git@github.com:someone/esteach.git")
    'https://mybinder.org/v2/gh/someone/esteach/HEAD?labpath=notebooks%2F00_setup_check.ipynb'
    """
    remote = remote.strip()
    scp = re.fullmatch(r"[\w.-]+@(?P<host>[\w.-]+):(?P<path>[^/].*)", remote)
    if scp:
        host, path = scp["host"], scp["path"]
    else:
        parts = urllib.parse.urlsplit(remote)
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
            raise ValueError(f"{remote!r} is not the address of a repository on a server")
        host, path = parts.hostname, parts.path
    path = path.strip("/").removesuffix(".git")
    labpath = "?labpath=" + urllib.parse.quote(f"notebooks/{FIRST_NOTEBOOK}", safe="")
    if host == "github.com" and path.count("/") == 1:
        return f"https://mybinder.org/v2/gh/{path}/HEAD{labpath}"
    if host == "gitlab.com":
        return f"https://mybinder.org/v2/gl/{urllib.parse.quote(path, safe='')}/HEAD{labpath}"
    url = urllib.parse.quote(f"https://{host}/{path}", safe="")
    return f"https://mybinder.org/v2/git/{url}/HEAD{labpath}"


def print_binder_url(args: list[str]) -> int:
    name = args[0] if args else "origin"
    found = subprocess.run(
        ["git", "remote", "get-url", name], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        print(
            f"This clone has no git remote {name!r}, so there is no public copy for Binder to"
            " build. Push the repository to GitHub (or GitLab, or any public git server) and"
            " run this again in a clone of it.",
            file=sys.stderr,
        )
        return 1
    try:
        print(binder_url(found.stdout))
    except ValueError as error:
        print(f"run.py binder-url: {error}; Binder needs a public https address.", file=sys.stderr)
        return 1
    return 0


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


COMMANDS = {
    "lab": lab,
    "test": test,
    "notebooks": notebooks,
    "exercises": exercises,
    "wheelhouse": wheelhouse,
}
# Commands that need no .venv, so they run before (or without) the set-up.
PLAIN_COMMANDS = {"reset": reset, "binder-url": print_binder_url}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"setup", *COMMANDS, *PLAIN_COMMANDS}:
        print(__doc__, file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help", "help"} else 2
    command, rest = argv[0], argv[1:]
    if command in PLAIN_COMMANDS:
        return PLAIN_COMMANDS[command](rest)
    code = setup()
    if code != 0 or command == "setup":
        return code
    return COMMANDS[command](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
