"""Processes and crashes: two processes on one DuckDB file, and writers killed with SIGKILL.

Each test runs ``tests/reliability_writer.py`` as a child process (``sys.executable``) and talks
to it line by line, with a timeout on every line; the ``children`` fixture kills any child still
running when the test ends, and each child also exits by itself after ``--seconds``. What
DuckDB 2.0.1 does with two processes, measured here:

* A file open for writing in one process cannot be opened by another at all, not even
  ``read_only``: ``IO Error: Could not set lock on file "...": Conflicting lock is held in
  <python> (PID n)``. The store wraps it in :class:`EventStoreError`.
* Several processes may open a file ``read_only`` together; a writer is then refused with the
  same error plus DuckDB's own hint that read-only opening would work.
* In one process, a ``read_only`` store beside a writable one on the same file is refused too:
  ``Connection Error: Can't open a connection to same database file with a different
  configuration than existing connections``.
* A killed holder's lock goes with it: the file opens at once and holds every committed event.
"""

from __future__ import annotations

import contextlib
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from esteach import DuckDBEventStore, Event, EventStore, EventStoreError, NewEvent
from esteach.readmodels.users import UserQueryModel

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGKILL and DuckDB's file locks as on Linux and macOS"
)

WRITER = Path(__file__).with_name("reliability_writer.py")
LINE_TIMEOUT = 8.0  # seconds to wait for one line from a child; a healthy child takes ms


