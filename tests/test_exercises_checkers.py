"""Every exercise's checker: the reference passes, an untouched answer is "not attempted", no
answer at all makes a checker show a traceback, feedback renders as coloured HTML beside its
plain text, and ``progress()`` lists where a learner stands. (The mistake catalogue, every
typical wrong answer and right answers written differently, is tests/test_exercises_catalogue.py.)
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from esteach.events import EventRegistry
from esteach.exercises import TOPICS, Exercise, Note, Progress, Result, ____, progress
from esteach.exercises import versioning as vv
from esteach.exercises.solutions import plain_source

MODULES = [importlib.import_module(f"esteach.exercises.{topic}") for topic in TOPICS.values()]
EXERCISES: dict[str, Exercise] = {
    value.number: value
    for module in MODULES
    for value in vars(module).values()
    if isinstance(value, Exercise)
}
ROOT = Path(__file__).resolve().parent.parent


def registry_for_72() -> dict[str, Any]:
    registry = EventRegistry()
    vv.register_credited(registry)
    return {"registry": registry}


def options(number: str) -> dict[str, Any]:
    """What a checker needs to run outside a notebook (7.2 looks in a registry of its own)."""
    return registry_for_72() if number == "7.2" else {}


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_the_reference_solution_passes_its_own_checker(number: str) -> None:
    exercise = EXERCISES[number]
    detail = exercise.checker(*exercise.reference, **options(number))
    assert isinstance(detail, str) and detail


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_an_untouched_answer_is_not_attempted(number: str) -> None:
    exercise = EXERCISES[number]
    result = exercise.check(*[____] * len(exercise.answers))
    assert result.status == "not attempted", result
    assert "fill in the ____" in result.message


def test_at_least_ten_exercises_spread_over_every_exercise_notebook() -> None:
    assert len(EXERCISES) >= 10
    assert {number.split(".")[0] for number in EXERCISES} == {str(int(n)) for n in TOPICS}
    assert {str(n) for n in range(1, 8)} <= {number.split(".")[0] for number in EXERCISES}


def test_checker_modules_are_named_after_their_topics() -> None:
    files = {path.stem for path in (ROOT / "esteach" / "exercises").glob("*.py")}
    assert set(TOPICS.values()) <= files
    assert not {name for name in files if name.startswith("nb")}


# --- no traceback, whatever the answer ---------------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


def raises(error: BaseException) -> Any:
    def answer(*args: Any, **kwargs: Any) -> Any:
        raise error

    return answer


class Strange:
    """An answer whose every question fails: attributes, repr, equality, calls."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    __hash__ = object.__hash__

    def __call__(self, *args: Any) -> Any:
        return self


def pytest_failure() -> BaseException:
    try:
        pytest.fail("DID NOT RAISE")
    except BaseException as failure:  # pytest's Failed is a BaseException
        return failure
    raise AssertionError("pytest.fail returned")


ODD_ANSWERS = [
    ("a pytest failure", raises(pytest_failure())),
    ("sys.exit", raises(SystemExit(3))),
    ("GeneratorExit", raises(GeneratorExit())),
    ("an error without a message", raises(Unprintable())),
    ("a strange object", Strange()),
    ("None", None),
    ("a class", type("Whatever", (), {})),
    ("recursion", lambda *args: (lambda f: f(f))(lambda f: f(f))),
]


@pytest.mark.parametrize("number", sorted(EXERCISES))
@pytest.mark.parametrize(("what", "answer"), ODD_ANSWERS, ids=[w for w, _ in ODD_ANSWERS])
def test_no_answer_makes_a_checker_show_a_traceback(number: str, what: str, answer: Any) -> None:
    exercise = EXERCISES[number]
    result = exercise.check(*[answer] * len(exercise.answers), **options(number))
    assert isinstance(result, Result)
    assert result.status == "not yet", result
    assert "\n" not in str(result)


def test_a_keyboard_interrupt_still_stops_the_check() -> None:
    """The learner pressed stop: that is theirs to see, not a verdict on their code."""
    with pytest.raises(KeyboardInterrupt):
        EXERCISES["2.1"].check(raises(KeyboardInterrupt()))


def test_a_pytest_failure_is_reported_as_one_line() -> None:
    result = EXERCISES["2.1"].check(raises(pytest_failure()))
    assert result.mistake == "raised" and "Failed: DID NOT RAISE" in result.message


# --- feedback in Jupyter and in a terminal -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "colour"),
    [("correct", "#2e7d32"), ("not yet", "#e65100"), ("not attempted", "#757575")],
)
def test_a_result_is_coloured_html_in_jupyter_and_one_line_of_text_elsewhere(
    status: Any, colour: str
) -> None:
    result = Result("1.1", status, "items is <{'tea': 1}> & more", "wrong")
    html = result._repr_html_()
    assert colour in html and f"Exercise 1.1 · {status}" in html
    assert "&lt;{&#x27;tea&#x27;: 1}&gt; &amp; more" in html  # the message escaped
    assert str(result) == f"Exercise 1.1 · {status}: items is <{{'tea': 1}}> & more."


def test_hints_and_solutions_keep_their_text_and_show_code_as_it_is_in_html() -> None:
    note = EXERCISES["1.1"].solution()
    assert isinstance(note, Note)
    html = note._repr_html_()
    assert "<pre" in html and "    def apply_event(self, event):" in html
    assert repr(note).startswith("Exercise 1.1 · Apply the cart's events: a reference solution")


