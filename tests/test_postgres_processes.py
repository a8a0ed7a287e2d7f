"""Several processes writing one PostgreSQL log at once (what DuckDB cannot do), and a reader
following the log while they write.

The writers are `tests/postgres_writer.py` child processes; the server is the session's
(`postgres_url`), each test in a schema of its own.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from pgtesting import fresh_schema

from esteach import Event
from esteach.store.postgres import PostgresEventStore

WRITER = Path(__file__).with_name("postgres_writer.py")
WRITERS = 4
COUNT = 60  # events per writer to its own stream, and as many to the shared stream


def run_writers(url: str, schema: str, writers: int, count: int) -> list[int]:
    """Start the writers together; wait for them; return each one's conflicts."""
    start_at = time.time() + 1.5  # time enough for every child to import esteach and connect
    children = [
        subprocess.Popen(
            [sys.executable, str(WRITER), url, schema, f"w{n}", str(count), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    conflicts = []
    try:
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, f"a writer failed:\n{err}"
            conflicts.append(int(out.split()[-1]))
    finally:
        for child in children:
            child.kill()
    return conflicts


def test_four_writer_processes_lose_duplicate_and_reorder_nothing(postgres_url: str) -> None:
    schema = fresh_schema()
    PostgresEventStore(postgres_url, schema=schema).close()  # the tables, before the race

    run_writers(postgres_url, schema, WRITERS, COUNT)

    with PostgresEventStore(postgres_url, schema=schema) as store:
        log = store.read_all()
        assert [e.global_position for e in log] == list(range(1, 2 * WRITERS * COUNT + 1))
        assert len({e.id for e in log}) == len(log)
        for n in range(WRITERS):
            own = store.get_events(f"own-w{n}")
            assert [(e.version, e.data["seq"]) for e in own] == [(i + 1, i) for i in range(COUNT)]
        shared = store.get_events("shared")
        assert [e.version for e in shared] == list(range(1, WRITERS * COUNT + 1))
        by_writer: dict[str, list[int]] = defaultdict(list)
        for event in shared:
            by_writer[event.data["writer"]].append(event.data["seq"])
        assert by_writer == {f"w{n}": list(range(COUNT)) for n in range(WRITERS)}
        stamps = [e.timestamp for e in log]
        assert stamps == sorted(stamps)


def test_a_reader_following_read_all_sees_every_event_once_in_order(postgres_url: str) -> None:
    schema = fresh_schema()
    PostgresEventStore(postgres_url, schema=schema).close()
    total = 2 * WRITERS * COUNT
    seen: list[Event] = []
    pages = Counter[str]()
    stop = threading.Event()

    def follow() -> None:
        with PostgresEventStore(postgres_url, schema=schema) as reader:
            checkpoint = 0
            while len(seen) < total and not stop.is_set():
                page = reader.read_all(checkpoint + 1, limit=50)
                pages["empty" if not page else "full"] += 1
                seen.extend(page)
                if page:
                    checkpoint = page[-1].global_position
                else:
                    reader.wait_for_append(checkpoint, timeout=0.5)

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        run_writers(postgres_url, schema, WRITERS, COUNT)
        thread.join(timeout=60)
    finally:
        stop.set()
        thread.join()

    assert [e.global_position for e in seen] == list(range(1, total + 1))
    assert pages["full"] > 1, "the reader should have followed the writers, not read once"
    with PostgresEventStore(postgres_url, schema=schema) as store:
        assert seen == store.read_all()


def test_a_naive_sequence_log_can_skip_but_the_store_cannot(postgres_url: str) -> None:
    """The reason for the head row, shown: with positions from a sequence, a transaction that
    took an earlier position can commit after a later one, and a reader that moved past the
    later one never sees the earlier. Two connections make it happen on purpose."""
    import psycopg

    schema = fresh_schema()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.log (position BIGSERIAL PRIMARY KEY, body TEXT)")
    slow = psycopg.connect(postgres_url)
    fast = psycopg.connect(postgres_url, autocommit=True)
    try:
        slow.execute(f"INSERT INTO {schema}.log (body) VALUES ('slow')")  # takes 1, not committed
        fast.execute(f"INSERT INTO {schema}.log (body) VALUES ('fast')")  # takes 2, commits
        seen = [p for (p,) in fast.execute(f"SELECT position FROM {schema}.log").fetchall()]
        slow.commit()
        later = fast.execute(f"SELECT position FROM {schema}.log WHERE position > %s", [max(seen)])
        assert seen == [2] and later.fetchall() == []  # position 1 is never read
    finally:
        slow.close()
        fast.close()

    # The store: the second append waits for the first one's head row, so it cannot commit first.
    with PostgresEventStore(postgres_url, schema=schema) as store:
        first = psycopg.connect(postgres_url)
        try:
            first.execute(f"UPDATE {schema}.esteach_head SET position = position")  # holds it
            done = threading.Event()

            def append() -> None:
                from esteach import NewEvent

                with PostgresEventStore(postgres_url, schema=schema) as other:
                    other.append_events("s", 0, [NewEvent("E", {})])
                done.set()

            thread = threading.Thread(target=append)
            thread.start()
            assert not done.wait(0.3), "an append committed while another held the head row"
            first.commit()
            thread.join(timeout=10)
            assert done.is_set()
        finally:
            first.close()
        assert [e.global_position for e in store.read_all()] == [1]
