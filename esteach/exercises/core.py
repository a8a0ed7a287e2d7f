"""The machinery of an exercise: ``____``, ``check()``, ``hint()``, ``solution()``, ``catch_up()``.

A learner fills in the ``____`` in a cell and passes what they wrote to the exercise's check:

>>> from esteach.exercises.core import Exercise, NotYet, ____
>>> def check_double(double):
...     if double(2) != 4:
...         raise NotYet("double(2) must be 4", hint="multiply by 2")
...     return "double doubles."
>>> def double(x):
...     return x * 2
>>> ex = Exercise("0.1", "Double it", ["double"], check_double, [double], ["Use *."])
>>> ex.check(____)
Exercise 0.1 · not attempted: fill in the ____ (double), then run this cell again.
>>> ex.check(lambda x: x + 2)
Exercise 0.1 · correct: double doubles.
>>> ex.check(lambda x: x + 3)
Exercise 0.1 · not yet: double(2) must be 4.

A check answers in one line: ``correct``, ``not attempted`` (there is still a ``____``) or
``not yet`` with the reason. ``hint()`` gives the hint for the last mistake first, then the
exercise's hints one at a time; ``solution()`` shows the reference solution; ``catch_up()``
puts the reference solution into the notebook so a learner who is stuck can go on.
"""

from __future__ import annotations

import html
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from esteach.errors import InvalidInput
from esteach.exercises.solutions import plain_source, value_source

__all__ = [
    "PLACEHOLDER_NAME",
    "Exercise",
    "NotYet",
    "Note",
    "Placeholder",
    "Progress",
    "Result",
    "Status",
    "____",
    "describe_error",
    "progress",
    "unfinished",
    "unfinished_dependencies",
]

PLACEHOLDER_NAME: Final = "____"
Status = Literal["correct", "not attempted", "not yet"]


class Placeholder:
    """The ``____`` a learner replaces with their own code.

    It does as little harm as it can, so a notebook with nothing filled in still runs from top
    to bottom: calling it, or taking an attribute, item or arithmetic of it, gives ``____`` back,
    it is false, and iterating over it gives nothing. A check that finds it (as a value, or as
    a name anywhere in a function's code) answers "not attempted".
    """

    _instance: Placeholder | None = None

    def __new__(cls) -> Placeholder:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return PLACEHOLDER_NAME

    def __bool__(self) -> bool:
        return False

    def __call__(self, *args: object, **kwargs: object) -> Placeholder:
        return self

    def __getattr__(self, name: str) -> Placeholder:
        # Private and special names stay missing, so IPython, copy and pickle see a plain object.
        if name.startswith("_"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: object) -> Placeholder:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def _same(self, other: object) -> Placeholder:
        return self

    def _itself(self) -> Placeholder:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _same
    __neg__ = __pos__ = __abs__ = _itself


____: Final = Placeholder()


# --- finding the placeholder ------------------------------------------------------------------


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _uses_placeholder(function: types.FunctionType) -> bool:
    return any(PLACEHOLDER_NAME in code.co_names for code in _codes(function.__code__))


def _functions_of(obj: object) -> Iterator[tuple[str, types.FunctionType]]:
    """The functions an answer is made of, each with the name a learner knows it by."""
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        yield obj.__qualname__.replace("<locals>.", ""), obj
    elif isinstance(obj, type):
        # Only what the class itself defines: its bases are someone else's exercise.
        for name, member in vars(obj).items():
            candidates: list[object] = [member]
            if isinstance(member, (staticmethod, classmethod)):
                candidates = [member.__func__]
            elif isinstance(member, property):
                candidates = [member.fget, member.fset, member.fdel]
            for candidate in candidates:
                if isinstance(candidate, types.FunctionType):
                    yield f"{obj.__name__}.{name}", candidate


def unfinished(answer: object, name: str = "the answer") -> str | None:
    """Where ``answer`` still holds ``____`` (a short description), or ``None`` if nowhere.

    >>> unfinished(____, "INTERVAL")
    'INTERVAL'
    >>> def apply_event(self, event):
    ...     ____  # your code here
    >>> unfinished(apply_event)
    'apply_event'
    """
    if answer is ____:
        return name
    if isinstance(answer, (list, tuple, set, frozenset)):
        for item in answer:
            found = unfinished(item, name)
            if found:
                return found
        return None
    if isinstance(answer, dict):
        for item in [*answer.keys(), *answer.values()]:
            found = unfinished(item, name)
            if found:
                return found
        return None
    for where, function in _functions_of(answer):
        if _uses_placeholder(function):
            return where
    return None


