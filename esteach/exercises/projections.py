"""Exercises for notebook 03, replay and projections: the read side.

* ``ex1`` (3.1): make a projection idempotent, so a redelivered event changes nothing.
* ``ex2`` (3.2): a read model of deposits per day, from the time each deposit was recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

import duckdb

from esteach.events import Event
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.purity import Impurity, describe, watch
from esteach.exercises.stories import bank_over_days
from esteach.projections import EventProcessor, ProjectionError
from esteach.store.base import EventStore

__all__ = [
    "DAILY_SCHEMA",
    "DepositTotals",
    "bank_over_days",
    "daily_deposits",
    "deliveries",
    "ex1",
    "ex2",
    "on_money_deposited",
]

DAILY_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS daily_deposits (
    day   DATE   PRIMARY KEY,  -- the UTC day the deposits were recorded
    total BIGINT NOT NULL      -- cents deposited that day, over all accounts
)
"""


def daily_deposits(store: EventStore, handler: Callable[..., Any]) -> EventProcessor:
    """An `EventProcessor` for the ``daily_deposits`` read model, with
    ``handler`` registered for ``MoneyDeposited``. Call ``catch_up()`` on it."""
    processor = EventProcessor(
        store, name="daily_deposits", schema=DAILY_SCHEMA, tables=["daily_deposits"]
    )
    processor.register_event_handler("MoneyDeposited", handler)
    return processor


# --- reference solutions ----------------------------------------------------------------------


