"""`esteach.store.bulk.checked_columns` (the DuckDB store's bulk import checks, over columns)
gives the same verdict as `esteach.store.rules.check_bulk` (the rules one event at a time):
the same error for a batch that breaks a rule, the same columns for one that does not."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import esteach.store.bulk
from esteach import Event, EventMetadata
from esteach.duck import json_text
from esteach.jsondata import MAX_DEPTH
from esteach.store.bulk import checked_columns, utc_micros
from esteach.store.rules import check_bulk

START = datetime(2024, 1, 1, tzinfo=UTC)
HEADS = {"s-0": 2, "s-1": 0}  # what the store holds already


class Key(str):
    """A str subclass: `ensure_json_data` takes it as a key."""


class Level(enum.IntEnum):
    HIGH = 3


def batch(n: int, streams: int = 3) -> list[Event]:
    """``n`` good events over ``streams`` streams, in order."""
    versions = dict(HEADS)
    events = []
    for i in range(n):
        stream = f"s-{i % streams}"
        versions[stream] = versions.get(stream, 0) + 1
        events.append(
            Event(
                f"e-{i}",
                stream,
                "Thing",
                "ThingHappened",
                versions[stream],
                START + timedelta(seconds=i),
                {"n": i, "text": f"thing {i}"},
                EventMetadata(correlation_id=f"c-{i}"),
            )
        )
    return events


def verdict(run: Any) -> tuple[str, str] | Any:
    try:
        return run()
    except Exception as exc:  # the verdict is the error's type and message
        return type(exc).__name__, str(exc)


def both(events: list[Any], last: datetime | None = None) -> tuple[Any, Any]:
    def heads(streams: list[str]) -> dict[str, int]:
        return {s: HEADS[s] for s in streams if s in HEADS}

    def columns() -> Any:
        c = checked_columns(events, heads, last)
        streams = c.aggregate_ids
        if hasattr(streams, "dictionary_decode"):
            streams = streams.dictionary_decode()
        return (c.events, streams.to_pylist(), c.versions.tolist(), c.ids.to_pylist(),
                c.event_types.to_pylist(), c.timestamps.to_pylist(),
                c.data.to_pylist())  # fmt: skip

    def one_by_one() -> Any:
        checked = check_bulk(events, lambda s: HEADS.get(s, 0), last)
        return (checked, [e.aggregate_id for e in checked], [e.version for e in checked],
                [e.id for e in checked], [e.event_type for e in checked],
                [e.timestamp.astimezone(UTC) for e in checked],
                [json_text(e.data) for e in checked])  # fmt: skip

    return verdict(columns), verdict(one_by_one)


def deep(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(levels - 1):
        data = {"x": data}
    return data


# Each: (what is wrong, how to break event 5 of a good batch of 9).
DEFECTS: list[tuple[str, Any]] = [
    ("not an event", lambda e: "an event"),
    ("version gap", lambda e: replace(e, version=e.version + 1)),
    ("version repeated", lambda e: replace(e, version=e.version - 1)),
    ("version a bool", lambda e: replace(e, version=True)),
    ("version a float", lambda e: replace(e, version=float(e.version))),
    ("duplicate id", lambda e: replace(e, id="e-1")),
    ("blank id", lambda e: replace(e, id="  ")),
    ("empty id", lambda e: replace(e, id="")),
    ("id with a tab", lambda e: replace(e, id="e\t5")),
    ("id with NUL", lambda e: replace(e, id="e\x005")),
    ("id too long", lambda e: replace(e, id="e" * 300)),
    ("id too long, in characters", lambda e: replace(e, id="é" * 257)),
    ("id not a str", lambda e: replace(e, id=5)),
    ("id a half surrogate", lambda e: replace(e, id="e-\ud800")),
    ("stream blank", lambda e: replace(e, aggregate_id=" ", version=1)),
    ("stream not a str", lambda e: replace(e, aggregate_id=7, version=1)),
    ("stream with newline", lambda e: replace(e, aggregate_id="s\n1", version=1)),
    ("stream None", lambda e: replace(e, aggregate_id=None, version=1)),
    ("stream bytes", lambda e: replace(e, aggregate_id=b"s-9", version=1)),
    ("id bytes", lambda e: replace(e, id=b"e-5")),
    ("id None", lambda e: replace(e, id=None)),
    ("id a space inside, blank around", lambda e: replace(e, id="\x1f\u00a0 ")),
    ("bad event type", lambda e: replace(e, event_type="esteach.Thing")),
    ("event type not a str", lambda e: replace(e, event_type=None)),
    ("naive timestamp", lambda e: replace(e, timestamp=datetime(2024, 1, 1, 0, 0, 9))),
    ("timestamp goes back", lambda e: replace(e, timestamp=START)),
    ("timestamp a string", lambda e: replace(e, timestamp="2024-01-01T00:00:09+00:00")),
    ("timestamp None", lambda e: replace(e, timestamp=None)),
    ("data not a dict", lambda e: replace(e, data=[1, 2])),
    ("data NaN", lambda e: replace(e, data={"x": math.nan})),
    ("data infinity", lambda e: replace(e, data={"x": [math.inf]})),
    ("data a tuple", lambda e: replace(e, data={"x": (1, 2)})),
    ("data an int key", lambda e: replace(e, data={1: "x"})),
    ("data a bool key", lambda e: replace(e, data={"a": {True: 1}})),
    ("flat data, a None key", lambda e: replace(e, data={"n": 1, None: 2})),
    ("flat data, a float key", lambda e: replace(e, data={1.5: "x"})),
    ("data a tuple in a list", lambda e: replace(e, data={"x": [1, (2,)]})),
    ("data a list of a tuple key", lambda e: replace(e, data={"x": [{(1, 2): 3}]})),
    ("data a bytes value", lambda e: replace(e, data={"x": b"abc"})),
    ("data a datetime", lambda e: replace(e, data={"at": START})),
    ("data a set", lambda e: replace(e, data={"x": {1}})),
    ("data a half surrogate", lambda e: replace(e, data={"x": "a\udc00"})),
    ("data a half surrogate key", lambda e: replace(e, data={"\ud800": 1})),
    ("data too deep", lambda e: replace(e, data=deep(MAX_DEPTH + 1))),
]
# Each: (what is wrong, the stream of a new stream's only event, put last): nothing else breaks.
NEW_STREAMS: list[tuple[str, Any]] = [
    ("bytes", b"s-9"),
    ("a bytearray", bytearray(b"s-9")),
    ("None", None),
    ("an int", 9),
    ("blank", " \u00a0"),
    ("empty", ""),
    ("a newline", "s\n9"),
    ("a tab", "s\t9"),
    ("NUL", "s\x009"),
    ("too long", "s" * 257),
    ("too long, in characters", "é" * 257),
    ("a half surrogate", "s-\udc00"),
]


@pytest.mark.parametrize("what, stream", NEW_STREAMS, ids=[d[0] for d in NEW_STREAMS])
def test_a_new_stream_of_the_wrong_kind_gives_the_one_by_one_error(what: str, stream: Any) -> None:
    events: list[Any] = batch(9)
    events.append(replace(events[-1], id="e-new", aggregate_id=stream, version=1))
    columns, one_by_one = both(events)
    assert isinstance(one_by_one, tuple) and len(one_by_one) == 2, f"{what} was not refused"
    assert one_by_one[0] == "InvalidInput" and "aggregate_id" in one_by_one[1], one_by_one
    assert columns == one_by_one


# Each: (what is unusual but right, how event 5 carries it).
FINE: list[tuple[str, Any]] = [
    ("deep but allowed", lambda e: replace(e, data=deep(MAX_DEPTH))),
    ("many brackets, shallow", lambda e: replace(e, data={"x": [[1]] * 80, "y": [{}] * 40})),
    ("brackets in strings", lambda e: replace(e, data={"x": "{[" * 200})),
    ("non-ASCII text", lambda e: replace(e, data={"name": "Ада 🚀", "ключ": "é"})),
    ("another time zone", lambda e: replace(
        e, timestamp=e.timestamp.astimezone(timezone(timedelta(hours=-5))))),
    ("same timestamp as before", lambda e: replace(e, timestamp=START + timedelta(seconds=4))),
    ("floats and big ints", lambda e: replace(e, data={"f": 1e16, "z": -0.0, "g": 2**70})),
    ("nested nulls", lambda e: replace(e, data={"a": [None, {"b": None}]})),
    ("an id with other control chars", lambda e: replace(e, id="e\x1f5")),
    ("an id with a space inside", lambda e: replace(e, id="event five")),
    ("a non-ASCII id", lambda e: replace(e, id="событие-5")),
    ("an id of 255 characters", lambda e: replace(e, id="é" * 255)),
    ("an id of 256 characters", lambda e: replace(e, id="e" * 256)),
    ("a flat object with braces in strings", lambda e: replace(e, data={"x": "{", "y": "}{"})),
    ("a str subclass key", lambda e: replace(e, data={Key("k"): 1})),
    ("an IntEnum value", lambda e: replace(e, data={"k": Level.HIGH})),
    ("a dict subclass as data", lambda e: replace(e, data=OrderedDict(k=1))),
    ("a pandas Timestamp", lambda e: replace(e, timestamp=pd.Timestamp(e.timestamp))),
    ("a zone of another kind, at UTC", lambda e: replace(
        e, timestamp=e.timestamp.replace(tzinfo=ZoneInfo("UTC")))),
]  # fmt: skip


@pytest.mark.parametrize("what, defect", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_broken_rule_gives_the_error_the_one_by_one_check_gives(what: str, defect: Any) -> None:
    events: list[Any] = batch(9)
    events[5] = defect(events[5])
    columns, one_by_one = both(events)
    assert isinstance(one_by_one, tuple) and len(one_by_one) == 2, f"{what} was not refused"
    assert one_by_one[0] in {"InvalidInput", "InvalidEventData", "DuplicateEventId"}, one_by_one
    assert columns == one_by_one


@pytest.mark.parametrize("what, change", FINE, ids=[f[0] for f in FINE])
def test_an_unusual_but_right_batch_gives_the_same_columns(what: str, change: Any) -> None:
    events = batch(9)
    events[5] = change(events[5])
    columns, one_by_one = both(events)
    assert isinstance(columns, tuple) and len(columns) == 7, f"{what} was refused: {columns}"
    assert columns == one_by_one


def test_a_usual_batch_is_checked_over_columns_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flat data, nested data, another time zone: no event is checked on its own (the point of
    checking over columns is its speed)."""

    def one_at_a_time(*args: Any) -> None:
        raise AssertionError("check_bulk was called")

    monkeypatch.setattr(esteach.store.bulk, "check_bulk", one_at_a_time)
    zone = timezone(timedelta(hours=2))
    for events in (
        batch(50),
        [replace(e, data={"tags": ["a", {"b": [1.5, None]}], "n": e.version}) for e in batch(50)],
        [replace(e, timestamp=e.timestamp.astimezone(zone)) for e in batch(50)],
    ):
        columns = checked_columns(events, lambda streams: HEADS, None)
        assert columns.data.to_pylist() == [json_text(e.data) for e in events]
        assert columns.timestamps.to_pylist() == [e.timestamp.astimezone(UTC) for e in events]


