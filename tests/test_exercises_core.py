"""The exercise machinery: the placeholder, results, hints, solutions, catch-up, the purity
watch, the store that starts over, and the trouble-making store wrappers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from esteach import ANY, InvalidInput, NewEvent, WrongExpectedVersion
from esteach.exercises import Exercise, NotYet, ____, fresh_store
from esteach.exercises.core import Note, Result, unfinished, unfinished_dependencies
from esteach.exercises.fakes import CountingStore, LostReply, Runaway, SomeoneElseFirst
from esteach.exercises.purity import Impurity, describe, watch


def check_double(double: Any) -> str:
    if double(2) != 4:
        raise NotYet("double(2) must be 4", hint="multiply by 2", mistake="adds")
    return "double doubles"


def double(x: int) -> int:
    return x * 2


def make_exercise(**kwargs: Any) -> Exercise:
    return Exercise(
        "9.1", "Double it", ["double"], check_double, [double], ["Use *.", "x * 2"], **kwargs
    )


# --- the placeholder ---------------------------------------------------------------------------


def test_the_placeholder_lets_an_unsolved_cell_run_on() -> None:
    assert repr(____) == "____"
    assert not ____
    assert ____(1, key=2) is ____
    assert ____.anything is ____
    assert ____["key"] is ____
    assert ____ + 1 is ____ and 1 + ____ is ____ and -____ is ____
    assert list(____) == []


def test_the_placeholder_hides_private_names_so_ipython_and_copy_see_a_plain_object() -> None:
    with pytest.raises(AttributeError):
        ____._repr_html_  # noqa: B018
    with pytest.raises(AttributeError):
        ____.__deepcopy__  # noqa: B018


def test_unfinished_finds_the_placeholder_as_a_value_or_anywhere_in_code() -> None:
    def filled(x: int) -> int:
        return x

    def unfilled(x: int) -> Any:
        def inner() -> Any:
            return ____

        return inner

    class Half:
        def done(self) -> int:
            return 1

        @staticmethod
        def todo() -> Any:
            ____  # noqa: B018

    assert unfinished(____, "INTERVAL") == "INTERVAL"
    assert unfinished([1, {"a": ____}], "answers") == "answers"
    assert unfinished(filled) is None
    assert (
        unfinished(unfilled)
        == "test_unfinished_finds_the_placeholder_as_a_value_or_anywhere_in_code.unfilled"
    )
    assert unfinished(Half) == "Half.todo"
    assert unfinished(Half().done) is None


def test_unfinished_dependencies_name_the_learners_unfinished_helpers() -> None:
    namespace: dict[str, Any] = {"____": ____}
    source = "def execute():\n    ____\n\ndef retry():\n    return execute()\n\n"
    exec(source + "def ok():\n    return 1\n", namespace)
    assert unfinished_dependencies(namespace["retry"]) == ["execute"]
    assert unfinished_dependencies(namespace["ok"]) == []


# --- results and checks ------------------------------------------------------------------------


def test_a_result_is_one_line_and_true_only_when_correct() -> None:
    result = Result("1.1", "not yet", "x is wrong", "wrong")
    assert repr(result) == "Exercise 1.1 · not yet: x is wrong."
    assert not result and Result("1.1", "correct", "fine.")
    assert str(Result("1.1", "correct", "fine.")) == "Exercise 1.1 · correct: fine."


def test_check_answers_not_attempted_not_yet_and_correct() -> None:
    exercise = make_exercise()
    assert exercise.check(____).status == "not attempted"
    wrong = exercise.check(lambda x: x + 2 if x != 2 else 5)
    assert (wrong.status, wrong.mistake) == ("not yet", "adds")
    assert exercise.check(lambda x: x + x).correct


def test_check_reports_an_unforeseen_error_in_the_learners_code_as_not_yet() -> None:
    result = make_exercise().check(lambda x: {}["missing"])
    assert (result.status, result.mistake) == ("not yet", "raised")
    assert "KeyError: 'missing'" in result.message


def test_check_without_arguments_looks_the_answers_up_in_the_callers_namespace() -> None:
    exercise = make_exercise()
    namespace: dict[str, Any] = {"exercise": exercise}
    exec("result = exercise.check()", namespace)
    assert namespace["result"].status == "not attempted"
    exec("def double(x):\n    return 2 * x\nresult = exercise.check()", namespace)
    assert namespace["result"].correct


def test_check_says_when_an_earlier_exercise_it_builds_on_is_unfinished() -> None:
    namespace: dict[str, Any] = {"____": ____}
    exec("def helper(x):\n    ____\n\ndef double(x):\n    return helper(x)\n", namespace)
    result = make_exercise().check(namespace["double"])
    assert (result.status, result.mistake) == ("not yet", "unfinished dependency")
    assert "helper" in result.message


def test_check_with_a_wrong_number_of_answers_says_how_to_call_it() -> None:
    result = make_exercise().check(double, double)
    assert result.status == "not yet" and "ex1.check(double)" in result.message


# --- hints, solutions, catch-up ----------------------------------------------------------------


def test_hints_come_one_at_a_time_and_the_last_one_points_to_the_solution() -> None:
    exercise = make_exercise()
    first, second, again = exercise.hint(), exercise.hint(), exercise.hint()
    assert repr(first) == "Hint 1 of 2: Use *."
    assert repr(second).startswith("Hint 2 of 2: x * 2") and "ex1.solution()" in repr(second)
    assert repr(again).startswith("Hint 2 of 2")


def test_the_first_hint_after_a_recognised_mistake_is_about_that_mistake() -> None:
    exercise = make_exercise()
    exercise.check(lambda x: x + 3)
    assert repr(exercise.hint()) == "Hint for your last check: multiply by 2"
    assert repr(exercise.hint()) == "Hint 1 of 2: Use *."


def test_solution_shows_the_reference_source() -> None:
    text = repr(make_exercise().solution())
    assert text.startswith("Exercise 9.1 · Double it: a reference solution")
    # Without annotations: a pasted solution must not name a type the notebook never imported.
    assert "def double(x):\n    return x * 2" in text


def test_an_exercise_with_more_answers_than_references_is_refused() -> None:
    with pytest.raises(InvalidInput, match="2 answers but 1 references"):
        Exercise("9.3", "Two", ["a", "b"], check_double, [double], [])


def test_solution_shows_values_as_assignments() -> None:
    exercise = Exercise("9.2", "Pick", ["N", "Q"], lambda n, q: "ok", [41, "\nSELECT 1\n"], [])
    assert exercise.solution_source == 'N = 41\n\n\nQ = """\nSELECT 1\n"""'


def test_catch_up_puts_the_reference_into_the_namespace_and_check_recognises_it() -> None:
    done: list[bool] = []
    exercise = make_exercise(on_catch_up=lambda: done.append(True))
    namespace: dict[str, Any] = {}
    note = exercise.catch_up(namespace)
    assert isinstance(note, Note) and "double now holds the reference solution" in repr(note)
    assert namespace["double"] is double and done == [True]
    result = exercise.check(namespace["double"])
    assert result.correct and "catch_up()" in result.message


def test_catch_up_without_a_namespace_fills_the_callers_globals() -> None:
    namespace: dict[str, Any] = {"exercise": make_exercise()}
    exec("exercise.catch_up()", namespace)
    assert namespace["double"] is double


# --- purity --------------------------------------------------------------------------------------


def test_watch_sees_the_clock_however_it_was_imported() -> None:
    from datetime import datetime as dt
    from time import time as now

    def impure() -> float:
        dt.now(UTC)
        return now() + time.monotonic()

    _, calls = watch(impure)
    names = {call.name for call in calls}
    assert {"datetime.now", "time.time", "time.monotonic"} <= names
    assert all(call.kind == "the clock" for call in calls)


def test_watch_sees_io_and_random_numbers_and_nothing_in_pure_code(tmp_path: Any) -> None:
    import random
    import uuid

    def impure() -> None:
        (tmp_path / "x.txt").write_text("x")
        random.random()
        uuid.uuid4()

    _, calls = watch(impure)
    kinds = {call.kind for call in calls}
    assert kinds == {"I/O", "random numbers"}
    assert watch(lambda: sorted([3, 1, 2]))[1] == []
    assert describe([Impurity("the clock", "datetime.now")]) == "read the clock (datetime.now)"


def test_watch_restores_the_previous_profiler_even_when_the_call_fails() -> None:
    import sys

    before = sys.getprofile()
    with pytest.raises(ZeroDivisionError):
        watch(lambda: 1 / 0)
    assert sys.getprofile() is before


# --- the store that starts over, and the wrappers ----------------------------------------------


def test_fresh_store_repeats_times_and_ids_and_reset_empties_it_in_place() -> None:
    store = fresh_store()
    first = store.append_events("a", 0, [NewEvent("Happened", {})])
    store.append_events("a", 1, [NewEvent("Happened", {})])
    assert repr(store) == "ExerciseStore(events=2, streams=1)"
    store.reset()
    assert store.head_position() == 0
    again = store.append_events("a", 0, [NewEvent("Happened", {})])
    assert (again[0].id, again[0].timestamp) == (first[0].id, first[0].timestamp)
    assert first[0].timestamp == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert fresh_store().append_events("a", 0, [NewEvent("Happened", {})])[0].id == first[0].id


def test_someone_else_first_appends_before_the_learners_append() -> None:
    store = fresh_store()
    racing = SomeoneElseFirst(store, lambda: store.append_events("a", 0, [NewEvent("Other", {})]))
    with pytest.raises(WrongExpectedVersion):
        racing.append_events("a", 0, [NewEvent("Mine", {})])
    assert (racing.interfered, racing.appends) == (1, 1)


def test_someone_else_first_after_load_strikes_between_load_and_version_check() -> None:
    store = fresh_store()
    racing = SomeoneElseFirst(
        store, lambda: store.append_events("a", 0, [NewEvent("Other", {})]), after_load=True
    )
    assert racing.stream_version("a") == 0  # not armed before a load
    racing.get_events("a")
    assert racing.stream_version("a") == 1


def test_lost_reply_writes_then_raises_and_counting_counts() -> None:
    store = fresh_store()
    flaky = LostReply(store, times=1)
    event = NewEvent("Happened", {}, id="fixed")
    with pytest.raises(TimeoutError):
        flaky.append_events("a", 0, [event])
    assert store.head_position() == 1
    assert flaky.append_events("a", 0, [event])[0].id == "fixed"  # an exact retry
    counting = CountingStore(store)
    counting.get_events("a")
    assert (counting.loads, counting.events_read) == (1, 1)


def test_a_runaway_retry_loop_is_stopped_even_through_except_exception() -> None:
    counting = CountingStore(fresh_store())

    def keeps_trying() -> None:
        while True:
            try:
                counting.append_events("a", ANY, [NewEvent("Happened", {})])
            except Exception:
                continue

    with pytest.raises(Runaway):
        keeps_trying()


def test_watch_lets_no_garbage_collection_blame_someone_elses_finalizer_on_the_learner() -> None:
    import gc

    assert gc.isenabled()
    collecting, calls = watch(gc.isenabled)
    assert (collecting, calls) == (False, [])
    assert gc.isenabled()
