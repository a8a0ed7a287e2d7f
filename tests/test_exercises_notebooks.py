"""The exercise notebooks: one source each, two generated copies that are up to date and were
run top to bottom, checks that say "not attempted" in the learner copy and "correct" in the
solved one, solutions that match the package's, and notes for instructors that cover them."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from esteach.exercises import Exercise

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "notebooks" / "exercises"
SOURCES = sorted((EXERCISES / "src").glob("*.py"))
INSTRUCTORS = ROOT / "notebooks" / "INSTRUCTORS.md"
CHECK = re.compile(r"^ex(\d+)\.check\(", re.MULTILINE)


def load_tool() -> ModuleType:
    path = ROOT / "tools" / "build_exercises.py"
    spec = importlib.util.spec_from_file_location("build_exercises", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


TOOL = load_tool()
COPIES = [(source, variant) for source in SOURCES for variant in ("learner", "solved")]


def copy_id(pair: tuple[Path, str]) -> str:
    return f"{pair[0].stem}-{pair[1]}"


def stored(source: Path, variant: str) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(TOOL.target(source, variant).read_text(encoding="utf-8"))
    return notebook


def module_for(source: Path) -> ModuleType:
    return importlib.import_module(f"esteach.exercises.nb{source.stem[:2]}")


def exercises_of(module: ModuleType) -> list[Exercise]:
    return sorted(
        (value for value in vars(module).values() if isinstance(value, Exercise)),
        key=lambda exercise: exercise.number,
    )


def text(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def checked(cell: dict[str, Any]) -> bool:
    """Whether nbval compares this cell's output: its tag (tools/build_notebooks.py turns the
    source's `# NBVAL_CHECK_OUTPUT` into it), or the comment itself in a copy built before."""
    tags = cell.get("metadata", {}).get("tags", [])
    return "nbval-check-output" in tags or text(cell).startswith("# NBVAL_CHECK_OUTPUT")


def output_text(cell: dict[str, Any]) -> str:
    parts = []
    for output in cell.get("outputs", []):
        value = output.get("text") or output.get("data", {}).get("text/plain", "")
        parts.append("".join(value) if isinstance(value, list) else value)
    return "".join(parts)


# --- the markers -------------------------------------------------------------------------------