def unfinished_dependencies(answer: object) -> list[str]:
    """Names of the learner's other functions or classes that ``answer`` uses and that still
    hold ``____`` (an earlier exercise not done yet), in the order the code names them."""
    found: list[str] = []
    if isinstance(answer, type):
        # A class builds on its bases: 1.2's CartWithRules on the learner's own Cart.
        for base in answer.__mro__[1:]:
            if base.__module__ == answer.__module__ and unfinished(base, base.__name__):
                found.append(base.__name__)
    for _, function in _functions_of(answer):
        for code in _codes(function.__code__):
            for name in code.co_names:
                value = function.__globals__.get(name)
                if value is None or value is answer or name in found:
                    continue
                same_module = getattr(value, "__module__", None) == function.__module__
                if same_module and unfinished(value, name):
                    found.append(name)
    return found


# --- what a check answers ---------------------------------------------------------------------


class NotYet(Exception):
    """Raised by a checker: the answer is attempted but not right. ``hint`` says what to do."""

    def __init__(self, why: str, *, hint: str | None = None, mistake: str = "wrong") -> None:
        super().__init__(why)
        self.why = why
        self.hint = hint
        self.mistake = mistake


@dataclass(frozen=True)
class Result:
    """What a check found, shown as one line: ``Exercise 1.1 · correct: ...``.

    ``mistake`` names the kind of mistake recognised (``"clock in apply_event"``, ...) when
    the status is "not yet"; it is what the unit tests and the instructors' notes refer to.
    """

    exercise: str
    status: Status
    message: str
    mistake: str | None = None

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        return f"Exercise {self.exercise} · {self.status}: {self._sentence}"

    __repr__ = __str__

    @property
    def _sentence(self) -> str:
        return self.message if self.message.endswith((".", "?", "!")) else self.message + "."

    def _repr_html_(self) -> str:
        """Jupyter shows this; terminals and nbval's stored text/plain show `__str__`."""
        return _box(
            STATUS_COLOURS[self.status],
            f"<b>Exercise {html.escape(self.exercise)} · {self.status}</b>: "
            f"{html.escape(self._sentence)}",
        )


STATUS_COLOURS: Final[dict[Status, str]] = {
    "correct": "#2e7d32",  # green
    "not yet": "#e65100",  # orange
    "not attempted": "#757575",  # grey
}
"""The colour of each status in Jupyter, as learntools shows its feedback."""


def _box(colour: str, inner_html: str) -> str:
    return (
        f'<div style="border-left: 6px solid {colour}; padding: 0.3em 0.8em; '
        f'margin: 0.2em 0; color: inherit; background: {colour}14">{inner_html}</div>'
    )


class Note:
    """Text shown as it is (hints, solutions, catch-up messages): its repr is the text; in
    Jupyter, a box with the text as it is (code keeps its indentation)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def _repr_html_(self) -> str:
        title, _, rest = self.text.partition("\n")
        body = f"<b>{html.escape(title)}</b>"
        if rest:
            body += f'<pre style="margin: 0.4em 0 0">{html.escape(rest.strip(chr(10)))}</pre>'
        return _box("#1565c0", body)


class Progress:
    """Where a learner stands in one notebook: each exercise's status, one line each."""

    def __init__(self, results: Sequence[tuple[Exercise, Result]]) -> None:
        self.results = list(results)

    @property
    def done(self) -> int:
        return sum(result.correct for _, result in self.results)

    def __repr__(self) -> str:
        lines = [f"Progress: {self.done} of {len(self.results)} exercises correct"]
        for exercise, result in self.results:
            lines.append(f"  {exercise.number} {exercise.title}: {result.status}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<li><span style="color: {STATUS_COLOURS[result.status]}">&#9679;</span> '
            f"<b>{html.escape(exercise.number)}</b> {html.escape(exercise.title)}: "
            f"{result.status}</li>"
            for exercise, result in self.results
        )
        return _box(
            "#1565c0",
            f"<b>Progress: {self.done} of {len(self.results)} exercises correct</b>"
            f'<ul style="list-style: none; margin: 0.3em 0 0; padding: 0">{rows}</ul>',
        )


