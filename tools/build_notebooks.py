"""Build notebooks/NN_name.ipynb from notebooks/src/NN_name.py, executed, the same bytes every time.

    python tools/build_notebooks.py [--timeout SECONDS] [NAMES...]

NAMES are source names with or without `.py` (`00_setup_check`); none means all of them.

A source is percent-format Python. `# %%` starts a code cell and `# %% [markdown]` a markdown
cell, whose lines are markdown behind `# ` (a bare `#` is an empty line). A code cell may open
with nbval comments such as `# NBVAL_CHECK_OUTPUT`; they stay in the cell, where nbval reads
them, and `# NBVAL_RAISES_EXCEPTION` also tags the cell so the build expects its error.
Blank lines around cells are dropped, and so are empty cells.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"

MARKER = re.compile(r"^# %%(?P<rest>.*)$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Widget views name a model by a random id, so they would differ on every build; the text/plain
# beside them stays, and a learner who runs the cell gets the live widget.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class SourceError(ValueError):
    """A notebook source that does not follow the percent format described above."""


@dataclass(frozen=True)
class Cell:
    kind: Literal["code", "markdown"]
    source: str


def parse_source(text: str, name: str = "<source>") -> list[Cell]:
    """Split a percent-format source into cells.

    >>> parse_source("# %% [markdown]\\n# # Title\\n\\n# %%\\nprint(1)\\n")
    [Cell(kind='markdown', source='# Title'), Cell(kind='code', source='print(1)')]
    """
    cells: list[Cell] = []
    kind: Literal["code", "markdown"] | None = None
    lines: list[str] = []

    def close_cell() -> None:
        source = "\n".join(lines).strip("\n")
        if kind is not None and source.strip():
            cells.append(Cell(kind, source))
        lines.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        marker = MARKER.match(line)
        if marker:
            close_cell()
            rest = marker["rest"].strip()
            if rest.startswith(("[markdown]", "[md]")):
                kind = "markdown"
            elif rest.startswith("["):
                raise SourceError(f"{where}: unknown cell type {rest!r}; use `# %% [markdown]`.")
            else:
                kind = "code"
        elif kind is None:
            if line.strip():
                raise SourceError(f"{where}: text before the first cell; begin with `# %%`.")
        elif kind == "markdown":
            if line.strip() in ("", "#"):
                lines.append("")
            elif line.startswith("# "):
                lines.append(line[2:])
            else:
                raise SourceError(f"{where}: a markdown line must start with `# `, found {line!r}.")
        else:
            lines.append(line)
    close_cell()
    return cells


def notebook_from_cells(cells: list[Cell]) -> nbformat.NotebookNode:
    """An unexecuted notebook with fixed cell ids (`cell-00`, `cell-01`, ...)."""
    notebook: nbformat.NotebookNode = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    for index, cell in enumerate(cells):
        cell_id = f"cell-{index:02d}"
        if cell.kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(cell.source, id=cell_id))
            continue
        code: nbformat.NotebookNode = nbformat.v4.new_code_cell(cell.source, id=cell_id)
        if "# NBVAL_RAISES_EXCEPTION" in cell.source.splitlines():
            code.metadata["tags"] = ["raises-exception"]
        notebook.cells.append(code)
    return notebook


def execute(notebook: nbformat.NotebookNode, timeout: int) -> None:
    """Run every cell in a fresh kernel whose working directory is notebooks/."""
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
        store_widget_state=False,
        coalesce_streams=True,
    )
    client.execute()


def strip_volatile(notebook: nbformat.NotebookNode) -> None:
    """Drop what changes from run to run or machine to machine but teaches nothing."""
    notebook.metadata.pop("widgets", None)
    notebook.metadata.get("language_info", {}).pop("version", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


def build(source: Path, timeout: int) -> bool:
    """Build, execute and write the notebook for one source; return whether its file changed."""
    target = NOTEBOOKS / f"{source.stem}.ipynb"
    notebook = notebook_from_cells(parse_source(source.read_text(encoding="utf-8"), source.name))
    execute(notebook, timeout)
    strip_volatile(notebook)
    nbformat.validate(notebook)
    text = nbformat.writes(notebook).rstrip("\n") + "\n"
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True


def select(names: list[str]) -> list[Path]:
    available = sorted(SOURCES.glob("*.py"))
    if not names:
        return available
    by_stem = {path.stem: path for path in available}
    stems = [Path(name).stem for name in names]
    unknown = [stem for stem in stems if stem not in by_stem]
    if unknown:
        known = ", ".join(by_stem) or "none"
        raise SystemExit(f"No source for {', '.join(unknown)} in notebooks/src (have: {known}).")
    return [by_stem[stem] for stem in stems]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build notebooks from notebooks/src.")
    parser.add_argument("names", nargs="*", help="sources to build, e.g. 00_setup_check")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    # Stored outputs are made at test size, the size nbval runs them at (tests/conftest.py).
    os.environ["ESTEACH_SIZE"] = "small"
    failed: list[str] = []
    for source in select(args.names):
        print(f"building {source.relative_to(ROOT)} ...", flush=True)
        try:
            changed = build(source, args.timeout)
        except (SourceError, CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            print(f"FAILED {source.relative_to(ROOT)}:\n{error}", file=sys.stderr)
            failed.append(source.name)
        else:
            print(f"  {'updated' if changed else 'unchanged'}: notebooks/{source.stem}.ipynb")
    if failed:
        print(f"\n{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
