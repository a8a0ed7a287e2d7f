"""Every example in the package's docstrings runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import esteach

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(esteach.__path__, "esteach.")
    if not info.name.startswith("esteach.notebook")  # needs Jupyter's packages to import
)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_a_module_run(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed (run it with -v)"
