"""Small tools the checkers share: recorded envelopes from domain events, and calling the
learner's code so that its failures become a "not yet" that says where it failed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from esteach.events import DomainEvent, Event, EventMetadata
from esteach.exercises.core import NotYet, describe_error
from esteach.exercises.purity import describe, watch
from esteach.exercises.sandbox import START

__all__ = ["call", "call_pure", "recorded"]

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
