"""Event logs as files: JSON Lines, one recorded event per line, in global order.

JSON Lines is what the sample log in ``data/`` uses: pandas (``pd.read_json(path, lines=True)``)
and DuckDB (``SELECT * FROM read_json('data/sample_events.jsonl')``) read it directly, and a diff
shows one changed event as one changed line.

>>> from esteach import InMemoryEventStore
>>> store = InMemoryEventStore()
>>> load_sample(store) > 1000
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from esteach.errors import InvalidEventData
from esteach.events import Event
from esteach.store.base import EventStore

__all__ = ["SAMPLE_LOG", "load_sample", "read_jsonl", "write_jsonl"]

SAMPLE_LOG = Path(__file__).resolve().parent.parent / "data" / "sample_events.jsonl"
"""The sample log of this repository (``data/sample_events.jsonl``)."""


def write_jsonl(events: Iterable[Event], path: str | os.PathLike[str]) -> int:
    """Write events one per line; return how many. The same events give the same bytes."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for event in events:
            out.write(event.to_json())
            out.write("\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike[str]) -> list[Event]:
    """Read events written by `write_jsonl`; a bad line is named by its number."""
    events: list[Event] = []
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidEventData(
                    f"{path}, line {number}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                ) from None
            if not line.strip():
                continue
            try:
                events.append(Event.from_json(line))
            except InvalidEventData as exc:
                raise InvalidEventData(f"{path}, line {number}: {exc}") from None
    return events


def load_sample(store: EventStore, path: str | os.PathLike[str] = SAMPLE_LOG) -> int:
    """Import the sample log (or another JSON Lines log) into ``store``; return the count."""
    return store.bulk_import(read_jsonl(path))
