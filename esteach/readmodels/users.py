"""The users read model: the ``users`` table projected from the `User` events.

It answers the questions the application asks of users (`UserQueryModel.get_user`,
`UserQueryModel.list_users` newest first, `UserQueryModel.search_users` ignoring case) with
pages of at most `MAX_PAGE_SIZE` rows and a search that treats the query as plain text.
Handlers are upserts, so replaying an event leaves one row per user. Catch-up takes a page of
user events at a time (`on_user_events`: two statements per page); the per-event handlers
(`on_user_created` and the rest) do the same one event at a time, for reading and for teaching;
a set-based rebuild folds the whole log in one SQL statement.

>>> from esteach import CommandProcessor, InMemoryEventStore
>>> from esteach.domains.user import CreateUser, User
>>> store = InMemoryEventStore()
>>> _ = CommandProcessor(store, User).process_command(CreateUser("ada", "ada@example.com", "Ada"))
>>> model = UserQueryModel(store)
>>> model.catch_up(), model.get_user("ada").email
(1, 'ada@example.com')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

import duckdb
import pyarrow as pa

from esteach.checks import check_page
from esteach.domains.user import ACTIVE, DEACTIVATED
from esteach.duck import naive_utc, registered, utc
from esteach.errors import InvalidEventData, InvalidInput
from esteach.events import Event
from esteach.jsondata import check_text
from esteach.projections import Handler, LogReader, PageHandler, Projection

__all__ = ["USERS_SCHEMA", "UserQueryModel", "UserView", "load_users_in_bulk", "on_user_events"]


USERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id               VARCHAR   PRIMARY KEY,  -- the user's stream id
    email            VARCHAR   NOT NULL,
    name             VARCHAR   NOT NULL,
    status           VARCHAR   NOT NULL,     -- 'active' or 'deactivated'
    created_at       TIMESTAMP NOT NULL,     -- UTC commit time of UserCreated
    updated_at       TIMESTAMP NOT NULL,     -- UTC commit time of the last event applied
    created_position BIGINT    NOT NULL      -- global position of UserCreated: breaks ties
);
"""
# UserCreated is an upsert, so replaying it leaves one row however often it comes.
# It takes two statements: an UPDATE that a replay finds a row for, else an INSERT. This does
# what INSERT OR REPLACE does (see AccountBalances), at half its cost in DuckDB 2.0.
RESET_USER = """
UPDATE users SET email = ?, name = ?, status = ?, created_at = ?, updated_at = ?,
                 created_position = ?
WHERE id = ?
"""
INSERT_USER = """
INSERT INTO users (email, name, status, created_at, updated_at, created_position, id)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
SET_EMAIL = "UPDATE users SET email = ?, updated_at = ? WHERE id = ?"
SET_NAME = "UPDATE users SET name = ?, updated_at = ? WHERE id = ?"
SET_STATUS = "UPDATE users SET status = ?, updated_at = ? WHERE id = ?"

USER_COLUMNS = "id, email, name, status, created_at, updated_at"
NEWEST_FIRST = "ORDER BY created_at DESC, created_position DESC"
GET_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = ?"
LIST_USERS = f"SELECT {USER_COLUMNS} FROM users {NEWEST_FIRST} LIMIT ? OFFSET ?"
# contains() compares plain text: a user's %, _ or \ is just a character, never a wildcard.
SEARCH_USERS = f"""
SELECT {USER_COLUMNS} FROM users
WHERE contains(lower(name), lower(?)) OR contains(lower(email), lower(?))
{NEWEST_FIRST} LIMIT ? OFFSET ?
"""
COUNT_USERS = "SELECT count(*) FROM users"

# The set-based rebuild reads each user event's fields out of its JSON data in SQL ...
USER_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "UserCreated": ("email", "name"),
    "UserEmailChanged": ("new_email",),
    "UserNameChanged": ("new_name",),
    "UserDeactivated": (),
}
# ... as the log's columns email and name (LogReader.table's fields) ...
USER_COLUMNS_FROM_DATA: Final[Mapping[str, Mapping[str, str]]] = {
    "email": {"UserCreated": "email", "UserEmailChanged": "new_email"},
    "name": {"UserCreated": "name", "UserNameChanged": "new_name"},
}
USER_EVENTS = """
SELECT position, aggregate_id AS user_id, event_type, timestamp, email, name FROM user_log
"""
# ... refuses an event that lacks a field its handler would need (the first, by position) ...
FIRST_WITHOUT_FIELDS = f"""
WITH user_events AS ({USER_EVENTS})
SELECT min(position) FROM user_events
WHERE (event_type = 'UserCreated' AND (email IS NULL OR name IS NULL))
   OR (event_type = 'UserEmailChanged' AND email IS NULL)
   OR (event_type = 'UserNameChanged' AND name IS NULL)
