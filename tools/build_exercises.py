"""Build the exercise notebooks: a learner copy and a solved copy of each source, executed.

    python tools/build_exercises.py [--timeout SECONDS] [NAMES...]

Each source `notebooks/exercises/src/NN_name.py` is percent-format Python, exactly as for the
lesson notebooks (see tools/build_notebooks.py, whose parsing and execution this reuses), plus
solution markers on lines of their own, indented like the code they stand in for. A marker
names a reference solution in the notebook's checker module, `esteach.exercises.<topic>`
(`esteach.exercises.TOPICS` maps `NN` to the topic), which is the one copy of each solution:

    ____  # SOLUTION: Cart.apply_event
                                     the learner copy has `____  # your code here`; the solved
                                     copy has the body of the reference function, as written
                                     in the package (less its docstring). The `____` keeps the
                                     source valid Python, for ruff.
    # BEGIN SOLUTION: <name>         the same, but the learner copy has the lines up to
    ...                              `# END SOLUTION` (a scaffold, e.g. `query = ____  # SQL`)
    # END SOLUTION

A reference that is not a function (`INTERVAL`, the SQL text `BALANCES_AT`) fills the solved
copy as an assignment, to the name the scaffold's first assignment assigns (`query =
'''...'''`; comments may come before it); a dict of classes (exercise 1.4's events) as
the classes' source, then the dict.
The tool writes `notebooks/exercises/NN_name_learner.ipynb` and `NN_name_solved.ipynb`, each
run top to bottom in a fresh kernel: the learner copy's checks store "not attempted", the
solved copy's "correct". NAMES are source names, or their starts (`01`); none means all.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_notebooks as notebooks  # the lesson notebooks' builder, reused
import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from esteach.exercises import TOPICS
from esteach.exercises.solutions import body_source, reference_named, value_source

ROOT = notebooks.ROOT
EXERCISES = notebooks.NOTEBOOKS / "exercises"
SOURCES = EXERCISES / "src"

Variant = Literal["learner", "solved"]
VARIANTS: tuple[Variant, ...] = ("learner", "solved")
PLACEHOLDER = "____  # your code here"
SINGLE = re.compile(r"^(?P<indent>\s*)____\s+# SOLUTION:\s*(?P<name>[\w.]+)\s*$")
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION:\s*(?P<name>[\w.]+)\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
ASSIGNED = re.compile(r"^\s*(?P<target>[A-Za-z_]\w*)\s*=")
Resolve = Callable[[str], Any]


def module_of(source: Path) -> str:
    """The checker module's topic for a source: `01_exercises_...` -> `commands_and_events`."""
    number = source.stem[:2]
    if number not in TOPICS:
        raise notebooks.SourceError(f"{source.name}: no checker module for {number!r} in TOPICS")
    return TOPICS[number]


def solved_lines(reference: object, indent: str, scaffold: list[str], where: str) -> list[str]:
    """What a solution region becomes in the solved copy."""
    if isinstance(reference, types.FunctionType):
        text = body_source(reference)
    else:
        assigned = next(filter(None, (ASSIGNED.match(line) for line in scaffold)), None)
        if assigned is None:
            raise notebooks.SourceError(
                f"{where}: a value solution needs a scaffold line that assigns it (`x = ____`)"
            )
        text = value_source(assigned["target"], reference)
    return textwrap.indent(text, indent, lambda line: bool(line.strip())).splitlines()