# --- an exercise ------------------------------------------------------------------------------

Checker = Callable[..., str]
"""``checker(*answers)`` returns what is right about a correct answer, or raises
`NotYet`. Exceptions from the learner's code that it does not turn into a ``NotYet``
are reported by `Exercise.check` as "your code raised ..."."""


class Exercise:
    """One exercise: its checker, hints, reference solution and catch-up.

    ``answers`` names what the learner defines (``["Cart"]``), in the order ``check`` takes
    them; ``reference`` holds the reference solution's objects in the same order.
    ``solution_source`` is what `solution` prints (the source of ``reference``
    by default); ``on_catch_up`` does whatever else the reference solution does (registering
    an upcaster, say) when `catch_up` loads it.
    """

    def __init__(
        self,
        number: str,
        title: str,
        answers: Sequence[str],
        checker: Checker,
        reference: Sequence[object],
        hints: Sequence[str],
        *,
        solution_source: str | None = None,
        on_catch_up: Callable[[], object] | None = None,
    ) -> None:
        if len(answers) != len(reference):
            raise InvalidInput(
                f"exercise {number}: {len(answers)} answers but {len(reference)} references"
            )
        self.number = number
        self.title = title
        self.answers = tuple(answers)
        self.checker = checker
        self.reference = tuple(reference)
        self.hints = tuple(hints)
        self._solution_source = solution_source
        self._on_catch_up = on_catch_up
        self._next_hint = 0
        self._mistake_hint: str | None = None
        self.last: Result | None = None
        """The result of the last check, for `progress`."""

    # --- check ---------------------------------------------------------------------------

    def check(self, *answers: Any, **options: Any) -> Result:
        """Check the learner's answer(s): ``ex1.check(Cart)``.

        With no arguments, the answers are looked up by name in the calling notebook.
        ``options`` go to the checker (say, another registry to look in, for tests).
        """
        if not answers:
            return self.check_in(sys._getframe(1).f_globals, **options)
        return self._remember(self._verdict(answers, options))

    def check_in(self, namespace: dict[str, Any], **options: Any) -> Result:
        """Check the answers found by name in ``namespace`` (a notebook's globals)."""
        missing = [name for name in self.answers if name not in namespace]
        if missing:
            return self._remember(
                self._result(
                    "not attempted",
                    f"define {', '.join(missing)} first, then run {self._call('check')}",
                )
            )
        answers = tuple(namespace[name] for name in self.answers)
        return self._remember(self._verdict(answers, options))

    def _remember(self, result: Result) -> Result:
        self.last = result
        return result

    def _verdict(self, answers: tuple[Any, ...], options: dict[str, Any]) -> Result:
        try:
            return self._judge(answers, options)
        except KeyboardInterrupt:
            raise  # the learner pressed stop: that is theirs to see, not a verdict
        except BaseException as error:  # a check never shows a traceback
            # Whatever the answer did (a pytest.fail, a sys.exit, an object whose repr
            # raises), the learner gets one line.
            self._mistake_hint = None
            return self._result(
                "not yet", f"your code raised {describe_error(error)}", mistake="raised"
            )

    def _judge(self, answers: tuple[Any, ...], options: dict[str, Any]) -> Result:
        if len(answers) != len(self.answers):
            return self._result(
                "not yet",
                f"this check takes {len(self.answers)} answer(s): {self._call('check')}",
                mistake="wrong call",
            )
        for name, answer in zip(self.answers, answers, strict=True):
            where = unfinished(answer, name)
            if where:
                return self._result(
                    "not attempted",
                    f"fill in the {PLACEHOLDER_NAME} ({where}), then run this cell again",
                )
        if all(a is r for a, r in zip(answers, self.reference, strict=True)):
            return self._result(
                "correct",
                f"this is the reference solution that catch_up() loaded; read it with "
                f"{self._call('solution')}",
            )
        for answer in answers:
            waiting = unfinished_dependencies(answer)
            if waiting:
                return self._result(
                    "not yet",
                    f"your code uses {', '.join(waiting)}, which still has a "
                    f"{PLACEHOLDER_NAME} in it: finish that exercise first (or load its "
                    f"reference solution with its catch_up()), then run this cell and its "
                    f"definition again",
                    mistake="unfinished dependency",
                )
        try:
            detail = self.checker(*answers, **options)
        except NotYet as verdict:
            self._mistake_hint = verdict.hint
            return self._result("not yet", verdict.why, mistake=verdict.mistake)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the learner's code failed unforeseen
            self._mistake_hint = None
            return self._result(
                "not yet", f"your code raised {describe_error(error)}", mistake="raised"
            )
        self._mistake_hint = None
        return self._result("correct", detail)

    def _result(self, status: Status, message: str, mistake: str | None = None) -> Result:
        return Result(self.number, status, message, mistake)

    def _call(self, method: str) -> str:
        args = ", ".join(self.answers) if method == "check" else ""
        return f"ex{self.number.split('.')[-1]}.{method}({args})"

    # --- help ----------------------------------------------------------------------------

    def hint(self) -> Note:
        """The next hint: first one for the mistake the last check found, then the general ones."""
        if self._mistake_hint is not None:
            text, self._mistake_hint = self._mistake_hint, None
            return Note(f"Hint for your last check: {text}")
        if not self.hints:
            return Note(f"No hints for this one; {self._call('solution')} shows a solution.")
        index = min(self._next_hint, len(self.hints) - 1)
        self._next_hint += 1
        text = f"Hint {index + 1} of {len(self.hints)}: {self.hints[index]}"
        if index == len(self.hints) - 1:
            text += f"\n(That was the last hint; {self._call('solution')} shows a solution.)"
        return Note(text)

    @property
    def solution_source(self) -> str:
        if self._solution_source is not None:
            return self._solution_source
        parts = []
        for name, obj in zip(self.answers, self.reference, strict=True):
            if isinstance(obj, (types.FunctionType, type)):
                parts.append(plain_source(obj))
            else:
                parts.append(value_source(name, obj))
        return "\n\n\n".join(parts)

    def solution(self) -> Note:
        """A reference solution, as source (one of many possible right answers)."""
        return Note(
            f"Exercise {self.number} · {self.title}: a reference solution\n\n{self.solution_source}"
        )

    def catch_up(self, namespace: dict[str, Any] | None = None) -> Note:
        """Load the reference solution into the notebook under the answers' names.

        For a learner who is stuck: the cells after this exercise can then run with a working
        answer. ``namespace`` defaults to the calling notebook's (or module's) globals.
        """
        target = sys._getframe(1).f_globals if namespace is None else namespace
        for name, obj in zip(self.answers, self.reference, strict=True):
            target[name] = obj
        if self._on_catch_up is not None:
            self._on_catch_up()  # e.g. register the reference upcaster, as the solution does
        names = " and ".join(self.answers)
        holds = "holds" if len(self.answers) == 1 else "hold"
        return Note(
            f"Caught up on exercise {self.number}: {names} now {holds} the reference solution, "
            f"so the cells below can use it. Read it with {self._call('solution')}; come back "
            f"and write your own when you are ready (running your cell again replaces it)."
        )

    def __repr__(self) -> str:
        return f"Exercise {self.number} · {self.title} ({self._call('check')})"


def describe_error(error: BaseException) -> str:
    """``KeyError: 'sku'``: an error as one line (the first line of its message)."""
    try:
        message = str(error).strip()
    except Exception:  # an error whose __str__ fails still has a name
        message = ""
    text = message.splitlines()[0] if message else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def progress(namespace: dict[str, Any] | None = None) -> Progress:
    """Which exercises of this notebook are done: each one checked again, one line each.

    The exercises are the ``Exercise`` objects in ``namespace`` (the calling notebook's
    globals by default: ``ex1``, ``ex2``, ...), each checked against the answers defined there.
    """
    target = sys._getframe(1).f_globals if namespace is None else namespace
    exercises = sorted(
        {id(v): v for v in target.values() if isinstance(v, Exercise)}.values(),
        key=lambda exercise: [int(part) for part in exercise.number.split(".")],
    )
    return Progress([(exercise, exercise.check_in(target)) for exercise in exercises])
