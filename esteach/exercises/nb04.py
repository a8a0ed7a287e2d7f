"""Exercises for notebook 04, time travel.

* ``ex1`` (4.1): a user's email as it was at a given moment, in Python.
* ``ex2`` (4.2): every account's balance at a given moment, in SQL over the log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import duckdb

from esteach.analytics import SupportsSQL, events_table
from esteach.domains.user import User
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
_QUESTIONS: Final = [
    ("ada", _AT_09 - timedelta(days=1)),
    ("ada", _AT_09),  # exactly when she signed up
    ("ada", _AT_09 + timedelta(days=2) - timedelta(minutes=1)),
    ("ada", _AT_09 + timedelta(days=2)),  # exactly when her email changed
    ("ada", datetime(2024, 1, 4, 14, 0, tzinfo=_PLUS_TWO)),  # 12:00 UTC
    ("grace", _AT_09 + timedelta(hours=3)),
    ("grace", _AT_09 + timedelta(days=3)),
    ("ada", datetime(2024, 2, 1, tzinfo=UTC)),
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
        just_before = email_at(store, user_id, moment - timedelta(microseconds=1))
        now = User.load_from_events(store.get_events(user_id), user_id).email
        if got == now and want != now:
            raise NotYet(
                f"{doing} gave {got!r}, the email today; at that moment it was {want!r}",
                mistake="current state instead of the past",
                hint="Replay only the events committed at or before the moment: "
                "state_at(store, User, user_id, at=moment).",
            )
        if want is None:
            raise NotYet(
                f"{doing} gave {got!r}, but {user_id} did not exist yet: return None (rule 2)",
                mistake="answer before the user existed",
                hint="user.exists is False for a user rebuilt from no events.",
            )
        if got == just_before:
            raise NotYet(
                f"{doing} gave {got!r}, the email from before: an event was committed exactly "
                f"at that moment, and it counts (rule 1: at or before)",
                mistake="missed the event at the moment",
                hint="Compare with <=, not <: state_at(store, User, user_id, at=moment) does.",
            )
        raise NotYet(f"{doing} gave {got!r}, expected {want!r}", mistake="wrong")
    return "email_at answers for every moment, at commit times exactly, and before sign-up"


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
    ),
    (
        BALANCES_AT.replace("timestamp <= ?", "timestamp < ?"),
        "an event committed exactly at the moment is missing: at the moment means "
        "timestamp <= ? (rule 1)",
        "missed the event at the moment",
    ),
    (
        BALANCES_AT.replace("THEN -CAST", "THEN CAST"),
        "withdrawals were added to the balance: a MoneyWithdrawn amount counts negative (rule 2)",
        "added withdrawals",
    ),
]


def _outputs(con: SupportsSQL, query: str) -> list[list[tuple[Any, ...]]]:
    return [balances_at(con, query, moment) for moment in _MOMENTS]


def check_balances_query(query: object) -> str:
    if not isinstance(query, str):
        raise NotYet(
            f"query must be a string of SQL, got {type(query).__name__}", mistake="not a str"
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
            )
    for variant, why, mistake in _VARIANTS:
        if got == _outputs(con, variant):
            raise NotYet(why, mistake=mistake)
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
