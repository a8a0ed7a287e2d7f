"""A bulk import checked and laid out in columns: what `DuckDBEventStore.bulk_import` inserts.

`esteach.store.rules.check_bulk` states the rules one event at a time, and explains the first
event that breaks one. Checking 100,000 events that way costs more than inserting them, so
`checked_columns` proves the same rules over whole columns instead (passes in C over the
events' attributes, the built Arrow columns' buffers for the ids and the data's text, numpy for
the stream versions), and only when one of those checks fails does it hand the batch to
``check_bulk``, whose error then names the event. Either way the caller gets the events'
columns (data already as JSON text), ready to become a table. ``benchmarks/README.md`` says
what each step costs for 100,000 events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from esteach.checks import MAX_ID_LENGTH, check_event_type
from esteach.collector import paused
from esteach.duck import json_texts
from esteach.errors import InvalidEventData
from esteach.events import Event
from esteach.jsondata import MAX_DEPTH, FrozenDict
from esteach.store.rules import check_bulk

__all__ = ["BulkColumns", "checked_columns", "columns_of", "utc_micros"]

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
        utc_micros([e.timestamp for e in events]),
        pa.array(json_texts([e.data for e in events]), string),
    )


def _checked_over_columns(
    events: list[Event],
    stream_heads: Callable[[list[str]], Mapping[str, int]],
    last_timestamp: datetime | None,
) -> BulkColumns | None:
    """The columns, checked: built first (checking only what building needs), then every
    other rule proved over them; None when they cannot be built as they are.

    Each pass over 100,000 events' objects costs a few milliseconds in C (they lie scattered in
    memory) and several times that in a Python loop: the checks use C passes
    (``set(map(type, column))``) and, where they can, the built columns' contiguous buffers.
    """
    if not _all_of(events, Event):
        return None
    if not events:
        return columns_of([])
    ids = list(map(_ID, events))
    aggregate_ids = list(map(_AGGREGATE_ID, events))
    event_types = list(map(_EVENT_TYPE, events))
    versions = list(map(_VERSION, events))
    timestamps = list(map(_TIMESTAMP, events))
    datas = list(map(_DATA, events))
    texts = _encoded(datas)
    if texts is None:
        return None
    try:
        zones = set(map(_TZINFO, timestamps))  # AttributeError: not a datetime
        string = pa.string()
        id_column = pa.array(ids, string)
        streams = pa.array(aggregate_ids, string).dictionary_encode()
        type_column = pa.array(event_types, string)
        instants = _utc_micros(timestamps, utc=zones == {UTC})
        wanted = np.array(versions, dtype=np.int64)
        text_column = pa.array(texts, string)  # UnicodeEncodeError: half a surrogate pair
    except (pa.ArrowException, OverflowError, ValueError, TypeError, AttributeError):
        return None
    names = streams.dictionary.to_pylist()
    if streams.null_count:
        return None  # a stream that is None
    known = stream_heads(names)
    heads = np.array([known.get(name, 0) for name in names], dtype=np.int64)
    codes = streams.indices.to_numpy(zero_copy_only=False)
    if not (
        set(map(type, versions)) == {int}
        # Checked on the events' own values: pyarrow takes bytes, and str subclasses, as
        # strings, and the stream column's dictionary holds only str.
        and set(map(type, ids)) == {str}
        and set(map(type, aggregate_ids)) == {str}
        and None not in zones
        and _ids_valid(id_column, ids)
        and len(set(ids)) == len(ids)
        and _event_types_valid(event_types)
        and _ids_valid(streams.dictionary, names)
        and _versions_continue(codes, wanted, heads)
        and _in_order(instants, last_timestamp)
        and _data_valid(texts, text_column, datas)
    ):
        # Some rule is broken (or the data is of a kind these checks do not prove): the check
        # of one event at a time raises, naming the first event that breaks one.
        check_bulk(events, lambda stream: known.get(stream, 0), last_timestamp)
    return BulkColumns(events, streams, wanted, id_column, type_column, instants, text_column)


_ID, _AGGREGATE_ID, _EVENT_TYPE, _VERSION, _TIMESTAMP, _DATA, _TZINFO = map(
    attrgetter, ("id", "aggregate_id", "event_type", "version", "timestamp", "data", "tzinfo")
)


def _all_of(values: list[Any], kind: type) -> bool:
    """Whether every value is a ``kind`` (or of a subclass of it)."""
    return all(issubclass(t, kind) for t in set(map(type, values)))


def utc_micros(timestamps: list[datetime]) -> Any:
    """Aware datetimes as a pyarrow array of UTC timestamps in microseconds (what pyarrow
    raises for a value that is not one)."""
    return _utc_micros(timestamps, utc=set(map(_TZINFO, timestamps)) == {UTC})


def _utc_micros(timestamps: list[datetime], utc: bool) -> Any:
    # Plain datetimes all in datetime.UTC (``utc``: what stores and esteach.clock make) go
    # through pandas, at 2.5 times pyarrow's speed; others through pyarrow, which asks each
    # its offset.
    if utc and set(map(type, timestamps)) == {datetime}:
        try:
            return pa.array(pd.DatetimeIndex(timestamps).as_unit("us"))
        except (ValueError, OverflowError):  # out of pandas' range, say: pyarrow decides
            pass
    return pa.array(timestamps, _UTC_MICROS)


# Bytes that can make an id blank or break its rules: ASCII space and control characters, and
# every byte of a non-ASCII character (some are spaces). Ids without them pass unread.
_PLAIN = bytes(range(0x21, 0x7F))


def _ids_valid(column: Any, values: list[str]) -> bool:
    """`esteach.checks.check_id`'s rules over a pyarrow string column (so valid Unicode) of
    ids whose type the caller checked: non-blank, at most ``MAX_ID_LENGTH`` characters, no
    NUL/newline/CR/tab. ``values`` are the same ids, read only when a byte may make one blank."""
    offsets, text = _buffers(column)
    sizes = np.diff(offsets)
    if sizes.min() == 0:
        return False
    if sizes.max() > MAX_ID_LENGTH and pc.max(pc.utf8_length(column)).as_py() > MAX_ID_LENGTH:
        return False
    if not text.translate(None, _PLAIN):
        return True  # printable ASCII without spaces only: no id is blank or holds a control
    if not all(map(str.strip, values)):
        return False
    return not (b"\x00" in text or b"\n" in text or b"\r" in text or b"\t" in text)


def _buffers(column: Any) -> tuple[Any, bytes]:
    """A pyarrow string array's offsets (numpy) and the UTF-8 text they index, from the
    array's first value to its last."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)
    offsets = offsets[column.offset : column.offset + len(column) + 1]
    data = column.buffers()[2]
    text = b"" if data is None else data.to_pybytes()[offsets[0] : offsets[-1]]
    return offsets - offsets[0], text


