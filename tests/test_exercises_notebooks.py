"""The exercise notebooks: one source each, two generated copies that are up to date and were
run top to bottom, checks that say "not attempted" in the learner copy and "correct" in the
solved one, solutions that come from the package (one copy) and paste and run in the learner
copy, nbval comparing plain text only, and notes for instructors that cover them."""

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

from esteach.events import EventRegistry
from esteach.exercises import TOPICS, Exercise

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
    return importlib.import_module(f"esteach.exercises.{TOPICS[source.stem[:2]]}")


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


def reference(name: str) -> Any:
    def double(x):  # type: ignore[no-untyped-def]
        """Twice x."""
        return 2 * x  # no float

    return {"double": double, "N": 41, "QUERY": "\nSELECT 1\n"}[name]


def test_a_solution_region_is_filled_from_the_package_in_the_solved_copy_only() -> None:
    source = (
        "def double(x):\n"
        "    ____  # SOLUTION: double\n"
        "# BEGIN SOLUTION: N\n"
        "n = ____  # a number\n"
        "# END SOLUTION\n"
        "# BEGIN SOLUTION: QUERY\n"
        "query = ____  # your SQL\n"
        "# END SOLUTION\n"
    )
    copies = TOOL.split_solutions(source, "x.py", reference)
    assert copies["solved"] == (
        'def double(x):\n    return 2 * x  # no float\nn = 41\nquery = """\nSELECT 1\n"""\n'
    )
    assert copies["learner"] == (
        "def double(x):\n    ____  # your code here\n"
        "n = ____  # a number\nquery = ____  # your SQL\n"
    )


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("# BEGIN SOLUTION: N\n# BEGIN SOLUTION: N\n", "inside the region opened at line 1"),
        ("x = 1\n# END SOLUTION\n", "END SOLUTION without a BEGIN"),
        ("# BEGIN SOLUTION: N\nx = 1\n", "never ended"),
        ("____  # SOLUTION: missing\n", "no reference solution 'missing'"),
        ("# BEGIN SOLUTION: N\n# END SOLUTION\n", "needs a scaffold line"),
    ],
)
def test_unbalanced_or_unknown_markers_are_refused_with_the_line(
    source: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        TOOL.split_solutions(source, "x.py", reference)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_a_source_holds_no_copy_of_a_reference_solution(source: Path) -> None:
    """The solution regions name the package's reference; the code itself is not repeated."""
    text = source.read_text(encoding="utf-8")
    solved = TOOL.variants(source)["solved"]
    learner = TOOL.variants(source)["learner"]
    code = "\n".join(cell.source for cell in solved if cell.kind == "code")
    learner_code = "\n".join(cell.source for cell in learner if cell.kind == "code")
    extra = [line for line in code.splitlines() if line not in learner_code.splitlines()]
    assert extra, f"{source.name}: the solved copy adds nothing to the learner's"
    copied = [line for line in extra if line.strip() and len(line.strip()) > 20 and line in text]
    assert not copied, f"{source.name} repeats solution lines of the package: {copied[:3]}"


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


def learner_namespace(source: Path) -> dict[str, Any]:
    """What a learner's kernel holds after running the learner copy top to bottom."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in stored(source, "learner")["cells"]:
        if cell["cell_type"] == "code":
            exec(compile(text(cell), f"{source.stem}_learner", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_each_printed_solution_pastes_and_runs_in_the_learner_notebook(
    source: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT / "notebooks")  # the notebooks' working directory
    namespace = learner_namespace(source)
    # A registration pasted in 07 goes to a registry of this test's own, not the package's.
    namespace["registry"] = EventRegistry()
    capsys.readouterr()
    for exercise in exercises_of(module_for(source)):
        printed = repr(exercise.solution())
        pasted = printed.split("\n", 2)[2]  # below "Exercise N · title: a reference solution"
        exec(compile(pasted, f"solution {exercise.number}", "exec"), namespace)
        options = {"registry": namespace["registry"]} if exercise.number == "7.2" else {}
        result = exercise.check_in(namespace, **options)
        assert result.correct, f"{exercise.number}, pasted:\n{pasted}\n{result}"
        assert "catch_up() loaded" not in result.message, "the pasted code was not checked"


def test_nbval_compares_the_plain_text_of_the_exercise_notebooks_only() -> None:
    """The HTML of a check may change freely; its text may not (notebooks/exercises/conftest.py
    adds text/html to what nbval's notebook collector leaves out of the comparison)."""
    spec = importlib.util.spec_from_file_location("exercise_conftest", EXERCISES / "conftest.py")
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)

    class Notebook:
        def __init__(self, path: Path) -> None:
            self.path = path
            self.skip_compare: tuple[str, ...] = ("metadata", "traceback")

    class Cell:
        def __init__(self, parent: Notebook) -> None:
            self.parent = parent

    exercise, lesson = Notebook(EXERCISES / "x_learner.ipynb"), Notebook(ROOT / "notebooks/x.ipynb")
    hook.pytest_collection_modifyitems([Cell(exercise), Cell(exercise), Cell(lesson)])
    assert exercise.skip_compare == ("metadata", "traceback", "text/html")
    assert lesson.skip_compare == ("metadata", "traceback")


def test_checked_outputs_hold_the_plain_text_beside_the_html() -> None:
    for source, variant in COPIES:
        for cell in stored(source, variant)["cells"]:
            if CHECK.search(text(cell)) or text(cell).endswith("progress()"):
                data = cell["outputs"][0]["data"]
                assert {"text/plain", "text/html"} <= set(data), (source.name, text(cell))


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