# --- progress ----------------------------------------------------------------------------------


def test_progress_checks_each_exercise_of_the_notebook_again() -> None:
    from esteach.exercises import event_store

    namespace: dict[str, Any] = {"ex1": event_store.ex1, "ex2": event_store.ex2}
    namespace["rebuild"] = lambda batch, user_id: 42
    shown = progress(namespace)
    assert isinstance(shown, Progress)
    assert [result.status for _, result in shown.results] == ["not yet", "not attempted"]
    assert repr(shown).splitlines() == [
        "Progress: 0 of 2 exercises correct",
        "  2.1 Rebuild from a batch that arrived out of order: not yet",
        "  2.2 A deposit that survives a lost reply: not attempted",
    ]
    event_store.ex2.catch_up(namespace)
    namespace["rebuild"] = event_store.rebuild
    shown = progress(namespace)
    assert shown.done == 2 and "#2e7d32" in shown._repr_html_()


def test_progress_without_a_namespace_reads_the_callers() -> None:
    from esteach.exercises import projections

    namespace: dict[str, Any] = {"ex1": projections.ex1, "progress": progress}
    exec("shown = progress()", namespace)
    assert repr(namespace["shown"]).startswith("Progress: 0 of 1 exercises correct")


# --- solutions that paste and run --------------------------------------------------------------


def test_a_printed_solution_has_no_annotations_or_docstrings() -> None:
    for exercise in EXERCISES.values():
        source = exercise.solution_source
        assert ") ->" not in source and ": DomainEvent" not in source, exercise.number
        assert '"""Exercise' not in source, exercise.number


def test_plain_source_keeps_defaults_and_comments_and_drops_types() -> None:
    def f(a: int, b: str = "x", *rest: int, key: float = 1.5, **more: Any) -> None:
        """Doc."""
        return None  # a comment

    assert plain_source(f) == (
        "def f(a, b='x', *rest, key=1.5, **more):\n    return None  # a comment"
    )


# --- the learner's earlier work ----------------------------------------------------------------


def test_1_2_says_when_1_1_still_holds_the_placeholder() -> None:
    from esteach.exercises.cart import AddItem, CartBase, ItemAdded

    namespace: dict[str, Any] = {
        "____": ____,
        "CartBase": CartBase,
        "AddItem": AddItem,
        "ItemAdded": ItemAdded,
        "__name__": "__main__",
    }
    exec(
        "class Cart(CartBase):\n"
        "    def apply_event(self, event):\n"
        "        ____\n"
        "class CartWithRules(Cart):\n"
        "    def handle_command(self, command):\n"
        "        return [ItemAdded(command.sku, command.quantity)]\n",
        namespace,
    )
    result = EXERCISES["1.2"].check(namespace["CartWithRules"])
    assert result.mistake == "unfinished dependency", result
    assert "Cart" in result.message and "catch_up()" in result.message


def test_the_retry_check_uses_the_reference_execute_and_puts_the_learners_back() -> None:
    namespace: dict[str, Any] = {"execute": "the learner's own"}
    exec(
        "def execute_with_retry(store, account_id, command, max_attempts=3):\n"
        "    assert execute.__module__ == 'esteach.exercises.concurrency'\n"
        "    return execute(store, account_id, command)\n",
        namespace,
    )
    result = EXERCISES["6.2"].check(namespace["execute_with_retry"])
    assert result.mistake == "no retry"
    assert namespace["execute"] == "the learner's own"


def test_a_cart_subclass_that_is_only_the_base_has_no_apply_event_of_its_own() -> None:
    from esteach.exercises.cart import CartBase

    class Bare(CartBase):
        pass

    assert EXERCISES["1.1"].check(Bare).mistake == "no apply_event"


def test_after_a_recognised_mistake_the_first_hint_is_about_it() -> None:
    exercise = EXERCISES["7.2"]

    def strip(data: dict[str, Any]) -> dict[str, Any]:
        return {"amount": int(data["amount_euros"].replace(".", ""))}

    assert exercise.check(strip).mistake == "decimal point stripped"
    assert "Decimal(text) * 100" in repr(exercise.hint())


def test_the_float_watch_sees_a_float_in_a_helper_and_puts_float_back() -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(
        "def to_cents(text):\n"
        "    return round(float(text) * 100)\n"
        "def credited(data):\n"
        "    return {'amount': to_cents(data['amount_euros'])}\n",
        namespace,
    )
    result = EXERCISES["7.2"].check(namespace["credited"], **registry_for_72())
    assert result.mistake == "float on the way", result
    assert "float" not in namespace and sys.getprofile() is None


def test_the_loan_story_comes_as_the_learners_events_once_they_are_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from esteach.exercises import commands_and_events as ce

    story = ce.loan_story(ce.LOAN_EVENTS)
    assert [type(event) for event in story] == list(ce.LOAN_EVENTS.values())
    loan = ce.Loan("loan-1")
    for event in story:
        loan.apply_event(event)
    assert (loan.due_on, loan.returned_on, loan.fines_cents) == ("2025-04-07", "2025-04-10", 150)
    assert loan.returned_late and loan.days_late == 3
    untouched = {"borrow": ____, "extend": ____, "return": ____, "fine": ____}
    assert ce.loan_story(untouched) == [] and capsys.readouterr().out == ""
    assert ce.loan_story({"borrow": ce.BookBorrowed}) == []
    assert capsys.readouterr().out.startswith("Not yet: no event for 'extend'")
