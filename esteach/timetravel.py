"""Time travel: an aggregate as it was at an earlier version or at an earlier moment.

Because the log is never changed, the past is not lost: the state after event ``N`` is what
the first ``N`` events of the stream rebuild, and the state at a moment ``t`` is what the events
committed at or before ``t`` rebuild. Nothing is stored for this; it is replay, stopped early.

>>> from esteach import CommandProcessor, InMemoryEventStore, StepClock, SeededIds
>>> from esteach.domains.user import ChangeEmail, CreateUser, User
>>> store = InMemoryEventStore(clock=StepClock(), ids=SeededIds(0))
>>> users = CommandProcessor(store, User, ids=SeededIds(1))
>>> _ = users.process_command(CreateUser("ada", "ada@example.com", "Ada"))
>>> _ = users.process_command(ChangeEmail("ada", "ada@analytical.engine"))
>>> state_at(store, User, "ada", version=1).email
'ada@example.com'

`history` lays a whole stream out as a table, one row per event with the state after it
and what it changed; `describe_version` prints one row as text.
"""

from __future__ import annotations

import copy
import itertools
import numbers
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from esteach.aggregate import Aggregate
from esteach.decider import Decider
from esteach.errors import InvalidInput
from esteach.store.base import EventStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HISTORY_COLUMNS", "MISSING", "describe_version", "diff", "history", "state_at"]

A = TypeVar("A", bound=Aggregate)

HISTORY_COLUMNS: Final = (
    "event_type",
    "timestamp",
    "global_position",
    "event_id",
    "schema_version",
    "data",
    "state",
    "changes",
)
"""The columns of `history`'s frame; its index is ``version``."""


class _Missing:
    """The value of a field on the side of a `diff` where the field does not exist."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()


def state_at(
    store: EventStore,
    aggregate_class: type[A] | Decider[Any],
    aggregate_id: str,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> A:
    """The aggregate as it was after event ``version``, or as of the moment ``at``.

    Give exactly one of them. ``version=0`` is the aggregate before its first event (it does not
    exist yet); ``at`` must be timezone-aware and selects the last event committed at or before
    it (before the first event: version 0). Upcasters run as on any load.

    >>> state_at(store, User, "ada", at=datetime(2024, 1, 1, tzinfo=timezone.utc))  # doctest: +SKIP
    """
    cls = _aggregate_class(aggregate_class)
    if (version is None) == (at is None):
        raise InvalidInput(
            "state_at needs exactly one of version=N (the state after the N-th event) or "
            "at=<timezone-aware datetime> (the state at that moment); "
            + ("both were given" if version is not None else "neither was given")
        )
    if version is not None:
        version = _check_version(version)
        if version < 0:
            raise InvalidInput(f"version must be >= 0 (0 = before the first event), got {version}")
    moment = None if at is None else _check_moment(at)
    events = store.get_events(aggregate_id)
    if moment is None:
        current = events[-1].version if events else 0
        if version is None or version > current:
            raise InvalidInput(
                f"{cls.__name__} {aggregate_id!r} has no version {version}: its "
                f"stream is at version {current}. Ask for a version from 0 to {current}."
            )
        last = version
        wanted = itertools.takewhile(lambda event: event.version <= last, events)
    else:
        # Versions are in commit order and commit timestamps never decrease, so the events at
        # or before the moment are a prefix of the stream.
        wanted = itertools.takewhile(lambda event: event.timestamp <= moment, events)
    loaded: A = cls.load_from_events(wanted, aggregate_id)
    return loaded


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields whose values differ, as ``{field: (before, after)}``.

    A field that exists on one side only shows `MISSING` on the other. Values of
    different types differ even when ``==`` says otherwise (``1`` is not ``True``).

    >>> diff({"email": "a@x.org", "name": "Ada"}, {"email": "b@x.org", "name": "Ada"})
    {'email': ('a@x.org', 'b@x.org')}
    """
    changes: dict[str, tuple[Any, Any]] = {}
    for key in [*after, *(key for key in before if key not in after)]:
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if not _same(old, new):
            changes[key] = (old, new)
    return changes