"""
# ... and folds them: every user's final row from their events in one statement, without a
# join. A row starts at the user's last UserCreated (the upsert resets it); as UserCreated
# carries both email and name, the last email, name and timestamp over *all* the user's events
# are those at or after it, and the user is deactivated when a UserDeactivated comes after it.
# Users without a UserCreated get no row (the per-event UPDATEs find none).
FOLD_USERS = """
SELECT user_id,
       arg_max(email, position) FILTER (WHERE email IS NOT NULL),
       arg_max(name, position) FILTER (WHERE name IS NOT NULL),
       CASE WHEN max(position) FILTER (WHERE event_type = 'UserDeactivated')
                 > max(position) FILTER (WHERE event_type = 'UserCreated') THEN ? ELSE ? END,
       arg_max(timestamp, position) FILTER (WHERE event_type = 'UserCreated'),
       arg_max(timestamp, position),
       max(position) FILTER (WHERE event_type = 'UserCreated')
FROM {source} GROUP BY user_id
HAVING bool_or(event_type = 'UserCreated')
"""
USERS_FROM_EVENTS = "INSERT INTO users" + FOLD_USERS.format(source=f"({USER_EVENTS})")


def on_user_created(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    at = naive_utc(event.timestamp)
    row = [
        event.data["email"],
        event.data["name"],
        ACTIVE,
        at,
        at,
        event.global_position,
        event.aggregate_id,
    ]
    if conn.execute(RESET_USER, row).fetchall() == [(0,)]:  # no row yet: the usual case
        conn.execute(INSERT_USER, row)


def on_user_email_changed(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(
        SET_EMAIL, [event.data["new_email"], naive_utc(event.timestamp), event.aggregate_id]
    )


def on_user_name_changed(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(SET_NAME, [event.data["new_name"], naive_utc(event.timestamp), event.aggregate_id])


def on_user_deactivated(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(SET_STATUS, [DEACTIVATED, naive_utc(event.timestamp), event.aggregate_id])


def load_users_in_bulk(conn: duckdb.DuckDBPyConnection, log: LogReader) -> None:
    """The set-based rebuild: the user events as one table, folded by SQL into the final rows.

    From a DuckDB store the events never become Python objects (bar the few an upcaster lifts);
    SQL reads their fields out of the JSON and ``USERS_FROM_EVENTS`` folds them.
    """
    with registered(conn, "user_log", log.table(USER_FIELDS, USER_COLUMNS_FROM_DATA)):
        [(missing,)] = conn.execute(FIRST_WITHOUT_FIELDS).fetchall()
        if missing is not None:
            event = log.event_at(missing)
            needed = [f for f in USER_FIELDS[event.event_type] if f not in event.data]
            raise InvalidEventData(
                f"{event.event_type} data {dict(event.data)!r:.80} has no {needed or 'value'} "
                f"(the users table needs {list(USER_FIELDS[event.event_type])})"
            )
        conn.execute(USERS_FROM_EVENTS, [DEACTIVATED, ACTIVE])


# The page form: a page's user events staged as the table PAGE_VIEW, then two statements.
PAGE_VIEW = "esteach_user_page"
# Users (re)created in the page: their row from their last UserCreated on, folded as in the
# set-based rebuild (the upsert resets the row, so what came before it does not matter).
USERS_CREATED_IN_PAGE = "INSERT OR REPLACE INTO users" + FOLD_USERS.format(source=PAGE_VIEW)
# Users only changed in the page: the last value of each field changed, on the existing row
# (a user without a row yet is passed over, as the per-event UPDATE passes over it).
USERS_CHANGED_IN_PAGE = f"""
UPDATE users SET email = coalesce(changes.email, users.email),
                 name = coalesce(changes.name, users.name),
                 status = CASE WHEN changes.deactivated THEN ? ELSE users.status END,
                 updated_at = changes.updated_at