@settings(database=None, deadline=None, max_examples=200)
@given(st.lists(st.datetimes(timezones=st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), ZoneInfo("UTC"), ZoneInfo("Europe/Paris")])),
    min_size=1, max_size=8))  # fmt: skip
def test_utc_micros_is_what_pyarrow_makes(timestamps: list[datetime]) -> None:
    """The pandas shortcut for timestamps all in UTC gives pyarrow's very array."""
    expected = pa.array(timestamps, pa.timestamp("us", tz="UTC"))
    assert utc_micros(timestamps).equals(expected)
    in_utc = [t.astimezone(UTC) for t in timestamps]
    assert utc_micros(in_utc).equals(expected)


def test_utc_micros_takes_the_whole_range_of_datetime() -> None:
    timestamps = [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]
    assert utc_micros(timestamps).to_pylist() == timestamps


def test_a_batch_of_naive_timestamps_is_refused() -> None:
    """pyarrow reads naive datetimes as UTC without a word: the zones are checked apart."""
    events = [replace(e, timestamp=e.timestamp.replace(tzinfo=None)) for e in batch(5)]
    columns, one_by_one = both(events)
    assert one_by_one == ("InvalidInput", "bulk_import item 0 has a naive timestamp; use UTC")
    assert columns == one_by_one