def split_solutions(text: str, name: str, resolve: Resolve) -> dict[Variant, str]:
    """The learner's and the solved text of one source; ``resolve`` finds a reference by name.

    >>> source = "# BEGIN SOLUTION: INTERVAL\\nN = ____  # a number\\n# END SOLUTION\\n"
    >>> print(split_solutions(source, "x.py", lambda name: 41)["learner"], end="")
    N = ____  # a number
    >>> print(split_solutions(source, "x.py", lambda name: 41)["solved"], end="")
    N = 41
    """
    learner: list[str] = []
    solved: list[str] = []
    opened: tuple[int, re.Match[str]] | None = None
    scaffold: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        single, begin, end = SINGLE.match(line), BEGIN.match(line), END.match(line)
        if (single or begin) and opened is not None:
            raise notebooks.SourceError(
                f"{where}: a solution marker inside the region opened at line {opened[0]}"
            )
        if single:
            learner.append(single["indent"] + PLACEHOLDER)
            reference = _resolve(resolve, single["name"], where)
            solved.extend(solved_lines(reference, single["indent"], [], where))
        elif begin:
            opened, scaffold = (number, begin), []
        elif end:
            if opened is None:
                raise notebooks.SourceError(f"{where}: END SOLUTION without a BEGIN")
            at, marker = opened
            reference = _resolve(resolve, marker["name"], f"{name}:{at}")
            learner.extend(scaffold or [marker["indent"] + PLACEHOLDER])
            solved.extend(solved_lines(reference, marker["indent"], scaffold, f"{name}:{at}"))
            opened = None
        elif opened is not None:
            scaffold.append(line)
        else:
            learner.append(line)
            solved.append(line)
    if opened is not None:
        raise notebooks.SourceError(f"{name}:{opened[0]}: BEGIN SOLUTION is never ended")
    return {"learner": "\n".join(learner) + "\n", "solved": "\n".join(solved) + "\n"}


def _resolve(resolve: Resolve, name: str, where: str) -> Any:
    try:
        return resolve(name)
    except Exception as error:
        raise notebooks.SourceError(f"{where}: no reference solution {name!r}: {error}") from error


def variants(source: Path) -> dict[Variant, list[notebooks.Cell]]:
    """The cells of the learner and of the solved notebook that ``source`` makes."""
    module = module_of(source)
    texts = split_solutions(
        source.read_text(encoding="utf-8"),
        source.name,
        lambda name: reference_named(module, name),
    )
    return {variant: notebooks.parse_source(texts[variant], source.name) for variant in VARIANTS}


def target(source: Path, variant: Variant) -> Path:
    return EXERCISES / f"{source.stem}_{variant}.ipynb"


def build(source: Path, timeout: int) -> list[tuple[Path, bool]]:
    """Build, execute and write both copies of one source; return (path, changed) for each."""
    written = []
    for variant, cells in variants(source).items():
        path = target(source, variant)
        notebook = notebooks.notebook_from_cells(cells)
        notebooks.execute(notebook, timeout)
        notebooks.strip_volatile(notebook)
        nbformat.validate(notebook)
        text = nbformat.writes(notebook).rstrip("\n") + "\n"
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        if changed:
            path.write_text(text, encoding="utf-8")
        written.append((path, changed))
    return written


def select(names: list[str]) -> list[Path]:
    """The sources named (a full name, or its start such as `01`), or all of them."""
    available = sorted(SOURCES.glob("*.py"))
    if not names:
        return available
    chosen: list[Path] = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in available if p.stem == stem] or [
            p for p in available if p.stem.startswith(stem)
        ]
        if len(matches) != 1:
            known = ", ".join(p.stem for p in available) or "none"
            raise SystemExit(
                f"{'No' if not matches else 'More than one'} source for {name!r} in "
                f"notebooks/exercises/src (have: {known})."
            )
        chosen.append(matches[0])
    return chosen


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the exercise notebooks.")
    parser.add_argument("names", nargs="*", help="sources to build, e.g. 01_exercises_...")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    os.environ["ESTEACH_SIZE"] = "small"  # as the lesson notebooks: the size nbval runs at
    failed: list[str] = []
    for source in select(args.names):
        print(f"building {source.relative_to(ROOT)} ...", flush=True)
        try:
            written = build(source, args.timeout)
        except (
            notebooks.SourceError,
            CellExecutionError,
            CellTimeoutError,
            DeadKernelError,
        ) as error:
            print(f"FAILED {source.relative_to(ROOT)}:\n{error}", file=sys.stderr)
            failed.append(source.name)
            continue
        for path, changed in written:
            print(f"  {'updated' if changed else 'unchanged'}: {path.relative_to(ROOT)}")
    if failed:
        print(f"\n{len(failed)} source(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
