"""Exercises for notebook 04, time travel.

* ``ex1`` (4.1): a user's email as it was at a given moment, in Python.
* ``ex2`` (4.2): every account's balance at a given moment, in SQL over the log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import duckdb

from esteach.analytics import SupportsSQL, events_table
from esteach.domains.user import User
from esteach.events import Event
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.stories import bank_over_days, users_over_days
from esteach.store.base import EventStore
from esteach.timetravel import state_at

__all__ = [
    "BALANCES_AT",
    "balances_at",
    "bank_over_days",
    "email_at",
    "ex1",
    "ex2",
    "users_over_days",
]


# --- reference solutions ----------------------------------------------------------------------


def email_at(store: EventStore, user_id: str, moment: datetime) -> str | None:
    """Exercise 4.1: the user's email as of ``moment``; None if they did not exist yet."""
    user = state_at(store, User, user_id, at=moment)
    return user.email if user.exists else None


BALANCES_AT: Final = """
SELECT aggregate_id AS account_id,
       coalesce(sum(CASE event_type
                        WHEN 'MoneyDeposited' THEN CAST(data->>'amount' AS BIGINT)
                        WHEN 'MoneyWithdrawn' THEN -CAST(data->>'amount' AS BIGINT)
                    END), 0) AS balance
FROM events_log
WHERE aggregate_type = 'BankAccount' AND timestamp <= ?
GROUP BY aggregate_id
ORDER BY account_id
"""
"""Exercise 4.2: each account's balance at the moment given as the one parameter."""


def balances_at(con: SupportsSQL, query: str, moment: datetime) -> list[tuple[Any, ...]]:
    """Run a balances query with ``moment`` as its parameter; the rows, as tuples."""
    return con.sql(query, params=[moment]).fetchall()


# --- 4.1 --------------------------------------------------------------------------------------

_AT_09: Final = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
_PLUS_TWO: Final = timezone(timedelta(hours=2))
_MINUS_FIVE: Final = timezone(timedelta(hours=-5))
_QUESTIONS: Final = [
    ("ada", _AT_09 - timedelta(days=1)),
    ("ada", _AT_09),  # exactly when she signed up
    ("ada", _AT_09 + timedelta(days=2) - timedelta(minutes=1)),
    ("ada", _AT_09 + timedelta(days=2)),  # exactly when her email changed
    # 12:00 UTC: before her 13:00 UTC change that day, though 14:00 on the wall clock there.
    ("ada", datetime(2024, 1, 4, 14, 0, tzinfo=_PLUS_TWO)),
    ("ada", datetime(2024, 1, 4, 13, 0, tzinfo=UTC)),  # exactly the afternoon change
    # 10:00 UTC: after her 09:00 UTC change, though 05:00 on the wall clock there.
    ("ada", datetime(2024, 1, 5, 5, 0, tzinfo=_MINUS_FIVE)),
    ("grace", _AT_09 + timedelta(hours=3)),
    ("grace", _AT_09 + timedelta(days=3)),
    ("ada", datetime(2024, 2, 1, tzinfo=UTC)),
]


def _replayed(
    store: EventStore, user_id: str, counts: Callable[[Event, datetime], bool], moment: datetime
) -> str | None:
    """The email a replay gives when ``counts(event, moment)`` decides which events count."""
    events = [e for e in store.get_events(user_id) if counts(e, moment)]
    user = User.load_from_events(events, user_id)
    return user.email if user.exists else None


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


# Typical wrong readings of "at a moment": what each answers, its tag, its message and hint.
_READINGS: Final[list[tuple[str, Callable[[Event, datetime], bool], str, str]]] = [
    (
        "missed the event at the moment",
        lambda e, moment: e.timestamp < moment,
        "the email from before: an event was committed exactly at that moment, and it counts "
        "(rule 1: at or before)",
        "Compare with <=, not <: state_at(store, User, user_id, at=moment) does.",
    ),
    (
        "time zone ignored",
        lambda e, moment: _naive(e.timestamp) <= _naive(moment),
        "the clock readings were compared without their time zones. {moment} is "
        "{utc} UTC; the commits are in UTC. Compare moments, with their time zones: "
        "event.timestamp <= moment (rule 1)",
        "Keep both aware: e.timestamp <= moment compares instants, whatever zone each is "
        "written in; .replace(tzinfo=None) throws the zone away.",
    ),
    (
        "compared dates, not moments",
        lambda e, moment: e.timestamp.date() <= moment.date(),
        "every event of that day counted, even those after the moment: compare the moments "
        "themselves, not their dates (rule 1)",
        "event.timestamp <= moment, not event.timestamp.date() <= moment.date().",
    ),
]


