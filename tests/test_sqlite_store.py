"""SQLiteEventStore beyond the contract: several connections and processes on one file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from esteach import CommandProcessor, InvalidInput, NewEvent, WrongExpectedVersion
from esteach.domains.user import ChangeName, CreateUser, User
from esteach.store.sqlite import SQLiteEventStore

ROOT = Path(__file__).resolve().parent.parent


def test_two_store_objects_on_one_file_see_each_others_appends(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with SQLiteEventStore(path) as first, SQLiteEventStore(path) as second:
        first.append_events("s", 0, [NewEvent("ItemAdded")])
        assert second.stream_version("s") == 1  # second knew nothing of "s" until now
        second.append_events("s", 1, [NewEvent("ItemAdded")])

        with pytest.raises(WrongExpectedVersion):  # first's memory of "s" is stale: it asks
            first.append_events("s", 1, [NewEvent("ItemAdded")])
        [event] = first.append_events("s", 2, [NewEvent("ItemAdded")])
        assert (event.version, event.global_position) == (3, 3)


def test_a_cached_processor_on_one_connection_sees_another_connections_commands(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.sqlite"
    with SQLiteEventStore(path) as first, SQLiteEventStore(path) as second:
        from esteach import AggregateCache

        mine = CommandProcessor(first, User, cache=AggregateCache())
        mine.process_command(CreateUser("ada", "ada@example.com", "Ada"))
        CommandProcessor(second, User).process_command(ChangeName("ada", "Ada Lovelace"))

        assert mine.load("ada").name == "Ada Lovelace"


WRITER = """
import sys
from esteach import NewEvent
from esteach.store.sqlite import SQLiteEventStore
from esteach.store.base import ANY

path, me, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with SQLiteEventStore(path) as store:
    for i in range(count):
        store.append_events(f"own-{me}", i, [NewEvent("Counted", {"writer": me, "i": i})])
        store.append_events("shared", ANY, [NewEvent("Counted", {"writer": me, "i": i})])
"""


def test_writer_processes_on_one_file_lose_duplicate_and_reorder_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    SQLiteEventStore(path).close()  # the file and its schema, before the race
    writers, count = 4, 40
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(path), str(n), str(count)],
            cwd=ROOT,
        )
        for n in range(writers)
    ]
    assert [child.wait(timeout=120) for child in children] == [0] * writers

    with SQLiteEventStore(path) as store:
        log = store.read_all()
        assert [e.global_position for e in log] == list(range(1, 2 * writers * count + 1))
        assert [e.version for e in store.get_events("shared")] == list(
            range(1, writers * count + 1)
        )
        for n in range(writers):
            own = store.get_events(f"own-{n}")
            assert [e.data["i"] for e in own] == list(range(count))
        times = [e.timestamp for e in log]
        assert times == sorted(times)  # commit times never decrease with position


def test_synchronous_is_normal_or_full(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="synchronous must be 'NORMAL' or 'FULL'"):
        SQLiteEventStore(tmp_path / "x.sqlite", synchronous="OFF")  # type: ignore[arg-type]
