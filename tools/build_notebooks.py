"""Build notebooks/NN_name.ipynb from notebooks/src/NN_name.py, executed, the same bytes every time.

    python tools/build_notebooks.py [--timeout SECONDS] [NAMES...]

NAMES are source names with or without `.py` (`00_setup_check`); none means all of them.

A source is percent-format Python. `# %%` starts a code cell and `# %% [markdown]` a markdown
cell, whose lines are markdown behind `# ` (a bare `#` is an empty line). A code cell may open
with nbval's comments, `# NBVAL_CHECK_OUTPUT`, `# NBVAL_IGNORE_OUTPUT`, `# NBVAL_SKIP` or
`# NBVAL_RAISES_EXCEPTION`: the notebook shows learners the code without them, and carries
each as the cell-metadata tag nbval reads instead (`nbval-check-output`, ...,
`raises-exception`, which also tells the build to expect the cell's error). Blank lines around
cells are dropped, and so are empty cells.

The notebooks in `UNRUN` are run by the build, to prove they work, but stored without outputs,
so that what a learner sees in them is what their own run printed.
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


# nbval's comment markers and the cell tags it honours instead (nbval/plugin.py: its
# `metadata_tags` are the comments lower-cased with `-`; `raises-exception` is also nbclient's).
MARKER_TAGS = {
    "# NBVAL_CHECK_OUTPUT": "nbval-check-output",
    "# NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "# NBVAL_SKIP": "nbval-skip",
    "# NBVAL_RAISES_EXCEPTION": "raises-exception",
}
# Stored without outputs: the setup check, whose `ok` lines must come from the learner's run.
UNRUN = {"00_setup_check"}


class SourceError(ValueError):
    """A notebook source that does not follow the percent format described above."""


@dataclass(frozen=True)
class Cell:
    kind: Literal["code", "markdown"]
    source: str
    tags: tuple[str, ...] = ()


def marker_tags(source: str) -> tuple[str, tuple[str, ...]]:
    """A code cell's source without nbval's comment lines, and the tags that stand for them.

    >>> marker_tags("# NBVAL_CHECK_OUTPUT\\nprint(1)")
    ('print(1)', ('nbval-check-output',))
    """
    kept, tags = [], []
    for line in source.splitlines():
        tag = MARKER_TAGS.get(line.strip())
        if tag is None:
            kept.append(line)
        elif tag not in tags:
            tags.append(tag)
    return "\n".join(kept).strip("\n"), tuple(tags)


def parse_source(text: str, name: str = "<source>") -> list[Cell]:
    """Split a percent-format source into cells.

    >>> source = "# %% [markdown]\\n# # Title\\n\\n# %%\\n# NBVAL_SKIP\\nprint(1)\\n"
    >>> for cell in parse_source(source):
    ...     print(cell)
    Cell(kind='markdown', source='# Title', tags=())
    Cell(kind='code', source='print(1)', tags=('nbval-skip',))
    """
    cells: list[Cell] = []
    kind: Literal["code", "markdown"] | None = None
    lines: list[str] = []

    def close_cell() -> None:
        source, tags = "\n".join(lines).strip("\n"), ()
        if kind == "code":
            source, tags = marker_tags(source)
        if kind is not None and source.strip():
            cells.append(Cell(kind, source, tags))
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
        if cell.tags:
            code.metadata["tags"] = list(cell.tags)
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
    if source.stem in UNRUN:
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
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
