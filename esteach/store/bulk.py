"""A bulk import checked and laid out in columns: what `DuckDBEventStore.bulk_import` inserts.

`esteach.store.rules.check_bulk` states the rules one event at a time, and explains the first
event that breaks one. Checking 100,000 events that way costs more than inserting them, so
`checked_columns` proves the same rules over whole columns instead (one ``json`` call per
check, numpy for the stream versions, pyarrow for the timestamps), and only when one of those
checks fails does it hand the batch to ``check_bulk``, whose error then names the event. Either
way the caller gets the events' columns (data already as JSON text), ready to become a table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esteach.checks import MAX_ID_LENGTH, check_event_type
from esteach.duck import json_text
from esteach.errors import InvalidEventData
from esteach.events import Event
from esteach.jsondata import MAX_DEPTH
from esteach.store.rules import check_bulk

__all__ = ["BulkColumns", "checked_columns"]

_UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class BulkColumns:
    """A checked bulk import as columns, in the events' order."""

    events: list[Event]
    aggregate_ids: list[str]
    versions: list[int]
    ids: list[str]
    event_types: list[str]
    timestamps: Any  # a pyarrow array of UTC timestamps (microseconds)
    data: Any  # a pyarrow array of each event's data as JSON text

    def __len__(self) -> int:
        return len(self.events)


def checked_columns(
    events: Iterable[Event],
    stream_heads: Callable[[list[str]], Mapping[str, int]],
    last_timestamp: datetime | None,
) -> BulkColumns:
    """The events as `BulkColumns` if they pass ``check_bulk``'s rules, else its error.

    ``stream_heads(streams)`` gives the current version of those of ``streams`` that exist
    (asked once, for every stream of the batch); ``last_timestamp`` is the store's last commit
    time (timestamps must not go back before it).
    """
    events = list(events)
    columns = _columns_if_valid(events, stream_heads, last_timestamp)
    if columns is not None:
        return columns
    # Some rule is broken, or the data is of a kind the column checks do not prove: the check
    # of one event at a time raises with the first event's story, or passes (then the columns
    # are made one event at a time too).
    streams = sorted(
        {e.aggregate_id for e in events if isinstance(e, Event) and type(e.aggregate_id) is str}
    )
    heads = stream_heads(streams)
    checked = check_bulk(events, lambda stream: heads.get(stream, 0), last_timestamp)
    return BulkColumns(
        checked,
        [e.aggregate_id for e in checked],
        [e.version for e in checked],
        [e.id for e in checked],
        [e.event_type for e in checked],
        pa.array([e.timestamp for e in checked], _UTC_MICROS),
        pa.array([json_text(e.data) for e in checked], pa.string()),
    )


def _columns_if_valid(
    events: list[Event],
    stream_heads: Callable[[list[str]], Mapping[str, int]],
    last_timestamp: datetime | None,
) -> BulkColumns | None:
    """The columns when every rule holds; None when one may not (then ``check_bulk`` says)."""
    if not all(isinstance(e, Event) for e in events):
        return None
    ids = [e.id for e in events]
    aggregate_ids = [e.aggregate_id for e in events]
    event_types = [e.event_type for e in events]
    versions = [e.version for e in events]
    timestamps = [e.timestamp for e in events]
    if not events:
        return BulkColumns([], [], [], [], [], pa.array([], _UTC_MICROS), pa.array([], pa.string()))
    if not (_ids_valid(ids) and len(set(ids)) == len(ids) and _event_types_valid(event_types)):
        return None
    if not all(type(s) is str for s in aggregate_ids):
        return None
    streams = pa.array(aggregate_ids, pa.string()).dictionary_encode()
    names = streams.dictionary.to_pylist()
    if not _ids_valid(names):
        return None
    codes = streams.indices.to_numpy(zero_copy_only=False)
    known = stream_heads(names)
    heads = np.array([known.get(name, 0) for name in names], dtype=np.int64)
    if not _versions_continue(codes, versions, heads):
        return None
    instants = _timestamps_in_order(timestamps, last_timestamp)
    if instants is None:
        return None
    data = _data_texts([e.data for e in events])
    if data is None:
        return None
    return BulkColumns(events, aggregate_ids, versions, ids, event_types, instants, data)