def check_email_at(learner: object) -> str:
    if not callable(learner):
        raise NotYet("pass your function itself: ex1.check(email_at)", mistake="not callable")
    store = users_over_days()
    for user_id, moment in _QUESTIONS:
        doing = f"email_at(store, {user_id!r}, {moment.isoformat()})"
        try:
            got = learner(store, user_id, moment)
        except Exception as error:
            raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
        want = email_at(store, user_id, moment)
        if got == want and type(got) is type(want):
            continue
        now = User.load_from_events(store.get_events(user_id), user_id).email
        if got == now and want != now:
            raise NotYet(
                f"{doing} gave {got!r}, the email today; at that moment it was {want!r}",
                mistake="current state instead of the past",
                hint="Replay only the events committed at or before the moment: "
                "state_at(store, User, user_id, at=moment).",
            )
        for mistake, counts, why, hint in _READINGS:
            if got == _replayed(store, user_id, counts, moment):
                utc = moment.astimezone(UTC).strftime("%H:%M")
                raise NotYet(
                    f"{doing} gave {got!r}, expected {want!r}: "
                    + why.format(moment=moment.strftime("%H:%M%z"), utc=utc),
                    mistake=mistake,
                    hint=hint,
                )
        if want is None:
            raise NotYet(
                f"{doing} gave {got!r}, but {user_id} did not exist yet: return None (rule 2)",
                mistake="answer before the user existed",
                hint="user.exists is False for a user rebuilt from no events.",
            )
        raise NotYet(f"{doing} gave {got!r}, expected {want!r}", mistake="wrong")
    return (
        "email_at answers for every moment, at commit times exactly, in any time zone, and "
        "before sign-up"
    )


ex1 = Exercise(
    "4.1",
    "An email at a moment",
    ["email_at"],
    check_email_at,
    [email_at],
    [
        "esteach.state_at(store, User, user_id, at=moment) gives the user as of that moment.",
        "A user who did not exist yet comes back at version 0: user.exists is False.",
    ],
)


# --- 4.2 --------------------------------------------------------------------------------------

_MOMENTS: Final = [
    datetime(2023, 12, 31, tzinfo=UTC),
    datetime(2024, 1, 1, 23, 0, tzinfo=UTC),  # exactly the second deposit's commit
    datetime(2024, 1, 2, 12, 0, tzinfo=UTC),
    datetime(2024, 1, 3, 10, 0, tzinfo=UTC),  # exactly a deposit's commit
    datetime(2024, 1, 4, tzinfo=UTC),
]
_VARIANTS: Final = [
    (
        BALANCES_AT.replace(" AND timestamp <= ?", " AND ? IS NOT NULL"),
        "these are the balances now, not at the moment: keep only the events with "
        "timestamp <= ? (rule 1)",
        "no time filter",
        "WHERE aggregate_type = 'BankAccount' AND timestamp <= ?: the ? is the moment.",
    ),
    (
        BALANCES_AT.replace("timestamp <= ?", "timestamp < ?"),
        "an event committed exactly at the moment is missing: at the moment means "
        "timestamp <= ? (rule 1)",
        "missed the event at the moment",
        "timestamp <= ?, not <: an event committed at the very moment counts.",
    ),
    (
        BALANCES_AT.replace("timestamp <= ?", "CAST(timestamp AS DATE) <= CAST(? AS DATE)"),
        "events later on the moment's day were counted: compare the commit time with the "
        "moment itself, timestamp <= ?, not their dates (rule 1)",
        "compared dates, not moments",
        "Compare the timestamp itself with the moment: timestamp <= ?, no CAST to DATE.",
    ),
    (
        BALANCES_AT.replace("THEN -CAST", "THEN CAST"),
        "withdrawals were added to the balance: a MoneyWithdrawn amount counts negative (rule 2)",
        "added withdrawals",
        "CASE event_type WHEN 'MoneyDeposited' THEN amount WHEN 'MoneyWithdrawn' THEN -amount END",
    ),
]


