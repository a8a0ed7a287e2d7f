"""A bulk import checked and laid out in columns: what `DuckDBEventStore.bulk_import` inserts.

`esteach.store.rules.check_bulk` states the rules one event at a time, and explains the first
event that breaks one. Checking 100,000 events that way costs more than inserting them, so
`checked_columns` proves the same rules over whole columns instead (one ``json`` call per
check, numpy for the stream versions, pyarrow for the timestamps), and only when one of those
checks fails does it hand the batch to ``check_bulk``, whose error then names the event. Either
way the caller gets the events' columns (data already as JSON text), ready to become a table.
"""

from __future__ import annotations

import gc
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

__all__ = ["BulkColumns", "checked_columns", "columns_of"]

_UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class BulkColumns:
    """A checked bulk import as columns, in the events' order (pyarrow arrays; ``versions`` a
    numpy array)."""

    events: list[Event]
    aggregate_ids: Any  # strings, or a dictionary array of them
    versions: Any  # int64
    ids: Any
    event_types: Any
    timestamps: Any  # UTC timestamps (microseconds)
    data: Any  # each event's data as JSON text

    def last_versions(self) -> dict[str, int]:
        """Each stream's last version in the batch."""
        streams = self.aggregate_ids
        if not pa.types.is_dictionary(streams.type):
            streams = streams.dictionary_encode()
        names = streams.dictionary.to_pylist()
        last = np.zeros(len(names), dtype=np.int64)
        np.maximum.at(last, streams.indices.to_numpy(zero_copy_only=False), self.versions)
        return dict(zip(names, last.tolist(), strict=True))


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
    columns = _checked_over_columns(events, stream_heads, last_timestamp)
    if columns is not None:
        return columns
    # The columns cannot be built as they are: the check of one event at a time raises, or
    # passes (for a kind of data the column checks do not prove) and the columns are built
    # one event at a time.
    streams = sorted(
        {e.aggregate_id for e in events if isinstance(e, Event) and type(e.aggregate_id) is str}
    )
    heads = stream_heads(streams)
    return columns_of(check_bulk(events, lambda stream: heads.get(stream, 0), last_timestamp))


def columns_of(events: list[Event]) -> BulkColumns:
    """Events already checked (a bulk import's, or an append's a store just made) as
    `BulkColumns`, one event at a time."""
    string = pa.string()
    return BulkColumns(
        events,
        pa.array([e.aggregate_id for e in events], string),
        np.array([e.version for e in events], dtype=np.int64),
        pa.array([e.id for e in events], string),
        pa.array([e.event_type for e in events], string),
        pa.array([e.timestamp for e in events], _UTC_MICROS),
        pa.array([json_text(e.data) for e in events], string),
    )


def _checked_over_columns(
    events: list[Event],
    stream_heads: Callable[[list[str]], Mapping[str, int]],
    last_timestamp: datetime | None,
) -> BulkColumns | None:
    """The columns, checked: built first (checking only what building needs), then every
    other rule proved over them; None when they cannot be built as they are."""
    if not all(isinstance(e, Event) for e in events):
        return None
    if not events:
        return columns_of([])
    ids = [e.id for e in events]
    aggregate_ids = [e.aggregate_id for e in events]
    event_types = [e.event_type for e in events]
    versions = [e.version for e in events]
    timestamps = [e.timestamp for e in events]
    datas = [e.data for e in events]
    try:
        string = pa.string()
        id_column = pa.array(ids, string)
        streams = pa.array(aggregate_ids, string).dictionary_encode()
        type_column = pa.array(event_types, string)
        instants = pa.array(timestamps, _UTC_MICROS)
        wanted = np.array(versions, dtype=np.int64)
    except (pa.ArrowException, OverflowError, ValueError, TypeError):
        return None
    texts = _encoded(datas)
    if texts is None:
        return None
    names = streams.dictionary.to_pylist()
    known = stream_heads(names)
    heads = np.array([known.get(name, 0) for name in names], dtype=np.int64)
    codes = streams.indices.to_numpy(zero_copy_only=False)
    if not (
        all(type(v) is int for v in versions)
        and all(isinstance(t, datetime) and t.tzinfo is not None for t in timestamps)
        and all(isinstance(d, dict) for d in datas)
        and _ids_valid(ids)
        and len(set(ids)) == len(ids)
        and _event_types_valid(event_types)
        and _ids_valid(names)
        and _versions_continue(codes, wanted, heads)
        and _in_order(instants, last_timestamp)
        and _data_valid(texts, datas)
    ):
        # Some rule is broken (or the data is of a kind these checks do not prove): the check
        # of one event at a time raises, naming the first event that breaks one.
        check_bulk(events, lambda stream: known.get(stream, 0), last_timestamp)
    return BulkColumns(
        events, streams, wanted, id_column, type_column, instants, pa.array(texts, string)
    )


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


def _versions_continue(codes: Any, wanted: Any, heads: Any) -> bool:
    """Whether each stream's versions go on from its head, one by one, in the batch's order."""
    order = np.argsort(codes, kind="stable")  # each stream's events together, in batch order
    streams = codes[order]
    n = len(streams)
    starts = np.ones(n, dtype=bool)
    starts[1:] = streams[1:] != streams[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    expected = heads[streams] + (np.arange(n) - first) + 1
    return bool(np.array_equal(wanted[order], expected))


def _in_order(instants: Any, last: datetime | None) -> bool:
    """Whether no timestamp goes back, from the store's last commit time on."""
    micros = instants.cast(pa.int64()).to_numpy(zero_copy_only=False)
    if len(micros) > 1 and not bool((micros[1:] >= micros[:-1]).all()):
        return False
    if last is not None:
        [floor] = pa.array([last], _UTC_MICROS).cast(pa.int64()).to_pylist()
        if micros[0] < floor:
            return False
    return True


def _encoded(datas: list[Any]) -> list[str] | None:
    """Each data as JSON text, encoded strictly one event at a time (the texts are stored):
    None when one holds NaN, infinity or a value JSON has no type for, or text that is not
    valid Unicode (half a surrogate pair: UTF-8 cannot store it)."""
    try:
        texts = list(map(json_text, datas))
    except (TypeError, ValueError, RecursionError):
        return None
    return texts if _encodable(",".join(texts)) else None


def _data_valid(texts: list[str], datas: list[Any]) -> bool:
    """Whether the encoded data is what `esteach.jsondata.ensure_json_data` accepts.

    Parsed back in one call and compared, so that what the encoder quietly converts (a tuple
    to a list, an int key to a string) is refused; not nested too deep.
    """
    # The parse makes a throwaway dict per event: with the collector paused meanwhile (they
    # hold no cycles), it does not sweep the caller's whole heap of events a few times over.
    paused = gc.isenabled()
    gc.disable()
    try:
        if json.loads(f"[{','.join(texts)}]") != datas:
            return False
    except RecursionError:
        return False
    finally:
        if paused:
            gc.enable()
    # Nesting: a text nesting deeper than MAX_DEPTH opens and closes more than MAX_DEPTH
    # brackets or braces, so is longer than twice that: usually no text is, and none is
    # counted. The rare one with more openers is measured by the check one event at a time.
    if max(map(len, texts)) > 2 * MAX_DEPTH:
        column = pa.array(texts, pa.string())
        openers = pc.add(pc.count_substring(column, "{"), pc.count_substring(column, "["))
        if pc.max(openers).as_py() > MAX_DEPTH:
            return False
    return True