def _ids_valid(values: list[Any]) -> bool:
    """`esteach.checks.check_id`'s rules over a column: non-blank str, at most
    ``MAX_ID_LENGTH`` characters, no NUL/newline/CR/tab, valid Unicode."""
    if not all(type(v) is str for v in values) or not all(map(str.strip, values)):
        return False
    if max(map(len, values)) > MAX_ID_LENGTH:
        return False
    joined = " ".join(values)
    if "\x00" in joined or "\n" in joined or "\r" in joined or "\t" in joined:
        return False
    return _encodable(joined)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _event_types_valid(event_types: list[Any]) -> bool:
    try:
        for event_type in set(event_types):
            check_event_type(event_type)
    except (InvalidEventData, TypeError):  # TypeError: an unhashable "type"
        return False
    return True


def _versions_continue(codes: Any, versions: list[Any], heads: Any) -> bool:
    """Whether each stream's versions go on from its head, one by one, in the batch's order."""
    if not all(type(v) is int for v in versions):
        return False
    try:
        wanted = np.array(versions, dtype=np.int64)
    except OverflowError:
        return False
    order = np.argsort(codes, kind="stable")  # each stream's events together, in batch order
    streams = codes[order]
    n = len(streams)
    starts = np.ones(n, dtype=bool)
    starts[1:] = streams[1:] != streams[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    expected = heads[streams] + (np.arange(n) - first) + 1
    return bool(np.array_equal(wanted[order], expected))


def _timestamps_in_order(timestamps: list[Any], last: datetime | None) -> Any | None:
    """The timestamps as a UTC array if every one is aware and none goes back, else None."""
    if not all(isinstance(t, datetime) and t.tzinfo is not None for t in timestamps):
        return None
    try:
        instants = pa.array(timestamps, _UTC_MICROS)
    except (pa.ArrowException, OverflowError, ValueError):
        return None
    micros = instants.cast(pa.int64()).to_numpy(zero_copy_only=False)
    if len(micros) > 1 and not bool((micros[1:] >= micros[:-1]).all()):
        return None
    if last is not None:
        [floor] = pa.array([last], _UTC_MICROS).cast(pa.int64()).to_pylist()
        if micros[0] < floor:
            return None
    return instants


def _data_texts(datas: list[Any]) -> Any | None:
    """Each data as JSON text (a pyarrow array), if all are what
    `esteach.jsondata.ensure_json_data` accepts; else None.

    Encoded strictly, one event at a time (the texts are stored): NaN, infinity and values JSON
    has no type for raise. Then parsed back in one call and compared, so that what the encoder
    quietly converts (a tuple to a list, an int key to a string) is refused.
    """
    if not all(isinstance(d, dict) for d in datas):
        return None
    try:
        texts = list(map(json_text, datas))
    except (TypeError, ValueError, RecursionError):
        return None
    joined = ",".join(texts)
    if not _encodable(joined):
        return None
    try:
        if json.loads(f"[{joined}]") != datas:
            return None
    except RecursionError:
        return None
    column = pa.array(texts, pa.string())
    # Nesting: a text nesting deeper than MAX_DEPTH opens and closes more than MAX_DEPTH
    # brackets or braces, so is longer than twice that: usually no text is, and none is
    # counted. The rare one with more openers is measured by the check one event at a time.
    if max(map(len, texts)) > 2 * MAX_DEPTH:
        openers = pc.add(pc.count_substring(column, "{"), pc.count_substring(column, "["))
        if pc.max(openers).as_py() > MAX_DEPTH:
            return None
    return column