class Child:
    """A running ``reliability_writer.py``: its stdout line by line, with timeouts."""

    def __init__(self, *args: str, seconds: float = 20.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), *args, "--seconds", str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def line(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next line; fails the test if none comes in time or the child has ended."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"child {self.pid} printed nothing for {timeout} s; so far {self.seen}")
        if line is None:
            self.process.wait(5)
            pytest.fail(f"child {self.pid} ended early: {self.seen}; stderr: {self.stderr()}")
        self.seen.append(line)
        return line

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def kill(self) -> list[str]:
        """SIGKILL the child and return the lines it printed that were not read yet."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)
        rest = []
        while (line := self.lines.get(timeout=5)) is not None:
            rest.append(line)
        self.seen += rest
        return rest

    def finish(self) -> None:
        """Wait for a child that is ending by itself."""
        self.process.wait(10)
        assert self.process.returncode == 0, (self.seen, self.stderr())

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read()

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Start children through ``start(children, ...)``; all are killed after the test."""
    started: list[Child] = []
    yield started
    for child in started:
        child.cleanup()


def start(children: list[Child], *args: str, seconds: float = 20.0) -> Child:
    child = Child(*args, seconds=seconds)
    children.append(child)
    return child


def whole_commands(store: EventStore) -> int:
    """Check the log holds whole three-event commands 0, 1, ... in order; return how many.

    Each command is one append of three events with one correlation id: its events must sit
    at consecutive positions and consecutive versions of one stream, with k = 0, 1, 2.
    """
    log = store.read_all()
    assert [e.global_position for e in log] == list(range(1, len(log) + 1))
    streams: dict[str, list[int]] = defaultdict(list)
    batches: dict[int, list[Event]] = defaultdict(list)
    for event in log:
        streams[event.aggregate_id].append(event.version)
        batches[event.data["batch"]].append(event)
    for stream, versions in streams.items():
        assert versions == list(range(1, len(versions) + 1)), stream
        assert store.stream_version(stream) == len(versions)
    assert sorted(batches) == list(range(len(batches))), "a command is missing in the middle"
    for number, events in batches.items():
        assert [e.data["k"] for e in events] == [0, 1, 2], f"command {number} is not whole"
        assert {e.metadata.correlation_id for e in events} == {f"batch-{number}"}
        assert {e.aggregate_id for e in events} == {f"stream-{number % 5}"}
        first = events[0]
        assert [e.global_position for e in events] == [first.global_position + k for k in range(3)]
        assert [e.version for e in events] == [first.version + k for k in range(3)]
    return len(batches)


def lock_message(path: Path, read_only: bool) -> str:
    with pytest.raises(EventStoreError) as refused:
        DuckDBEventStore(path, read_only=read_only)
    assert isinstance(refused.value.__cause__, duckdb.IOException)
    return str(refused.value)


# --- two processes on one file ----------------------------------------------------------------


def test_a_second_writer_process_is_refused_with_an_error_naming_the_holder(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "events.duckdb"
    holder = start(children, "hold", str(path))
    assert holder.line() == "ready 0"
    for head in (3, 6):
        holder.send("append")
        assert holder.line() == f"appended {head}"

    message = lock_message(path, read_only=False)

    assert "events.duckdb" in message
    assert "Could not set lock on file" in message
    assert "Conflicting lock is held in" in message
    assert f"(PID {holder.pid})" in message  # it names the process to close
    # The refusal touched nothing: the holder writes on, and its log is whole when it closes.
    holder.send("append")
    assert holder.line() == "appended 9"
    holder.send("close")
    assert holder.line() == "closed"
    holder.finish()
    with DuckDBEventStore(path) as store:
        assert whole_commands(store) == 3
        assert store.append_events("late", 0, [NewEvent("ItemAdded")])[0].global_position == 10


def test_a_read_only_open_from_another_process_is_refused_too_while_a_writer_holds_the_file(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "events.duckdb"
    holder = start(children, "hold", str(path))
    assert holder.line() == "ready 0"
    holder.send("append")
    assert holder.line() == "appended 3"

    message = lock_message(path, read_only=True)

    assert "Could not set lock on file" in message
    assert f"(PID {holder.pid})" in message
    holder.send("close")
    assert holder.line() == "closed"
    holder.finish()
    # Once the writer has closed the file, a reader (or a writer) opens it and sees everything.
    with DuckDBEventStore(path, read_only=True) as reader:
        assert whole_commands(reader) == 1
        assert reader.head_position() == 3


def test_the_lock_error_does_not_advise_read_only_opening_which_duckdb_refuses_too(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "events.duckdb"
    holder = start(children, "hold", str(path))
    assert holder.line() == "ready 0"

    message = lock_message(path, read_only=True)

    assert "open it read_only=True" not in message, message


def test_reader_processes_share_a_file_that_no_process_writes(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as store:
        store.append_events(
            "stream-0", 0, [NewEvent("ItemAdded", {"batch": 0, "k": k}) for k in range(3)]
        )
    readers = [start(children, "hold", str(path), "--read-only") for _ in range(2)]
    for reader in readers:
        assert reader.line() == "ready 3"

    with DuckDBEventStore(path, read_only=True) as mine:  # a third reader, this process
        assert [e.version for e in mine.get_events("stream-0")] == [1, 2, 3]

    # A writer is refused while readers hold the file; DuckDB says read-only would work.
    message = lock_message(path, read_only=False)
    assert "Could not set lock on file" in message
    assert "you would be able to open this database in read-only mode" in message
    assert any(f"(PID {reader.pid})" in message for reader in readers)

    for reader in readers:
        reader.send("close")
        assert reader.line() == "closed"
        reader.finish()
    with DuckDBEventStore(path) as writer:
        assert writer.append_events("stream-0", 3, [NewEvent("ItemAdded")])[0].version == 4


def test_in_one_process_a_read_only_store_beside_a_writable_one_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    with DuckDBEventStore(path) as writer:
        writer.append_events("s", 0, [NewEvent("ItemAdded")])
        with pytest.raises(EventStoreError, match="different configuration") as refused:
            DuckDBEventStore(path, read_only=True)
        assert isinstance(refused.value.__cause__, duckdb.ConnectionException)
        # ... and the writer is unharmed; a second writable store on the file works.
        with DuckDBEventStore(path) as second:
            assert second.append_events("s", 1, [NewEvent("ItemAdded")])[0].global_position == 2
        assert writer.head_position() == 2


def _not_a_database(tmp_path: Path) -> tuple[Path, bool]:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    return path, False


def _a_directory(tmp_path: Path) -> tuple[Path, bool]:
    return tmp_path, False


def _missing_parent(tmp_path: Path) -> tuple[Path, bool]:
    return tmp_path / "no-such-dir" / "events.duckdb", False


def _read_only_missing_file(tmp_path: Path) -> tuple[Path, bool]:
    return tmp_path / "missing.duckdb", True


@pytest.mark.parametrize(
    "make",
    [_not_a_database, _a_directory, _missing_parent, _read_only_missing_file, "same-process"],
    ids=[
        "not-a-database",
        "a-directory",
        "missing-folder",
        "read-only-missing-file",
        "same-process",
    ],
)
def test_an_open_error_that_is_no_lock_conflict_does_not_blame_another_process(
    tmp_path: Path, make: Any
) -> None:
    with contextlib.ExitStack() as stack:
        if make == "same-process":
            path, read_only = tmp_path / "events.duckdb", True
            stack.enter_context(DuckDBEventStore(path))
        else:
            path, read_only = make(tmp_path)
        with pytest.raises(EventStoreError) as refused:
            DuckDBEventStore(path, read_only=read_only)
    assert "other process" not in str(refused.value), str(refused.value)


# --- crashes ------------------------------------------------------------------------------------


def test_a_writer_killed_mid_run_leaves_a_prefix_of_whole_commands(
    tmp_path: Path, children: list[Child]
) -> None:
    """Three rounds on one file: append, SIGKILL at a random moment, reopen, check, resume."""
    path = tmp_path / "events.duckdb"
    rng = random.Random(20240101)
    committed = 0
    for _ in range(3):
        writer = start(children, "append", str(path))
        assert writer.line() == f"start {committed}"
        wanted = rng.randint(20, 120)  # commands to see reported before the kill
        last = committed - 1
        while last < committed + wanted:
            last = int(writer.line())
        time.sleep(rng.random() / 50)  # and a random moment after that
        rest = writer.kill()
        assert writer.process.returncode == -signal.SIGKILL
        numbers = [int(line) for line in rest if line.isdigit()]
        reported = max([last, *numbers]) + 1  # commands 0 .. reported - 1 were reported done

        with DuckDBEventStore(path) as store:  # the lock went with the process
            found = whole_commands(store)
            # Everything reported is there; at most one more command committed unreported.
            assert reported <= found <= reported + 1, (reported, found)
            assert store.head_position() == 3 * found
        committed = found
    assert committed > 60


def test_a_bulk_import_killed_inside_its_insert_leaves_nothing_and_a_rerun_imports_it_all(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "events.duckdb"
    count = 40_000  # its one INSERT takes about 0.1 s; the kill lands a few ms into it
    importer = start(children, "bulk", str(path), str(count))
    assert importer.line() == "inserting"
    importer.kill()
    with DuckDBEventStore(path) as store:
        assert store.head_position() == 0
        assert store.read_all() == []

    # The file is sound: an import in this process goes through whole.
    with DuckDBEventStore(path) as store:
        assert store.bulk_import(recorded_events(1_000)) == 1_000
        assert [e.version for e in store.get_events("bulk-3")] == list(range(1, 101))
        assert store.head_position() == 1_000


def recorded_events(count: int) -> list[Event]:
    """Ten streams, one microsecond apart (as ``reliability_writer.py bulk`` imports)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        Event(
            id=f"bulk-{n}",
            aggregate_id=f"bulk-{n % 10}",
            aggregate_type="Bulk",
            event_type="ItemImported",
            version=n // 10 + 1,
            timestamp=start + timedelta(microseconds=n),
            data={"n": n},
        )
        for n in range(count)
    ]


class Prefix:
    """The first ``upto`` events of a store, as a store: what a read model saw up to there."""

    def __init__(self, store: EventStore, upto: int) -> None:
        self.store, self.upto = store, upto

    def head_position(self) -> int:
        return self.upto

    def read_all(self, from_position: int = 0, limit: int | None = None) -> list[Event]:
        room = self.upto - max(from_position, 1) + 1
        if room <= 0:
            return []
        return self.store.read_all(from_position, room if limit is None else min(limit, room))


def users_table(model: UserQueryModel) -> list[tuple[Any, ...]]:
    return model.processor.query("SELECT * FROM users ORDER BY id")


def a_user_log(path: Path, size: int) -> None:
    """A log of ``size`` user events: 300 users created, then changes and deactivations."""
    from esteach import CommandProcessor, InMemoryEventStore, SeededIds, StepClock
    from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User

    memory = InMemoryEventStore(clock=StepClock(), ids=SeededIds(1))
    users = CommandProcessor(memory, User, ids=SeededIds(2))
    for u in range(300):
        users.process_command(CreateUser(f"user-{u}", f"u{u}@example.com", f"User {u}"))
    i = 0
    while memory.head_position() < size:
        user = f"user-{i % 290}"  # users 290..299 stay as created
        if i % 3 == 0:
            users.process_command(ChangeEmail(user, f"e{i}@example.com"))
        else:
            users.process_command(ChangeName(user, f"Name {i}"))
        i += 1
    for u in range(280, 290):
        users.process_command(DeactivateUser(f"user-{u}"))
    with DuckDBEventStore(path) as store:
        store.bulk_import(memory.read_all())


def test_a_projection_killed_mid_rebuild_converges_on_rerun(
    tmp_path: Path, children: list[Child]
) -> None:
    store_path, model_path = tmp_path / "events.duckdb", tmp_path / "users.duckdb"
    a_user_log(store_path, 2_000)
    with DuckDBEventStore(store_path, read_only=True) as store:
        head = store.head_position()
        # The model file starts complete (built in one uninterrupted run: the reference), so
        # the rebuild has old rows to wipe.
        with UserQueryModel(store, database=model_path) as model:
            model.catch_up()
            complete = users_table(model)

    rebuilding = start(children, "rebuild", str(store_path), str(model_path))
    assert rebuilding.line() == "rebuilding"
    page = 1000  # the events a rebuild applies per transaction
    while int(rebuilding.line().removeprefix("at ")) < page + (head - page) // 2:
        pass  # killed half-way through the second page
    rebuilding.kill()
    assert not any(line.startswith("done") for line in rebuilding.seen)

    with (
        DuckDBEventStore(store_path, read_only=True) as store,
        UserQueryModel(store, database=model_path) as killed,
    ):
        reached = killed.position
        # Mid-way, at a page boundary (1,000 events a transaction), and exactly the model
        # of the events up to its checkpoint: no half-applied page.
        assert 0 < reached < head and reached % page == 0, reached
        with UserQueryModel(Prefix(store, reached)) as upto:  # type: ignore[arg-type]
            upto.catch_up()
            assert users_table(killed) == users_table(upto)
        # Rerun: catch-up from the checkpoint gives the model an uninterrupted run gives.
        assert killed.catch_up() == head - reached
        assert users_table(killed) == complete
        assert killed.position == head
        # And a rebuild of the file the crash left (set-based here, to be quick) agrees too.
        assert killed.rebuild(set_based=True) == head
        assert users_table(killed) == complete
