"""nbval compares only the plain text of the exercise notebooks' checked outputs.

A check's result, a hint and `progress()` show in Jupyter as coloured HTML (`_repr_html_`)
beside the plain text (`text/plain`) that terminals see. The text says everything the HTML
does; comparing the HTML too would make every change of colour or markup a failed test, so
nbval leaves `text/html` out of the comparison for the notebooks in this folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IGNORED = ("text/html",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        notebook = item.parent
        skip = getattr(notebook, "skip_compare", None)
        if skip is None or notebook is None or Path(str(notebook.path)).parent != HERE:
            continue
        notebook.skip_compare = tuple(skip) + tuple(k for k in IGNORED if k not in skip)
