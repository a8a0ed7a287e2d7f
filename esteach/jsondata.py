"""JSON data: the only kind of data an event carries, checked, copied and frozen.

Event data must survive a round trip through JSON text unchanged, so it is checked by hand:
``json.dumps`` would silently turn tuples into lists and int keys into strings. Recorded data
is handed out read-only (`FrozenDict`, `FrozenList`) by the in-memory store, so nobody can
change a fact through a read; `thaw` gives a changeable copy.

>>> ensure_json_data({"email": "ada@example.com", "tags": ["new"]})
{'email': 'ada@example.com', 'tags': ['new']}
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from esteach.errors import InvalidEventData, InvalidInput, ReadOnlyEventData

__all__ = [
    "FrozenDict",
    "FrozenList",
    "JSONData",
    "check_text",
    "ensure_json_data",
    "freeze",
    "thaw",
]

JSONData = dict[str, Any]


def _describe(path: str, value: object) -> str:
    return f"{path} is {type(value).__name__} {value!r:.60}"


MAX_DEPTH = 100
"""How deeply event data may nest lists and objects."""


def check_text(value: str, what: str, error: type[InvalidInput] = InvalidInput) -> str:
    """Return ``value`` if it is valid Unicode text (it encodes as UTF-8), else raise ``error``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(
            f"{what} is not valid Unicode text: {exc.reason} at position {exc.start} "
            f"({value[exc.start]!r}, half of a UTF-16 surrogate pair?); UTF-8 cannot store it"
        ) from None
    return value


class _Invalid(Exception):
    """Raised inside `_copy`; its path is assembled while it unwinds, not built for every
    value on the way down (that cost more than the copy itself)."""

    def __init__(self, message: Callable[[str], str]) -> None:
        super().__init__()
        self.message = message
        self.parts: list[str] = []


def _copy(value: object, depth: int, frozen: bool) -> Any:
    # Checked by hand rather than by json.dumps: json.dumps silently turns tuples into lists and
    # int keys into strings, so a round trip would not give back what was stored.
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        if not text.isascii():  # ASCII has no half surrogate pairs: the usual case, no check
            _check_text(text)
        return value
    if value is None or kind is int or kind is bool:
        return value
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value
        raise _Invalid(lambda path: f"{_describe(path, value)}: JSON has no NaN or infinity")
    if depth >= MAX_DEPTH and isinstance(value, (list, dict)):
        raise _Invalid(
            lambda path: (
                f"{path} nests lists and objects more than {MAX_DEPTH} levels deep; "
                f"flatten the data"
            )
        )
    if isinstance(value, list):
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_copy(item, depth + 1, frozen))
            except _Invalid as invalid:
                invalid.parts.append(f"[{i}]")
                raise
        return FrozenList(items) if frozen else items
    if isinstance(value, dict):
        copied = {}
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise _key_not_text(key)
            elif not key.isascii():
                try:
                    _check_text(key)
                except _Invalid as invalid:
                    invalid.parts.append(f" key {key!r}")
                    raise
            try:
                copied[key] = _copy(item, depth + 1, frozen)
            except _Invalid as invalid:
                invalid.parts.append(f"[{key!r}]")
                raise
        return FrozenDict(copied) if frozen else copied
    if isinstance(value, str):  # subclasses of the JSON scalars (an IntEnum, say) pass as such
        _check_text(value)
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise _Invalid(lambda path: f"{_describe(path, value)}: JSON has no NaN or infinity")
    hint = " (store datetimes as ISO 8601 strings)" if isinstance(value, datetime) else ""
    raise _Invalid(
        lambda path: (
            f"{_describe(path, value)}, which is not JSON: use str, int, float, bool, "
            f"None, list or dict{hint}"
        )
    )


def _check_text(value: str) -> None:
    try:
        check_text(value, "", InvalidEventData)
    except InvalidEventData as error:
        message = str(error)  # " is not valid Unicode text: ...", the path goes in front
        raise _Invalid(lambda path: path + message) from None


def _key_not_text(key: object) -> _Invalid:
    return _Invalid(
        lambda path: (
            f"{path} has key {key!r} of type {type(key).__name__}: JSON object keys must be strings"
        )
    )


def _json_copy(value: object, path: str, frozen: bool = False) -> Any:
    try:
        return _copy(value, 0, frozen)
    except _Invalid as invalid:
        raise InvalidEventData(invalid.message(path + "".join(reversed(invalid.parts)))) from None


def ensure_json_data(data: object, what: str = "data", *, frozen: bool = False) -> JSONData:
    """Return a deep copy of ``data`` if it is a JSON object, else raise `InvalidEventData`.

    With ``frozen`` the copy is read-only (`FrozenDict`, `FrozenList`), made in the same pass.

    >>> ensure_json_data({"email": "ada@example.com"})
    {'email': 'ada@example.com'}
    """
    if not isinstance(data, dict):
        raise InvalidEventData(
            f"{what} must be a dict (a JSON object), got {type(data).__name__} {data!r:.60}"
        )
    copied: JSONData = _json_copy(data, what, frozen)
    return copied


_READ_ONLY = (
    "recorded event data is read-only: an event is a fact that already happened. Work on a "
    "copy (copy.deepcopy(event.data)), or record a new event."
)


class FrozenDict(dict[str, Any]):
    """A dict that refuses changes: the data of events an in-memory store keeps.

    It is still a ``dict`` (``json.dumps``, ``==`` and ``isinstance`` work); ``copy.copy`` and
    ``copy.deepcopy`` give ordinary, changeable dicts.
    """

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise ReadOnlyEventData(_READ_ONLY)

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        # Frozen, so hashable like a frozenset (metadata holding headers stays hashable).
        return hash(frozenset(self.items()))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A list that refuses changes; see `FrozenDict`."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise ReadOnlyEventData(_READ_ONLY)

    __setitem__ = __delitem__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce__(self) -> tuple[type, tuple[list[Any]]]:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON data (dicts and lists frozen, scalars as they are)."""
    if type(value) is FrozenDict or type(value) is FrozenList:
        return value  # frozen all the way down when it was made: nothing to copy
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A changeable deep copy of JSON data (frozen or not): dicts and lists copied, scalars kept.

    Far cheaper than ``copy.deepcopy``, which JSON data does not need.
    """
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