def history(
    store: EventStore, aggregate_class: type[Aggregate] | Decider[Any], aggregate_id: str
) -> pd.DataFrame:
    """The stream as a table: one row per event, indexed by ``version``.

    Columns: ``event_type`` and ``data`` as the aggregate applied them (after upcasting),
    ``timestamp`` (UTC), ``global_position``, ``event_id``, ``schema_version`` (as stored, so
    a row whose data was upcast shows its old version), ``state`` (the aggregate's
    `state` after the event) and ``changes`` (what the event
    changed, as `diff` of the states before and after it; ``version`` itself is left out
    because every event changes it).

    >>> history(store, User, "ada").loc[2, "changes"]  # doctest: +SKIP
    {'email': ('ada@example.com', 'ada@analytical.engine')}
    """
    import pandas as pd  # only the tables need pandas

    cls = _aggregate_class(aggregate_class)
    events = store.get_events(aggregate_id)
    aggregate = cls(aggregate_id)
    before = _without_version(aggregate.state())
    columns: dict[str, list[Any]] = {name: [] for name in ("version", *HISTORY_COLUMNS)}
    for stored in events:
        event = cls.events.upcast(stored, cls._event_modules)
        aggregate.apply(event)
        # Deep copies, so a learner editing a cell's dict cannot change the log or other rows.
        state = copy.deepcopy(aggregate.state())
        after = _without_version(state)
        columns["version"].append(stored.version)
        columns["event_type"].append(event.event_type)
        columns["timestamp"].append(stored.timestamp)
        columns["global_position"].append(stored.global_position)
        columns["event_id"].append(stored.id)
        columns["schema_version"].append(stored.metadata.schema_version)
        columns["data"].append(copy.deepcopy(event.data))
        columns["state"].append(state)
        columns["changes"].append(diff(before, after))
        before = after
    index = pd.Index(columns.pop("version"), dtype="int64", name="version")
    return pd.DataFrame(
        {
            "event_type": pd.Series(columns["event_type"], index=index, dtype=object),
            "timestamp": pd.Series(
                pd.to_datetime(columns["timestamp"], utc=True), index=index
            ).astype("datetime64[us, UTC]"),
            "global_position": pd.Series(columns["global_position"], index=index, dtype="int64"),
            "event_id": pd.Series(columns["event_id"], index=index, dtype=object),
            "schema_version": pd.Series(columns["schema_version"], index=index, dtype="int64"),
            "data": pd.Series(columns["data"], index=index, dtype=object),
            "state": pd.Series(columns["state"], index=index, dtype=object),
            "changes": pd.Series(columns["changes"], index=index, dtype=object),
        },
        index=index,
    )


def describe_version(history_frame: pd.DataFrame, version: int) -> str:
    """A plain-text account of one version of a `history` frame: the event and the state.

    The text depends only on the frame, so a notebook cell can print it and check its output.
    ``version=0`` describes the aggregate before its first event.
    """
    version = _check_version(version)
    versions = [int(v) for v in history_frame.index]
    current = versions[-1] if versions else 0
    if not 0 <= version <= current:
        raise InvalidInput(
            f"this history has versions 0 to {current}; there is no version {version}"
        )
    if version == 0:
        if not versions:
            return "version 0 of 0: the stream has no events yet; nothing has happened."
        first = history_frame.loc[versions[0]]
        state = dict(first["state"])
        for key, (old, _) in first["changes"].items():
            state[key] = old
        state["version"] = 0
        state = {key: value for key, value in state.items() if value is not MISSING}
        return "\n".join(
            [
                f"version 0 of {current}: before the first event; the aggregate does not exist "
                f"yet.",
                "state:",
                *_lines(state),
            ]
        )
    row = history_frame.loc[version]
    data = cast(Mapping[str, Any], row["data"])
    changes = cast(Mapping[str, tuple[Any, Any]], row["changes"])
    after = cast(Mapping[str, Any], row["state"])
    timestamp = row["timestamp"].isoformat()
    lines = [
        f"version {version} of {current}: {row['event_type']} at {timestamp} "
        f"(global position {row['global_position']})",
        "data:",
        *(_lines(data) or ["  (none)"]),
        "changed:",
        *(
            [f"  {key}: {old!r} -> {new!r}" for key, (old, new) in changes.items()]
            or ["  (nothing)"]
        ),
        "state after it:",
        *_lines(after),
    ]
    return "\n".join(lines)


# --- helpers -----------------------------------------------------------------------------------


def _aggregate_class(aggregate_class: object) -> Any:
    if isinstance(aggregate_class, Decider):
        return aggregate_class.aggregate_class
    if not (isinstance(aggregate_class, type) and issubclass(aggregate_class, Aggregate)):
        raise InvalidInput(
            f"aggregate_class must be an Aggregate subclass such as User, got "
            f"{aggregate_class!r} (a Decider works too)"
        )
    return aggregate_class


def _check_version(version: object) -> int:
    # numbers.Integral, so a numpy int taken from a frame (history(...).index[-1]) works too.
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        raise InvalidInput(f"version must be an int, got {type(version).__name__} {version!r}")
    return int(version)


def _check_moment(at: object) -> datetime:
    if not isinstance(at, datetime):
        raise InvalidInput(
            f"at must be a timezone-aware datetime, got {type(at).__name__} {at!r:.60}"
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            f"at={at.isoformat()} has no time zone, so it could mean any moment; give one, e.g. "
            f"datetime(2024, 1, 1, tzinfo=timezone.utc) (event timestamps are UTC)"
        )
    return at


def _same(old: object, new: object) -> bool:
    return old is new or (type(old) is type(new) and old == new)


def _without_version(state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key != "version"}


def _lines(mapping: Mapping[str, Any]) -> list[str]:
    return [f"  {key}: {value!r}" for key, value in mapping.items()]
