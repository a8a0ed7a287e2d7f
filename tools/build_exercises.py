"""Build the exercise notebooks: a learner copy and a solved copy of each source, executed.

    python tools/build_exercises.py [--timeout SECONDS] [NAMES...]

Each source `notebooks/exercises/src/NN_name.py` is percent-format Python, exactly as for the
lesson notebooks (see tools/build_notebooks.py, whose parsing and execution this reuses), plus
solution markers on lines of their own, indented like the code they stand in for:

    # BEGIN SOLUTION                 the lines up to `# END SOLUTION` are a reference solution.
    ...                              The solved copy keeps them (without the markers); the
    # END SOLUTION                   learner copy has one line instead: `____  # your code here`
    # BEGIN SOLUTION: <line>         ... or <line> itself, e.g. `query = ____  # your SQL here`

and writes `notebooks/exercises/NN_name_learner.ipynb` and `NN_name_solved.ipynb`, each run
top to bottom in a fresh kernel: the learner copy's checks store "not attempted", the solved
copy's "correct". NAMES are source names, or their starts (`01`); none means all of them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_notebooks as notebooks  # the lesson notebooks' builder, reused
import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = notebooks.ROOT
EXERCISES = notebooks.NOTEBOOKS / "exercises"
SOURCES = EXERCISES / "src"

Variant = Literal["learner", "solved"]
VARIANTS: tuple[Variant, ...] = ("learner", "solved")
PLACEHOLDER = "____  # your code here"
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<learner>.*?))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")


def split_solutions(text: str, name: str = "<source>") -> dict[Variant, str]:
    """The learner's and the solved text of one source.

    >>> source = "x = 1\\n    # BEGIN SOLUTION\\n    y = 2\\n    # END SOLUTION\\n"
    >>> print(split_solutions(source)["learner"], end="")
    x = 1
        ____  # your code here
    >>> print(split_solutions(source)["solved"], end="")
    x = 1
        y = 2
    """
    learner: list[str] = []
    solved: list[str] = []
    opened_at: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if opened_at is not None:
                raise notebooks.SourceError(
                    f"{name}:{number}: BEGIN SOLUTION inside the one opened at line {opened_at}"
                )
            opened_at = number
            learner.append(begin["indent"] + (begin["learner"] or PLACEHOLDER))
        elif end:
            if opened_at is None:
                raise notebooks.SourceError(f"{name}:{number}: END SOLUTION without a BEGIN")
            opened_at = None
        else:
            solved.append(line)
            if opened_at is None:
                learner.append(line)
    if opened_at is not None:
        raise notebooks.SourceError(f"{name}:{opened_at}: BEGIN SOLUTION is never ended")
    return {"learner": "\n".join(learner) + "\n", "solved": "\n".join(solved) + "\n"}


def variants(source: Path) -> dict[Variant, list[notebooks.Cell]]:
    """The cells of the learner and of the solved notebook that ``source`` makes."""
    texts = split_solutions(source.read_text(encoding="utf-8"), source.name)
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
