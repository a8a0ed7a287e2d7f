"""Small tools the checkers share: recorded envelopes from domain events, and calling the
learner's code so that its failures become a "not yet" that says where it failed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from esteach.errors import DomainError
from esteach.events import DomainEvent, Event, EventMetadata
from esteach.exercises.cart import MAX_PER_ITEM
from esteach.exercises.core import NotYet, describe_error
from esteach.exercises.purity import describe, watch
from esteach.exercises.sandbox import START

__all__ = ["call", "call_pure", "check_refusal", "recorded"]

T = TypeVar("T")


def recorded(
    aggregate_type: str,
    aggregate_id: str,
    events: Iterable[DomainEvent],
    *,
    start: datetime = START,
    first_position: int = 1,
) -> list[Event]:
    """Domain events as the recorded envelopes of one stream, versions 1, 2, 3, ..."""
    return [
        Event(
            id=f"{aggregate_id}-{version}",
            aggregate_id=aggregate_id,
            aggregate_type=aggregate_type,
            event_type=event.event_type,
            version=version,
            timestamp=start + timedelta(minutes=version - 1),
            data=event.to_data(),
            metadata=EventMetadata(schema_version=event.schema_version),
            global_position=first_position + version - 1,
        )
        for version, event in enumerate(events, start=1)
    ]


def call(function: Callable[..., T], *args: Any, doing: str, mistake: str = "raised") -> T:
    """``function(*args)``; an exception becomes ``NotYet("<doing> raised KeyError: ...")``."""
    try:
        return function(*args)
    except NotYet:
        raise
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake=mistake) from error


def call_pure(
    function: Callable[..., T],
    *args: Any,
    doing: str,
    what: str,
    rule: str,
    mistake: str,
    hint: str,
) -> T:
    """Like `call`, and also fail when ``function`` read the clock, did I/O or drew
    random numbers. ``what`` names the function for the message (``"apply_event"``)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(function(*args))
        except Exception as error:  # reported after the impure calls, which matter more
            outcome.append(error)

    _, impure = watch(run)
    if impure:
        raise NotYet(
            f"{what} {describe(impure)} while {doing}: {rule}",
            mistake=mistake,
            hint=hint,
        )
    result = outcome[0]
    if isinstance(result, Exception):
        raise NotYet(f"{doing} raised {describe_error(result)}", mistake="raised") from result
    return result  # type: ignore[no-any-return]


def check_refusal(
    where: str,
    outcome: object,
    expected: type[Exception],
    rule: int,
    rule_tests: dict[int, str],
    count: str,
    error_hint: str = "",
) -> None:
    """The cart's rule checkers' verdict when a rule should refuse: decided anyway (the rule is
    missing), or refused with another error. ``count`` is how the answer reads what the cart
    holds (``self.items`` or ``state.items``); ``error_hint`` ends the wrong-error hint."""
    if not isinstance(outcome, Exception):
        if rule == 4:
            why = f"7 already in the cart + 4 more = 11, above {MAX_PER_ITEM} (rule 4)"
            hint = f"Count what the cart holds already: {count}.get(command.sku, 0)."
        else:
            why = f"rule {rule} says raise {expected.__name__}"
            hint = (
                f"{rule_tests.get(rule, 'if the rule is broken')}: raise {expected.__name__}(...)"
            )
        raise NotYet(f"{where} decided {outcome!r}: {why}", mistake="rule missing", hint=hint)
    if not isinstance(outcome, expected):
        order = (
            " The rules are checked in order, so the first one broken names the error."
            if isinstance(outcome, DomainError)
            else ""
        )
        raise NotYet(
            f"{where} raised {describe_error(outcome)}, but rule {rule} asks for "
            f"{expected.__name__}.{order}",
            mistake="wrong error",
            hint=f"raise {expected.__name__}(message): the cart's errors are imported in the "
            f"setup cell{error_hint}.",
        )
