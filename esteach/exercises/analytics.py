"""Exercises for notebook 09, analytics: SQL over the log.

* ``ex1`` (9.1): email changes per week in SQL, every week of the log with a row, the weeks
  without a change included with 0: a calendar joined to the counts. Checked against a fold
  of the same log in plain Python.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import duckdb

from esteach.analytics import SupportsSQL, events_table
from esteach.determinism import SeededIds
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, User
from esteach.events import Event
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.sandbox import START, ExerciseStore, fresh_store
from esteach.processor import CommandProcessor

__all__ = ["WEEKLY_CHANGES", "email_changes_over_weeks", "ex1", "weekly_changes_in_python"]


def email_changes_over_weeks(store: ExerciseStore | None = None) -> ExerciseStore:
    """Ada and Grace over six weeks from Monday 2024-01-01: email changes in three of them, one
    late on a Sunday (UTC), and a name change, the log's last event, in the sixth.

    ======================  ==========================================
    Mon 2024-01-01 09:00    ada signs up
    Mon 2024-01-01 10:00    grace signs up
    Wed 2024-01-03 09:00    ada's email changes
    Fri 2024-01-05 17:00    ada's email changes
    Tue 2024-01-09 09:00    grace's email changes
    Sun 2024-01-14 23:30    ada's email changes (still the week of 2024-01-08)
    Mon 2024-01-22 08:00    grace's email changes
    Thu 2024-01-25 12:00    ada's email changes
    Wed 2024-02-07 09:00    grace's name changes
    ======================  ==========================================
    """
    store = fresh_store(step=timedelta(0)) if store is None else store
    users = CommandProcessor(store, User, ids=SeededIds(9))
    story: list[tuple[datetime, Any]] = [
        (datetime(2024, 1, 1, 9, 0), CreateUser("ada", "ada@example.com", "Ada")),
        (datetime(2024, 1, 1, 10, 0), CreateUser("grace", "grace@example.com", "Grace")),
        (datetime(2024, 1, 3, 9, 0), ChangeEmail("ada", "ada@lovelace.org")),
        (datetime(2024, 1, 5, 17, 0), ChangeEmail("ada", "ada@babbage.org")),
        (datetime(2024, 1, 9, 9, 0), ChangeEmail("grace", "grace@navy.mil")),
        (datetime(2024, 1, 14, 23, 30), ChangeEmail("ada", "ada@analytical.engine")),
        (datetime(2024, 1, 22, 8, 0), ChangeEmail("grace", "grace@cobol.org")),
        (datetime(2024, 1, 25, 12, 0), ChangeEmail("ada", "ada@lovelace.name")),
        (datetime(2024, 2, 7, 9, 0), ChangeName("grace", "Grace Hopper")),
    ]
    now = START
    for moment, command in story:
        target = moment.replace(tzinfo=UTC)
        store.clock.advance(target - now)
        now = target
        users.process_command(command)
    return store


# --- reference solution ------------------------------------------------------------------------

WEEKLY_CHANGES: Final = """
WITH changes AS (
    SELECT CAST(date_trunc('week', timestamp) AS DATE) AS week, count(*) AS changes
    FROM events_log
    WHERE event_type = 'UserEmailChanged'
    GROUP BY week
),
calendar AS (  -- every Monday from the log's first week to its last
    SELECT CAST(week AS DATE) AS week
    FROM range(
        (SELECT date_trunc('week', min(timestamp)) FROM events_log),
        (SELECT date_trunc('week', max(timestamp)) FROM events_log) + INTERVAL 7 DAY,
        INTERVAL 7 DAY
    ) AS t(week)
)
SELECT calendar.week, coalesce(changes.changes, 0) AS changes
FROM calendar LEFT JOIN changes ON changes.week = calendar.week
ORDER BY calendar.week
"""
"""Exercise 9.1: email changes per week (Monday, UTC), every week of the log, 0 where none."""


def weekly_changes_in_python(events: list[Event]) -> list[tuple[date, int]]:
    """The same figures as a fold over the events in plain Python: what the check compares with."""

    def monday(event: Event) -> date:
        day = event.timestamp.astimezone(UTC).date()
        return day - timedelta(days=day.weekday())

    if not events:
        return []
    counts: dict[date, int] = {}
    for event in events:
        if event.event_type == "UserEmailChanged":
            counts[monday(event)] = counts.get(monday(event), 0) + 1
    first, last = min(map(monday, events)), max(map(monday, events))
    weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    return [(week, counts.get(week, 0)) for week in weeks]


# --- the check --------------------------------------------------------------------------------


def _as_date(value: object) -> object:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


def _show(rows: list[tuple[Any, ...]]) -> str:
    """``2024-01-01: 2, 2024-01-08: 0``: rows as a learner reads them."""
    return ", ".join(f"{week}: {changes}" for week, changes in rows)


def _rows(con: SupportsSQL, query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in con.sql(query).fetchall()]


_VARIANTS: Final[list[tuple[str, str, str, str]]] = [
    (
        """
        SELECT CAST(date_trunc('week', timestamp) AS DATE) AS week, count(*) AS changes
        FROM events_log WHERE event_type = 'UserEmailChanged'
        GROUP BY week ORDER BY week
        """,
        "the weeks without an email change are missing: a GROUP BY makes rows only for weeks "
        "that have events; a calendar of every week, LEFT JOINed to the counts, gives the "
        "others their 0 (rule 2)",
        "weeks without changes missing",
        "Make the calendar with range(first Monday, last Monday + INTERVAL 7 DAY, INTERVAL 7 "
        "DAY), then calendar LEFT JOIN counts, coalesce(count, 0).",
    ),
    (
        WEEKLY_CHANGES.replace("coalesce(changes.changes, 0)", "changes.changes"),
        "a week without changes shows NULL: LEFT JOIN leaves the count empty where nothing "
        "matched; coalesce(..., 0) turns it into 0 (rule 2)",
        "NULL for an empty week",
        "coalesce(changes.changes, 0) AS changes.",
    ),
    (
        WEEKLY_CHANGES.replace("    WHERE event_type = 'UserEmailChanged'\n", ""),
        "every event was counted: sign-ups and the name change too. Count only UserEmailChanged "
        "(rule 1)",
        "counted every event",
        "WHERE event_type = 'UserEmailChanged' in the counts.",
    ),
    (
        WEEKLY_CHANGES.replace(
            "(SELECT date_trunc('week', max(timestamp)) FROM events_log)",
            "(SELECT date_trunc('week', max(timestamp)) FROM events_log "
            "WHERE event_type = 'UserEmailChanged')",
        ).replace(
            "(SELECT date_trunc('week', min(timestamp)) FROM events_log)",
            "(SELECT date_trunc('week', min(timestamp)) FROM events_log "
            "WHERE event_type = 'UserEmailChanged')",
        ),
        "the calendar spans only the weeks from the first email change to the last, but the log "
        "goes on (a name change in the week of 2024-02-05): the calendar runs from the log's "
        "first event to its last (rule 2)",
        "calendar from the changes only",
        "Take min(timestamp) and max(timestamp) over all of events_log for the calendar's ends, "
        "not over the email changes.",
    ),
    (
        WEEKLY_CHANGES.replace(
            "CAST(date_trunc('week', timestamp) AS DATE) AS week, count(*)",
            "CAST(date_trunc('week', timestamp + INTERVAL 1 DAY) AS DATE) AS week, count(*)",
        ),
        "the change on Sunday 2024-01-14 at 23:30 was counted in the week after: a week here "
        "starts on Monday, as date_trunc('week', ...) does (rule 1)",
        "weeks start on Sunday",
        "date_trunc('week', timestamp) gives the Monday of the week; keep it as it is.",
    ),
]


def _empty_weeks_counted(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> bool:
    return len(got) == len(want) and all(
        g[0] == w[0] and (g[1] == w[1] or (w[1] == 0 and g[1] == 1))
        for g, w in zip(got, want, strict=True)
    )


def check_weekly_changes(query: object) -> str:
    if not isinstance(query, str):
        raise NotYet(
            f"query must be a string of SQL, got {type(query).__name__}",
            mistake="not a str",
            hint='query = """WITH ... SELECT week, changes FROM ... ORDER BY week"""',
        )
    store = email_changes_over_weeks()
    con = events_table(store)
    try:
        raw = _rows(con, query)
    except duckdb.Error as error:
        raise NotYet(
            f"your query failed: {describe_error(error)}",
            mistake="SQL error",
            hint="Run the query in a cell of its own with con.sql(query) to see DuckDB's whole "
            "message; the table is events_log.",
        ) from error
    want = weekly_changes_in_python(store.read_all())
    if any(len(row) != 2 for row in raw):
        raise NotYet(
            f"each row must be (week, changes), got {raw[0] if raw else raw!r}",
            mistake="columns",
            hint="SELECT exactly two columns: the week's Monday, and the count.",
        )
    got = [(_as_date(week), changes) for week, changes in raw]
    if got == want:
        return (
            f"{len(want)} weeks, {sum(n for _, n in want)} email changes, the empty weeks with "
            f"0: the same figures as a fold of the log in plain Python"
        )
    if sorted(got, key=repr) == sorted(want, key=repr):
        raise NotYet(
            "the rows are right but not in week order: ORDER BY week (rule 3)",
            mistake="not ordered",
            hint="End the query with ORDER BY week.",
        )
    if _empty_weeks_counted(got, want):
        raise NotYet(
            f"the weeks without changes show 1, not 0: {_show(got)}. count(*) counts the "
            f"calendar's own row after a LEFT JOIN; count a column of the events instead (rule 2)",
            mistake="empty week counted as 1",
            hint="Count before the join (a GROUP BY in its own CTE), or count(events_log.id), "
            "which skips the NULLs a LEFT JOIN leaves.",
        )
    for variant, why, mistake, hint in _VARIANTS:
        try:
            expected_wrong = [(_as_date(w), n) for w, n in _rows(con, variant)]
        except duckdb.Error:  # pragma: no cover - the variants are ours and run
            continue
        if got == expected_wrong:
            raise NotYet(f"{why}. Your rows: {_show(got)}", mistake=mistake, hint=hint)
    raise NotYet(f"your query gives {_show(got)}; expected {_show(want)}", mistake="wrong")


ex1 = Exercise(
    "9.1",
    "Email changes per week, empty weeks too",
    ["query"],
    check_weekly_changes,
    [WEEKLY_CHANGES],
    [
        "Two parts: the counts (SELECT date_trunc('week', timestamp) ..., count(*) ... WHERE "
        "event_type = 'UserEmailChanged' GROUP BY week) and a calendar of every week.",
        "The calendar: SELECT * FROM range(first_monday, last_monday + INTERVAL 7 DAY, "
        "INTERVAL 7 DAY), with the Mondays from date_trunc('week', min(timestamp)) and "
        "max(timestamp) over events_log.",
        "calendar LEFT JOIN counts ON the week, coalesce(count, 0), ORDER BY week; CAST the "
        "weeks AS DATE on both sides so they compare equal.",
    ],
)