def test_a_solution_region_is_kept_in_the_solved_copy_and_replaced_in_the_learners() -> None:
    source = (
        "def f():\n"
        "    # BEGIN SOLUTION\n"
        "    return 1\n"
        "    # END SOLUTION\n"
        "# BEGIN SOLUTION: query = ____  # your SQL\n"
        'query = "SELECT 1"\n'
        "# END SOLUTION\n"
    )
    copies = TOOL.split_solutions(source)
    assert copies["solved"] == 'def f():\n    return 1\nquery = "SELECT 1"\n'
    assert copies["learner"] == "def f():\n    ____  # your code here\nquery = ____  # your SQL\n"


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n", "inside the one opened at line 1"),
        ("x = 1\n# END SOLUTION\n", "END SOLUTION without a BEGIN"),
        ("# BEGIN SOLUTION\nx = 1\n", "never ended"),
    ],
)
def test_unbalanced_markers_are_refused_with_the_line(source: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        TOOL.split_solutions(source, "x.py")


# --- the generated copies ----------------------------------------------------------------------


def test_every_source_has_both_copies_and_every_copy_a_source() -> None:
    assert SOURCES, "no exercise sources in notebooks/exercises/src"
    expected = {TOOL.target(source, variant).name for source, variant in COPIES}
    found = {path.name for path in EXERCISES.glob("*.ipynb")}
    assert found == expected, (
        f"copies without a source: {sorted(found - expected)}; missing copies: "
        f"{sorted(expected - found)} (run `python3 run.py exercises`)"
    )


@pytest.mark.parametrize("pair", COPIES, ids=copy_id)
def test_the_copy_is_what_its_source_generates(pair: tuple[Path, str]) -> None:
    source, variant = pair
    expected = [(cell.kind, cell.source) for cell in TOOL.variants(source)[variant]]
    found = [(cell["cell_type"], text(cell)) for cell in stored(source, variant)["cells"]]
    assert found == expected, (
        f"{TOOL.target(source, variant).name} is out of date with {source.name}; edit the "
        f"source, then run `python3 run.py exercises {source.stem}`"
    )


@pytest.mark.parametrize("pair", COPIES, ids=copy_id)
def test_the_copy_was_run_top_to_bottom_without_an_error(pair: tuple[Path, str]) -> None:
    cells = [cell for cell in stored(*pair)["cells"] if cell["cell_type"] == "code"]
    counts = [cell.get("execution_count") for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), f"execution counts {counts}"
    errors = [o for cell in cells for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    empty = [i for i, cell in enumerate(cells) if checked(cell) and not cell.get("outputs")]
    assert not empty, f"checked cells {empty} have no stored output"


@pytest.mark.parametrize("pair", COPIES, ids=copy_id)
def test_every_check_is_checked_by_nbval_and_says_what_the_copy_promises(
    pair: tuple[Path, str],
) -> None:
    source, variant = pair
    exercises = exercises_of(module_for(source))
    checks = [cell for cell in stored(*pair)["cells"] if CHECK.search(text(cell))]
    numbers = [f"{source.stem[:2].lstrip('0')}.{CHECK.search(text(c))[1]}" for c in checks]  # type: ignore[index]
    assert numbers == [exercise.number for exercise in exercises]
    status = "not attempted" if variant == "learner" else "correct"
    for cell, number in zip(checks, numbers, strict=True):
        assert checked(cell), f"check of {number} is not checked"
        assert output_text(cell).startswith(f"Exercise {number} · {status}:"), output_text(cell)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_every_check_is_followed_by_hint_solution_and_catch_up(source: Path) -> None:
    cells = [cell for cell in stored(source, "learner")["cells"] if cell["cell_type"] == "code"]
    for index, cell in enumerate(cells):
        match = CHECK.search(text(cell))
        if match:
            help_cell = text(cells[index + 1])
            for method in ("hint", "solution", "catch_up"):
                assert f"# ex{match[1]}.{method}()" in help_cell, help_cell


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_every_exercise_notebook_states_goals_a_time_box_rules_and_a_recap(source: Path) -> None:
    prose = "\n".join(
        text(cell) for cell in stored(source, "learner")["cells"] if cell["cell_type"] == "markdown"
    )
    for part in ("**Time box:**", "**You will", "**Rules", "**Scenario", "## Recap", "Next"):
        assert part in prose, f"{source.name} lacks {part!r}"


def _normal(line: str) -> str:
    # The solved copy names its answer as the learner does (`query = ...`, `_ = ...`); the
    # package names it as the module does (`BALANCES_AT: Final = ...`): compare what follows.
    line = re.sub(r"^_\s*=\s*", "", line.strip())  # `_ = f(...)` only keeps a cell quiet
    return re.sub(r"^[A-Za-z_]\w*(?::\s*\w+)?\s*=\s+(?!=)", "= ", line)


def _regions(text: str) -> list[list[str]]:
    regions, current = [], None
    for line in text.splitlines():
        if TOOL.BEGIN.match(line):
            current = []
        elif TOOL.END.match(line):
            regions.append(current)
            current = None
        elif current is not None and line.strip():
            current.append(_normal(line))
    return regions


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_the_solved_copy_shows_the_solutions_the_package_checks_and_prints(source: Path) -> None:
    module = module_for(source)
    reference = [_normal(line) for line in Path(module.__file__ or "").read_text().splitlines()]
    reference = [line for line in reference if line]
    for region in _regions(source.read_text(encoding="utf-8")):
        found = any(
            reference[i : i + len(region)] == region
            for i in range(len(reference) - len(region) + 1)
        )
        assert found, f"{source.name}: this solution is not {module.__name__}'s:\n" + "\n".join(
            region
        )


# --- the notes for instructors and the command ------------------------------------------------


def test_the_instructors_notes_cover_every_notebook_and_exercise() -> None:
    notes = INSTRUCTORS.read_text(encoding="utf-8")
    for source in SOURCES:
        assert source.stem in notes, f"INSTRUCTORS.md does not mention {source.stem}"
        for exercise in exercises_of(module_for(source)):
            assert f"### {exercise.number} · {exercise.title}" in notes, exercise.number
    for part in ("goals", "time box", "common mistake", "the checker"):
        assert part in notes.lower()


def test_run_py_builds_the_exercise_notebooks() -> None:
    spec = importlib.util.spec_from_file_location("run_for_exercises", ROOT / "run.py")
    assert spec and spec.loader
    run_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_py)
    assert "exercises" in run_py.COMMANDS
    assert "python3 run.py exercises" in (run_py.__doc__ or "")