def _outputs(con: SupportsSQL, query: str) -> list[list[tuple[Any, ...]]]:
    return [balances_at(con, query, moment) for moment in _MOMENTS]


def check_balances_query(query: object) -> str:
    if not isinstance(query, str):
        raise NotYet(
            f"query must be a string of SQL, got {type(query).__name__}",
            mistake="not a str",
            hint='query = """SELECT ... WHERE ... timestamp <= ? ..."""',
        )
    con = events_table(bank_over_days())
    try:
        got = _outputs(con, query)
    except duckdb.Error as error:
        message = describe_error(error)
        parameters = "parameter" in message.lower() or "prepared" in message.lower()
        raise NotYet(
            f"your query failed: {message}"
            + (": use one ? where the moment goes" if parameters else ""),
            mistake="SQL error",
            hint="One ? where the moment goes, in the WHERE: ... AND timestamp <= ?; DuckDB's "
            "message above says what else it could not read.",
        ) from error
    want = _outputs(con, BALANCES_AT)
    if got == want:
        return "the balances are right at every moment, including moments of a commit"
    for rows in got:
        if any(len(row) != 2 for row in rows):
            raise NotYet(
                f"each row must be (account_id, balance), got {rows[0]!r}", mistake="columns"
            )
        if any(row[1] is None for row in rows):
            raise NotYet(
                f"a balance is NULL in {rows!r}: an account with no money moved yet has balance "
                f"0; coalesce(sum(...), 0) (rule 3)",
                mistake="NULL balance",
                hint="coalesce(sum(CASE ... END), 0): sum of nothing is NULL, coalesce makes it 0.",
            )
    for variant, why, mistake, hint in _VARIANTS:
        if got == _outputs(con, variant):
            raise NotYet(why, mistake=mistake, hint=hint)
    for moment, rows, wanted in zip(_MOMENTS, got, want, strict=True):
        have, need = {row[0] for row in rows}, {row[0] for row in wanted}
        if need - have:
            raise NotYet(
                f"at {moment.isoformat()} your query has no row for {sorted(need - have)}, "
                f"which existed by then: an account opened but without money moved has "
                f"balance 0, and still a row (rule 3)",
                mistake="account missing",
                hint="Keep every event of the account in the WHERE (AccountOpened too), and "
                "let the CASE give nothing for the others; coalesce(sum(...), 0) makes it 0.",
            )
        if sorted(rows, key=repr) == sorted(wanted, key=repr) and rows != wanted:
            raise NotYet(
                f"at {moment.isoformat()} the rows are right but in another order: "
                f"ORDER BY account_id (rule 3)",
                mistake="not ordered",
                hint="End the query with ORDER BY account_id.",
            )
    for moment, rows, wanted in zip(_MOMENTS, got, want, strict=True):
        if rows != wanted:
            raise NotYet(
                f"at {moment.isoformat()} your query gives {rows!r}, expected {wanted!r}",
                mistake="wrong",
            )
    raise AssertionError("unreachable: outputs differ but no moment does")


ex2 = Exercise(
    "4.2",
    "Balances at a moment, in SQL",
    ["query"],
    check_balances_query,
    [BALANCES_AT],
    [
        "Start from SELECT aggregate_id AS account_id, ... FROM events_log WHERE "
        "aggregate_type = 'BankAccount' AND timestamp <= ? GROUP BY aggregate_id ORDER BY "
        "account_id.",
        "The amount of a deposit or withdrawal: CAST(data->>'amount' AS BIGINT).",
        "sum(CASE event_type WHEN 'MoneyDeposited' THEN amount WHEN 'MoneyWithdrawn' THEN "
        "-amount END) adds them up; coalesce(..., 0) turns 'nothing yet' into 0.",
    ],
)
