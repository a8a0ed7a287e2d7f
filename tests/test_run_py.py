"""run.py's learner and instructor commands: working copies, reset, the wheelhouse, Binder.

Each test copies run.py into a small fake repository (run.py finds its root by its own place),
so nothing here touches this repository's notebooks or its workspace/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def notebook(heading: str, marker: str = "") -> str:
    cells = [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": f"# {heading}\n"}]
    if marker:
        cells.append(
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {},
                "source": marker,
                "outputs": [],
                "execution_count": None,
            }
        )
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fake repository: run.py, pyproject.toml, two lessons and one exercise notebook."""
    shutil.copy(ROOT / "run.py", tmp_path / "run.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lessons = tmp_path / "notebooks"
    (lessons / "exercises").mkdir(parents=True)
    (lessons / "00_setup_check.ipynb").write_text(notebook("00 · Setup check"))
    (lessons / "03_replay.ipynb").write_text(notebook("03 · Replay"))
    (lessons / "exercises" / "03_exercises_replay_learner.ipynb").write_text(notebook("Ex 3"))
    (lessons / "exercises" / "03_exercises_replay_solved.ipynb").write_text(notebook("Ex 3 ok"))
    return tmp_path


def load_run_py(repo: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_copy", repo / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_py(repo: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=repo,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lab_makes_working_copies_once_and_never_over_a_learners_work(repo: Path) -> None:
    run = load_run_py(repo)
    made = run.prepare_workspace()
    workspace = repo / "workspace"
    assert sorted(path.relative_to(workspace).as_posix() for path in made) == [
        "00_setup_check.ipynb",
        "03_replay.ipynb",
        "exercises/03_exercises_replay_learner.ipynb",
        "solutions/03_exercises_replay_solved.ipynb",  # apart from the learner copies
    ]
    mine = workspace / "03_replay.ipynb"
    mine.write_text(notebook("03 · Replay", "print('my work')"))
    (repo / "notebooks" / "04_new.ipynb").write_text(notebook("04 · New"))

    made = run.prepare_workspace()

    assert [path.name for path in made] == ["04_new.ipynb"], "only the new notebook is copied"
    assert "my work" in mine.read_text(), "a learner's copy was overwritten"
    assert "my work" not in (repo / "notebooks" / "03_replay.ipynb").read_text()


def test_the_start_page_links_to_every_lesson_and_exercise(repo: Path) -> None:
    run = load_run_py(repo)
    run.prepare_workspace()
    page = json.loads((repo / "workspace" / run.START_PAGE).read_text())
    text = page["cells"][0]["source"]
    for link in (
        "[00 · Setup check](00_setup_check.ipynb)",
        "[03 · Replay](03_replay.ipynb)",
        "[Ex 3](exercises/03_exercises_replay_learner.ipynb)",
        "[Ex 3 ok](solutions/03_exercises_replay_solved.ipynb)",
    ):
        assert link in text
    assert "](../docs/reference-design.md)" in text


def test_the_start_page_links_resolve_in_this_repository() -> None:
    run = load_run_py(ROOT)
    copies = {copy.as_posix(): source for copy, source in run.workspace_sources().items()}
    page = json.loads(run.start_page(run.workspace_sources()))
    targets = re.findall(r"\]\(([^)]+)\)", page["cells"][0]["source"])
    assert len(targets) == len(copies) + 2, targets  # and the design, and the data's README
    for target in map(urllib.parse.unquote, targets):
        # A working copy is there once `run.py lab` made it from its tracked notebook.
        found = copies.get(target) or (ROOT / "workspace" / target).resolve()
        assert found.exists(), f"the start page links to {target}, which is not there"


def test_lab_lands_on_notebook_00_without_the_news_pop_up(repo: Path) -> None:
    run = load_run_py(repo)
    command = run.lab_command(["--no-browser"])
    assert f"--ServerApp.root_dir={repo}" in command
    assert "--LabApp.default_url=/lab/tree/workspace/00_setup_check.ipynb" in command
    assert "--LabApp.news_url=None" in command
    assert command[-1] == "--no-browser"
    env = load_run_py(ROOT).lab_environment()
    config = Path(env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0])
    overrides = json.loads((config / "labconfig" / "default_setting_overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@pytest.mark.parametrize(
    ("reply", "kept"), [("n\n", True), ("\n", True), ("", True), ("y\n", False), ("yes\n", False)]
)
def test_reset_asks_before_it_discards_a_learners_copy(repo: Path, reply: str, kept: bool) -> None:
    load_run_py(repo).prepare_workspace()
    mine = repo / "workspace" / "03_replay.ipynb"
    mine.write_text(notebook("03 · Replay", "print('my work')"))

    result = run_py(repo, "reset", "03", stdin=reply)

    assert result.returncode == 0, result.stderr
    assert "Discard your work in workspace/03_replay.ipynb" in result.stdout
    assert ("my work" in mine.read_text()) == kept
    assert ("Kept" in result.stdout) == kept


def test_reset_names_a_copy_by_its_full_name_and_refuses_an_unknown_or_vague_one(
    repo: Path,
) -> None:
    load_run_py(repo).prepare_workspace()
    learner = repo / "workspace" / "exercises" / "03_exercises_replay_learner.ipynb"
    learner.write_text("changed")
    done = run_py(repo, "reset", "03_exercises_replay_learner.ipynb", stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert learner.read_text() == notebook("Ex 3")

    unknown = run_py(repo, "reset", "42_nothing", stdin="y\n")
    assert unknown.returncode == 2
    assert "No notebook called '42_nothing'" in unknown.stderr
    vague = run_py(repo, "reset", "03_exercises", stdin="y\n")
    assert vague.returncode == 2
    assert "could mean" in vague.stderr
    assert run_py(repo, "reset").returncode == 2


def test_setup_installs_from_a_complete_wheelhouse_only(repo: Path) -> None:
    run = load_run_py(repo)
    assert run.wheelhouse_options() == []
    run.WHEELHOUSE.mkdir()
    (run.WHEELHOUSE / "duckdb-2.0.1-cp311-none-any.whl").write_bytes(b"")
    assert run.wheelhouse_options() == [], "a wheelhouse without its stamp is unfinished"
    run.WHEELHOUSE_STAMP.write_text("built\n")
    assert run.wheelhouse_options() == ["--no-index", "--find-links", str(run.WHEELHOUSE)]


def test_the_wheelhouse_holds_what_an_editable_dev_install_needs(repo: Path) -> None:
    wanted = load_run_py(repo).requirements()
    assert any(req.startswith("setuptools") for req in wanted), "the build backend"
    assert "duckdb==2.0.1" in wanted
    assert "playwright" in wanted, "the dev extra"


def test_workspace_and_wheelhouse_are_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "workspace/00_setup_check.ipynb", "wheelhouse/x.whl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == ["workspace/00_setup_check.ipynb", "wheelhouse/x.whl"]


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/esteach.git", "gh/acme/esteach/HEAD"),
        ("https://github.com/acme/esteach", "gh/acme/esteach/HEAD"),
        ("git@github.com:acme/esteach.git", "gh/acme/esteach/HEAD"),
        ("ssh://git@github.com/acme/esteach.git", "gh/acme/esteach/HEAD"),
        ("https://gitlab.com/acme/team/esteach.git", "gl/acme%2Fteam%2Festeach/HEAD"),
        ("https://git.example.org/esteach.git", "git/https%3A%2F%2Fgit.example.org%2Festeach/HEAD"),
    ],
)
def test_binder_url_from_a_git_remote(remote: str, expected: str) -> None:
    url = load_run_py(ROOT).binder_url(remote + "\n")
    assert url == (f"https://mybinder.org/v2/{expected}?labpath=notebooks%2F00_setup_check.ipynb")


def test_binder_url_refuses_a_local_remote() -> None:
    with pytest.raises(ValueError, match="not the address of a repository on a server"):
        load_run_py(ROOT).binder_url("/srv/git/esteach")


def test_run_py_binder_url_prints_the_link_of_the_clones_remote(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    missing = run_py(repo, "binder-url")
    assert missing.returncode == 1
    assert "no git remote 'origin'" in missing.stderr
    subprocess.run(
        ["git", "remote", "add", "origin", "git@github.com:acme/esteach.git"], cwd=repo, check=True
    )
    found = run_py(repo, "binder-url")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == (
        "https://mybinder.org/v2/gh/acme/esteach/HEAD?labpath=notebooks%2F00_setup_check.ipynb"
    )