FROM (
    SELECT user_id,
           arg_max(email, position) FILTER (WHERE email IS NOT NULL) AS email,
           arg_max(name, position) FILTER (WHERE name IS NOT NULL) AS name,
           bool_or(event_type = 'UserDeactivated') AS deactivated,
           arg_max(timestamp, position) AS updated_at
    FROM {PAGE_VIEW} GROUP BY user_id HAVING NOT bool_or(event_type = 'UserCreated')
) AS changes
WHERE users.id = changes.user_id
"""
_UTC_MICROS, _MICROS = pa.timestamp("us", tz="UTC"), pa.timestamp("us")
# Where each event type keeps the fields the users table takes.
_EMAIL_FIELD = USER_COLUMNS_FROM_DATA["email"]
_NAME_FIELD = USER_COLUMNS_FROM_DATA["name"]


def on_user_events(conn: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
    """The page form of the four handlers above: a page's user events in two statements.

    The events (in global order, several of one user among them) are staged as one table;
    users created in the page get their whole row folded from their events, users only
    changed get one ``UPDATE ... FROM`` with the last value of each field.
    """
    # One pass over the events (each read once, a tuple per row), then columns: this loop is
    # most of the page's Python time.
    rows = []
    email_field, name_field = _EMAIL_FIELD.get, _NAME_FIELD.get
    for e in events:
        event_type, data = e.event_type, e.data
        email, name = email_field(event_type), name_field(event_type)
        if email is not None and (email := data[email]) is None:
            raise InvalidEventData(f"{event_type} data has no email (null): the table needs one")
        if name is not None and (name := data[name]) is None:
            raise InvalidEventData(f"{event_type} data has no name (null): the table needs one")
        rows.append((e.global_position, e.aggregate_id, event_type, e.timestamp, email, name))
    positions, user_ids, event_types, timestamps, emails, names = zip(*rows, strict=True)
    # Arrow columns, built in C from the lists (a DataFrame of objects costs a third more,
    # and DuckDB scans Arrow in place); timestamps become UTC without a zone, as the TIMESTAMP
    # columns hold them, in one vectorised cast instead of a naive_utc() per event.
    string = pa.string()
    page = pa.table(
        {
            "position": pa.array(positions, pa.int64()),
            "user_id": pa.array(user_ids, string),
            "event_type": pa.array(event_types, string),
            "timestamp": pa.array(timestamps, _UTC_MICROS).cast(_MICROS),
            "email": pa.array(emails, string),
            "name": pa.array(names, string),
        }
    )
    with registered(conn, PAGE_VIEW, page):
        conn.execute(USERS_CREATED_IN_PAGE, [DEACTIVATED, ACTIVE])
        conn.execute(USERS_CHANGED_IN_PAGE, [DEACTIVATED])


@dataclass(frozen=True, slots=True)
class UserView:
    """One row of the users read model. Timestamps are UTC."""

    id: str
    email: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime


def _user(row: tuple[Any, ...]) -> UserView:
    user_id, email, name, status, created_at, updated_at = row
    return UserView(user_id, email, name, status, utc(created_at), utc(updated_at))


class UserQueryModel(Projection):
    """The ``users`` table, projected from the ``User`` events, and the queries it answers.

    ``model = UserQueryModel(store)``, then ``model.catch_up()`` whenever you want it current
    (or ``model.wait_for_position(result.position)`` after a command). It catches up a page at
    a time (`on_user_events`); a subclass with ``page_handlers = {}`` runs the per-event
    ``handlers`` instead, to the same rows.
    """

    name = "users"
    schema = USERS_SCHEMA
    tables = ("users",)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "UserCreated": on_user_created,
        "UserEmailChanged": on_user_email_changed,
        "UserNameChanged": on_user_name_changed,
        "UserDeactivated": on_user_deactivated,
    }
    page_handlers: ClassVar[Mapping[str, PageHandler]] = dict.fromkeys(USER_FIELDS, on_user_events)

    def rebuild(self, *, set_based: bool = False) -> int:
        """Rebuild from position 1: event by event, or ``set_based`` in one SQL statement."""
        return self.processor.rebuild(load_users_in_bulk if set_based else None)

    def get_user(self, user_id: str) -> UserView | None:
        if not isinstance(user_id, str):
            raise InvalidInput(f"user_id must be a str, got {type(user_id).__name__} {user_id!r}")
        rows = self.processor.query(GET_USER, [check_text(user_id, "user_id")])
        return _user(rows[0]) if rows else None

    def list_users(self, page: int = 1, page_size: int = 20) -> list[UserView]:
        """One page of users, newest first (ties on ``created_at`` broken by position)."""
        limit, offset = check_page(page, page_size)
        return [_user(row) for row in self.processor.query(LIST_USERS, [limit, offset])]

    def search_users(self, query: str, page: int = 1, page_size: int = 20) -> list[UserView]:
        """Users whose name or email contains ``query``, ignoring case; newest first."""
        if not isinstance(query, str):
            raise InvalidInput(f"query must be a str, got {type(query).__name__} {query!r:.40}")
        check_text(query, "query")
        limit, offset = check_page(page, page_size)
        rows = self.processor.query(SEARCH_USERS, [query, query, limit, offset])
        return [_user(row) for row in rows]

    def count_users(self) -> int:
        return int(self.processor.query(COUNT_USERS)[0][0])
