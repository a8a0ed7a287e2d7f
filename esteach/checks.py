"""Input checks: every check of a caller's value in one place, each with a message to act on.

Each returns the value it checked (so a call can sit inside an expression) or raises
`InvalidInput` (or the subclass a caller names) saying what was expected and what came.

>>> check_int(3, "page", 1)
3
>>> check_page(3, 20)
(20, 40)
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from datetime import datetime
from typing import Any, Final, Union

from esteach.errors import InvalidEventData, InvalidInput
from esteach.jsondata import check_text

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_PAGE_SIZE",
    "check_aggregate_id",
    "check_aware",
    "check_event_id",
    "check_event_type",
    "check_field_types",
    "check_id",
    "check_id_characters",
    "check_int",
    "check_limit",
    "check_page",
    "check_position",
    "check_version",
]

MAX_ID_LENGTH: Final = 256
"""The longest stream id or event id a store accepts."""

MAX_PAGE_SIZE: Final = 100
"""The largest ``page_size`` a read-model query accepts."""

_NO_ROWS: Final = 2**62  # an OFFSET past any table; keeps huge page numbers inside BIGINT
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


def check_int(
    value: object,
    name: str,
    minimum: int = 0,
    maximum: int | None = None,
    error: type[InvalidInput] = InvalidInput,
) -> int:
    """Return ``value`` if it is an int (not a bool) from ``minimum`` to ``maximum``, else raise.

    >>> check_int(True, "limit", 1)
    Traceback (most recent call last):
    esteach.errors.InvalidInput: limit must be an int >= 1, got True
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        wanted = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise error(f"{name} must be an int {wanted}, got {value!r:.60}")
    return value


def check_version(from_version: object) -> int:
    return check_int(from_version, "from_version", 0)


def check_position(from_position: object) -> int:
    return check_int(from_position, "from_position", 0)


def check_limit(limit: object) -> int | None:
    return None if limit is None else check_int(limit, "limit", 1)


def check_page(page: object, page_size: object) -> tuple[int, int]:
    """Return ``(limit, offset)`` for a 1-based page of at most `MAX_PAGE_SIZE` rows."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInput(
            f"page must be an int >= 1 (pages start at 1), got {type(page).__name__} {page!r:.40}"
        )
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise InvalidInput(
            f"page_size must be an int from 1 to {MAX_PAGE_SIZE}, got "
            f"{type(page_size).__name__} {page_size!r:.40}"
        )
    return page_size, min((page - 1) * page_size, _NO_ROWS)


def check_aware(timestamp: object, name: str = "timestamp") -> datetime:
    """Return ``timestamp`` if it is a timezone-aware datetime, else raise `InvalidInput`."""
    if not isinstance(timestamp, datetime) or timestamp.tzinfo is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime, got {timestamp!r}")
    return timestamp


def check_id_characters(value: str, what: str) -> str:
    """Return the id ``value`` if it holds no NUL, newline, CR or tab and is valid Unicode."""
    if "\x00" in value or "\n" in value or "\r" in value or "\t" in value:
        raise InvalidInput(f"{what} {value!r:.60} contains control characters")
    return check_text(value, what)


def check_id(value: object, what: str, maximum: int = MAX_ID_LENGTH) -> str:
    """Return ``value`` if it is a non-blank str of at most ``maximum`` characters without
    control characters, else raise `InvalidInput` naming it ``what``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty str, got {value!r:.60}")
    if len(value) > maximum:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {maximum} allowed")
    return check_id_characters(value, what)


def check_event_id(event_id: object) -> str:
    """Return ``event_id`` if it is a usable event id, else raise `InvalidInput`."""
    return check_id(event_id, "event id")


def check_aggregate_id(aggregate_id: object) -> str:
    """Return the id if it is a usable stream id, else raise `InvalidInput`."""
    if not isinstance(aggregate_id, str):
        raise InvalidInput(
            f"aggregate_id must be a str, got {type(aggregate_id).__name__} {aggregate_id!r:.60}"
        )
    if not aggregate_id.strip():
        raise InvalidInput(f"aggregate_id must not be empty or blank, got {aggregate_id!r}")
    if len(aggregate_id) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"aggregate_id is {len(aggregate_id)} characters long; at most {MAX_ID_LENGTH} allowed"
        )
    return check_id_characters(aggregate_id, "aggregate_id")


def check_event_type(event_type: object) -> str:
    """Return ``event_type`` if it is a business name like ``"UserCreated"``, else raise."""
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise InvalidEventData(
            f"event_type {event_type!r} is not a business event name: use the event's "
            f"past-tense name such as 'UserCreated' (letters, digits and _, at most 100), "
            f"never a language type path such as 'esteach.domains.user.UserCreated'"
        )
    return event_type


# --- field type checks shared by domain events and commands -------------------------------


def _matches(value: object, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _exact_types(hint: Any) -> frozenset[type]:
    """Types whose instances certainly match ``hint``: ``type(value) in ...`` skips ``_matches``."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return frozenset().union(*(_exact_types(arg) for arg in typing.get_args(hint)))
    if hint is float:
        return frozenset({float, int})
    if isinstance(origin, type):
        return frozenset({origin})
    return frozenset({hint}) if isinstance(hint, type) else frozenset()


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


_field_checks: dict[type, tuple[tuple[str, Any, frozenset[type]], ...]] = {}


def check_field_types(obj: object, error: type[InvalidInput]) -> None:
    """Raise ``error`` naming the first dataclass field whose value has the wrong type."""
    cls = type(obj)
    checks = _field_checks.get(cls)
    if checks is None:  # worked out once per class: replays check every event they rebuild
        hints = typing.get_type_hints(cls)
        checks = _field_checks[cls] = tuple(
            (f.name, hints.get(f.name, Any), _exact_types(hints.get(f.name, Any)))
            for f in dataclasses.fields(obj)  # type: ignore[arg-type]
            if hints.get(f.name, Any) is not Any
        )
    for name, hint, exact in checks:
        value = getattr(obj, name)
        if type(value) not in exact and not _matches(value, hint):
            raise error(
                f"{cls.__name__}.{name} must be {_type_name(hint)}, got "
                f"{type(value).__name__} {value!r:.60}"
            )
