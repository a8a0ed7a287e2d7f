"""Reference solutions as a learner sees them: source that pastes and runs in the notebook.

The package's reference solutions are typed (`def apply_event(self, event: DomainEvent) ->
None:`), and the exercise notebooks import only what the learner needs, so a pasted
annotation could name a type the notebook never imported. What a learner is shown drops the
annotations and docstrings and keeps the body, comments included, as written:

>>> def double(x: int, *, times: int = 2) -> int:
...     '''Twice x.'''
...     return x * times  # no float on the way
>>> print(plain_source(double))
def double(x, *, times=2):
    return x * times  # no float on the way
>>> print(body_source(double))
return x * times  # no float on the way

`tools/build_exercises.py` fills the solution regions of the exercise sources from the same
functions (`reference_named`, `body_source`), so a reference solution is written once, here in
the package, and the solved notebook, `solution()` and the checker all use that one copy.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
import types
from typing import Any

from esteach.errors import InvalidInput

__all__ = ["body_source", "plain_source", "reference_named", "value_source"]


def _parse(obj: object) -> tuple[list[str], ast.FunctionDef | ast.ClassDef]:
    if not isinstance(obj, (types.FunctionType, type)):
        raise InvalidInput(f"{obj!r} is not a function or a class")
    source = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(source).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        raise InvalidInput(f"{obj!r} is not a plain function or class")
    return source.splitlines(), node


def _docstring(node: ast.FunctionDef | ast.ClassDef) -> ast.stmt | None:
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first if isinstance(first.value.value, str) else None
    return None


def _body_lines(lines: list[str], node: ast.FunctionDef | ast.ClassDef) -> list[str]:
    """The lines of ``node``'s body, less a docstring, comments kept, dedented."""
    docstring = _docstring(node)
    if docstring is not None:
        start = docstring.end_lineno or docstring.lineno
        if len(node.body) == 1:
            return []
    else:
        start = node.body[0].lineno - 1
    body = lines[start : node.end_lineno]
    return textwrap.dedent("\n".join(body)).strip("\n").splitlines()


def _header(node: ast.FunctionDef) -> str:
    arguments = node.args
    plain = ast.arguments(
        posonlyargs=[ast.arg(a.arg) for a in arguments.posonlyargs],
        args=[ast.arg(a.arg) for a in arguments.args],
        vararg=ast.arg(arguments.vararg.arg) if arguments.vararg else None,
        kwonlyargs=[ast.arg(a.arg) for a in arguments.kwonlyargs],
        kw_defaults=arguments.kw_defaults,
        kwarg=ast.arg(arguments.kwarg.arg) if arguments.kwarg else None,
        defaults=arguments.defaults,
    )
    return f"def {node.name}({ast.unparse(plain)}):"


def _function_text(lines: list[str], node: ast.FunctionDef) -> list[str]:
    body = _body_lines(lines, node) or ["pass"]
    return [_header(node), *("    " + line if line else "" for line in body)]


def body_source(function: object) -> str:
    """The body of ``function`` without its docstring, dedented: what fills a solution region."""
    lines, node = _parse(function)
    if not isinstance(node, ast.FunctionDef):
        raise InvalidInput(f"{function!r} is a class; a solution region holds a function's body")
    return "\n".join(_body_lines(lines, node))


def plain_source(obj: object) -> str:
    """``obj``'s source without annotations or docstrings: it runs wherever the names its body
    uses are defined, which the exercise notebooks' setup cells see to."""
    lines, node = _parse(obj)
    if isinstance(node, ast.FunctionDef):
        return "\n".join(_function_text(lines, node))
    bases = ", ".join(ast.unparse(base) for base in node.bases)
    parts: list[tuple[bool, list[str]]] = []  # (a method?, its lines)
    docstring = _docstring(node)
    for statement in node.body:
        if statement is docstring:
            continue
        if isinstance(statement, ast.FunctionDef):
            parts.append((True, _function_text(lines, statement)))
        else:
            start, end = statement.lineno - 1, statement.end_lineno or statement.lineno
            parts.append((False, textwrap.dedent("\n".join(lines[start:end])).splitlines()))
    # A blank line around each method; a dataclass's fields stay together.
    body = [
        line
        for index, (method, part) in enumerate(parts)
        for line in ([""] if index and (method or parts[index - 1][0]) else [])
        + ["    " + text if text else "" for text in part]
    ]
    decorators = [f"@{ast.unparse(decorator)}" for decorator in node.decorator_list]
    header = f"class {node.name}({bases}):" if bases else f"class {node.name}:"
    return "\n".join([*decorators, header, *(body or ["    pass"])])


def value_source(name: str, value: object) -> str:
    """``name = value`` as source: a text of several lines in triple quotes; a dict of classes
    as the classes' sources, then the dict, naming them (exercise 1.4's events):

    >>> from esteach.exercises.cart import ItemRemoved
    >>> print(value_source("events", {"remove": ItemRemoved}))
    @dataclass(frozen=True)
    class ItemRemoved(DomainEvent):
        sku: str
    <BLANKLINE>
    <BLANKLINE>
    events = {"remove": ItemRemoved}
    """
    if isinstance(value, str) and "\n" in value:
        return f'{name} = """{value}"""'
    if isinstance(value, dict) and value and all(isinstance(v, type) for v in value.values()):
        classes = [plain_source(cls) for cls in dict.fromkeys(value.values())]
        items = ", ".join(f"{_quoted(key)}: {cls.__name__}" for key, cls in value.items())
        line = f"{name} = {{{items}}}"
        if len(line) > 88:  # one item a line, as ruff format would write it
            rows = "".join(f"    {item},\n" for item in items.split(", "))
            line = f"{name} = {{\n{rows}}}"
        return "\n\n\n".join([*classes, line])
    return f"{name} = {value!r}"


def _quoted(key: object) -> str:
    """A dict key as ruff format writes it: strings in double quotes."""
    text = repr(key)
    if isinstance(key, str) and '"' not in key and "\\" not in text:
        return f'"{key}"'
    return text


def reference_named(module: str, name: str) -> Any:
    """The object ``name`` (``Cart.apply_event``, ``INTERVAL``) in the module
    ``esteach.exercises.<module>``; a method comes as its plain function."""
    found: Any = importlib.import_module(f"esteach.exercises.{module}")
    for part in name.split("."):
        holder = found
        found = vars(holder).get(part) if isinstance(holder, type) else getattr(found, part, None)
        if found is None:
            raise InvalidInput(f"esteach.exercises.{module} has no {name!r}")
    return found