def _event_types_valid(event_types: list[Any]) -> bool:
    try:
        for event_type in set(event_types):
            check_event_type(event_type)
    except (InvalidEventData, TypeError):  # TypeError: an unhashable "type"
        return False
    return True


def _versions_continue(codes: Any, wanted: Any, heads: Any) -> bool:
    """Whether each stream's versions go on from its head, one by one, in the batch's order."""
    if len(heads) <= 1 << 16:  # numpy sorts 16-bit ints by radix: a fifth of the time
        codes = codes.astype(np.uint16)
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
    None when one holds NaN, infinity or a value JSON has no type for."""
    try:
        return json_texts(datas)
    except (TypeError, ValueError, RecursionError):
        return None


def _data_valid(texts: list[str], column: Any, datas: list[Any]) -> bool:
    """Whether the encoded data is what `esteach.jsondata.ensure_json_data` accepts: objects,
    with nothing the encoder quietly converted (a tuple to a list, an int key to a string),
    not nested too deep.

    Flat objects (the usual event data: no "[" in any text, one "{" each) can only have had
    their keys converted, so their keys' types are checked; other data is parsed back in one
    call and compared.
    """
    if not set(map(type, datas)) <= _OBJECTS:
        return False  # not a dict, or a subclass of one: the check one event at a time decides
    offsets, text = _buffers(column)
    if b"[" not in text and text.count(b"{") == len(texts):
        return set(map(type, chain.from_iterable(datas))) <= {str}
    # The parse makes a throwaway dict per event: with the collector paused meanwhile (they
    # hold no cycles), it does not sweep the caller's whole heap of events a few times over.
    try:
        with paused():
            if json.loads(f"[{','.join(texts)}]") != datas:
                return False
    except RecursionError:
        return False
    # Nesting: a text nesting deeper than MAX_DEPTH opens and closes more than MAX_DEPTH
    # brackets or braces, so is longer than twice that (in characters, so in bytes): usually
    # no text is, and none is counted.
    if np.diff(offsets).max() > 2 * MAX_DEPTH:
        openers = pc.add(pc.count_substring(column, "{"), pc.count_substring(column, "["))
        if pc.max(openers).as_py() > MAX_DEPTH:
            return False
    return True


_OBJECTS: frozenset[type] = frozenset((dict, FrozenDict))