@pytest.mark.parametrize("streams", [3, 70_000])  # the stream codes sorted as 16 or 32 bits
def test_versions_are_checked_whatever_the_number_of_streams(streams: int) -> None:
    events = [
        Event(f"e-{i}", f"t-{i % streams}", "T", "ThingHappened", i // streams + 1, START, {})
        for i in range(max(streams, 12))
    ]
    assert len(both(events)[0][0]) == len(events)
    events[-2] = replace(events[-2], version=events[-2].version + 1)
    columns, one_by_one = both(events)
    assert columns == one_by_one and "next version there is" in columns[1]


def test_the_last_commit_time_is_a_floor() -> None:
    assert both(batch(3), last=START + timedelta(seconds=1))[0][0] == "InvalidInput"
    assert len(both(batch(3), last=START)[0][0]) == 3


def test_an_empty_batch_is_no_columns() -> None:
    assert both([]) == (([], [], [], [], [], [], []),) * 2


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_like = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children)
        | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(database=None, deadline=None, max_examples=300)
@given(
    data=st.lists(st.dictionaries(st.text(max_size=4), json_like, max_size=3), min_size=1,
                  max_size=6),
    slips=st.lists(st.sampled_from([0, 0, 0, 0, 0, 1, -1]), min_size=6, max_size=6),
    seconds=st.lists(st.sampled_from([0, 1, 1, 2, -1]), min_size=6, max_size=6),
)  # fmt: skip
def test_any_batch_gets_the_one_by_one_verdict(
    data: list[dict[str, Any]], slips: list[int], seconds: list[int]
) -> None:
    """Generated batches: odd data (tuples, int keys, NaN), versions and times out of order."""
    events, versions = [], dict(HEADS)
    for i, item in enumerate(data):
        stream = f"s-{i % 2}"
        versions[stream] += 1
        events.append(Event(f"e-{i}", stream, "T", "ThingHappened", versions[stream] + slips[i],
                            START + timedelta(seconds=sum(seconds[: i + 1])), item))  # fmt: skip
    columns, one_by_one = both(events)
    if isinstance(columns, tuple) and len(columns) == 7:
        ACCEPTED.append(len(events))
        assert json.dumps(columns[6]) == json.dumps(one_by_one[6])  # NaN-safe comparison
        assert columns[:6] == one_by_one[:6]
    else:
        assert columns == one_by_one


ACCEPTED: list[int] = []


def test_the_generated_batches_were_sometimes_accepted() -> None:
    """The property above proves little if every batch it made was refused."""
    if not ACCEPTED:
        pytest.skip("run with the property test before it")
    assert len(ACCEPTED) >= 10