class DepositTotals:
    """Exercise 3.1: money deposited per account, in cents; safe to deliver an event twice."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}  # account id -> cents deposited
        self.position = 0  # the checkpoint: global position of the last event handled

    def handle(self, event: Event) -> None:
        if event.global_position <= self.position:
            return  # handled already: a redelivery changes nothing
        if event.event_type == "MoneyDeposited":
            account = event.aggregate_id
            self.totals[account] = self.totals.get(account, 0) + event.data["amount"]
        self.position = event.global_position


def on_money_deposited(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    """Exercise 3.2: add a deposit to the total of the day it was recorded."""
    conn.execute(
        """
        INSERT INTO daily_deposits VALUES (?, ?)
        ON CONFLICT (day) DO UPDATE SET total = total + excluded.total
        """,
        [event.timestamp.date(), event.data["amount"]],
    )


# --- 3.1 --------------------------------------------------------------------------------------


def deliveries(store: EventStore) -> list[Event]:
    """The log as a message queue might deliver it: in order, with two events delivered again
    (the last one at once, an early one later), then one new event."""
    log = store.read_all()
    return [*log[:6], log[5], log[1], *log[6:8]]


def _state(model: object) -> tuple[object, object]:
    return copy.deepcopy(getattr(model, "totals", None)), getattr(model, "position", None)


def check_deposit_totals(learner: object) -> str:
    if not isinstance(learner, type):
        raise NotYet(
            "pass your class itself: ex1.check(DepositTotals)", mistake="wrong answer type"
        )
    store = bank_over_days()
    model, reference = learner(), DepositTotals()
    seen: set[int] = set()
    for event in deliveries(store):
        before = _state(model)
        doing = f"handle({event.event_type} at position {event.global_position})"
        try:
            model.handle(event)
        except Exception as error:
            raise NotYet(
                f"{doing} raised {describe_error(error)}",
                mistake="raised",
                hint="The account is event.aggregate_id; the amount is event.data['amount'].",
            ) from error
        reference.handle(event)
        (totals, position), again = _state(model), event.global_position in seen
        seen.add(event.global_position)
        if again and totals != before[0]:
            raise NotYet(
                f"the projection double-counts a redelivered event: {event.event_type} at "
                f"position {event.global_position} came again and the totals went from "
                f"{before[0]!r} to {totals!r} (rule 2)",
                mistake="double-counts a redelivered event",
                hint="At the top of handle: if event.global_position <= self.position, return. "
                "That covers the very last event coming again too (<=, not <).",
            )
        if totals != reference.totals:
            counted = event.event_type == "MoneyWithdrawn"
            raise NotYet(
                f"after {doing}, totals is {totals!r}, expected {reference.totals!r}"
                + (": rule 1 counts deposits only" if counted else " (rule 1)"),
                mistake="counted a withdrawal" if counted else "wrong totals",
                hint="Add only when event.event_type == 'MoneyDeposited'; other events just "
                "move the checkpoint."
                if counted
                else None,
            )
        if position != reference.position:
            raise NotYet(
                f"after {doing}, position is {position!r}, expected {reference.position}: the "
                f"checkpoint moves past every new event, handled or not (rule 3)",
                mistake="checkpoint not moved",
                hint="Set self.position = event.global_position at the end of handle, for every "
                "event that was not a redelivery.",
            )
    return (
        "every deposit is counted once, redelivered events change nothing, and the checkpoint "
        "follows the log"
    )


ex1 = Exercise(
    "3.1",
    "Make a projection idempotent",
    ["DepositTotals"],
    check_deposit_totals,
    [DepositTotals],
    [
        "Each event's global_position is its place in the log: 1, 2, 3, ... Compare it with "
        "self.position, the last one you handled.",
        "Three steps in handle: return at once if event.global_position <= self.position; add "
        "a MoneyDeposited's amount; set self.position = event.global_position.",
    ],
)


# --- 3.2 --------------------------------------------------------------------------------------

_EXPECTED: Final = [("2024-01-01", 10_250), ("2024-01-02", 45), ("2024-01-03", 60)]


def _rows(processor: EventProcessor) -> list[tuple[Any, ...]]:
    rows = processor.query("SELECT day, total FROM daily_deposits ORDER BY day")
    # Days as ISO strings: messages read ('2024-01-01', 250), not datetime.date(2024, 1, 1).
    return [(day.isoformat() if isinstance(day, date) else day, *rest) for day, *rest in rows]


def _run(action: Callable[[], object], impure: list[Impurity]) -> None:
    try:
        action()
    except ProjectionError as error:
        cause = error.__cause__
        if impure:
            raise _clock_mistake(impure) from error
        if isinstance(cause, duckdb.ConstraintException):
            raise NotYet(
                "the second deposit of 2024-01-01 failed with a duplicate key: a plain INSERT "
                "cannot add to the day's row (rule 2)",
                mistake="insert instead of upsert",
                hint="INSERT INTO daily_deposits VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET "
                "total = total + excluded.total",
            ) from error
        raise NotYet(
            f"your handler raised {describe_error(cause or error)}",
            mistake="raised",
            hint="The day is event.timestamp.date(); the amount is event.data['amount'].",
        ) from error


def _clock_mistake(impure: list[Impurity]) -> NotYet:
    return NotYet(
        f"your handler {describe(impure)}: a deposit belongs to the day it was recorded, "
        f"event.timestamp, never to the day the projection runs; a rebuild next month would "
        f"move every deposit to that day (rule 1)",
        mistake="clock in a projection",
        hint="event.timestamp.date() is the UTC day the store recorded the deposit.",
    )


def check_daily_deposits(learner: object) -> str:
    if not callable(learner):
        raise NotYet(
            "pass your handler itself: ex2.check(on_money_deposited)", mistake="not callable"
        )
    impure: list[Impurity] = []

    def watched(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
        _, calls = watch(learner, conn, event)
        impure.extend(call for call in calls if call not in impure)

    with daily_deposits(bank_over_days(), watched) as processor:
        _run(processor.catch_up, impure)
        if impure:
            raise _clock_mistake(impure)
        rows = _rows(processor)
        _run(processor.rebuild, impure)
        rebuilt = _rows(processor)
    days = {row[0] for row in rows if row}
    if rows != _EXPECTED:
        today = datetime.now(UTC).date().isoformat()
        if today in days and today not in {day for day, _ in _EXPECTED}:
            raise NotYet(
                "the deposits landed on today's date: the SQL read the database's clock "
                "(current_date, now()); use the day each deposit was recorded, "
                "event.timestamp.date() (rule 1)",
                mistake="clock in a projection",
                hint="conn.execute(sql, [event.timestamp.date(), event.data['amount']]): the day "
                "comes from the event, as a parameter.",
            )
        if rows == [("2024-01-01", 250), ("2024-01-02", 5), ("2024-01-03", 60)]:
            raise NotYet(
                f"the read model holds {rows!r}: each deposit replaced the day's total (INSERT "
                f"OR REPLACE, or DO UPDATE SET total = excluded.total) instead of adding to it "
                f"(rule 2)",
                mistake="replace instead of add",
                hint="ON CONFLICT (day) DO UPDATE SET total = total + excluded.total adds.",
            )
        if rows == [("2024-01-01", 10_000), ("2024-01-02", 40), ("2024-01-03", 60)]:
            raise NotYet(
                f"the read model holds {rows!r}: only each day's first deposit counted (ON "
                f"CONFLICT DO NOTHING); a later deposit of the day must add to the total "
                f"(rule 2)",
                mistake="kept the first deposit",
                hint="ON CONFLICT (day) DO UPDATE SET total = total + excluded.total adds.",
            )
        raise NotYet(f"the read model holds {rows!r}, expected {_EXPECTED!r}", mistake="wrong")
    if rebuilt != rows:
        raise NotYet(
            f"after rebuild() the read model holds {rebuilt!r}, not {rows!r}",
            mistake="rebuild differs",
        )
    return "deposits add up per recorded day, and a rebuild gives the same table"


ex2 = Exercise(
    "3.2",
    "Deposits per day",
    ["on_money_deposited"],
    check_daily_deposits,
    [on_money_deposited],
    [
        "The handler runs one SQL statement through conn: conn.execute(sql, [day, amount]).",
        "The day: event.timestamp.date(). The amount: event.data['amount'].",
        "An upsert adds to an existing row: INSERT INTO daily_deposits VALUES (?, ?) ON "
        "CONFLICT (day) DO UPDATE SET total = total + excluded.total",
    ],
)
