"""A full disk: appends, bulk imports, DuckDB's own checkpoint, read models and opens each end in
``DiskFull`` (or ``DatabaseInvalidated`` when DuckDB gave up on the file), name the cause, lose
no acknowledged event, and (except after invalidation) the same object goes on once space is
freed.

The disk is a small tmpfs mounted in a temporary directory, which needs root; elsewhere these
tests are skipped (``mount`` is refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from esteach import ANY, DuckDBEventStore, EsteachError, NewEvent, StepClock, UserQueryModel
from esteach.errors import DatabaseInvalidated, DiskFull
from tests.faulty import can_mount, fill, small_disk
from tests.test_faults_interrupts import START, check_log, sample, user_log

pytestmark = pytest.mark.skipif(not can_mount(), reason="mounting a small tmpfs needs root")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path, 4096) as directory:
        yield directory


def blob(n: int) -> NewEvent:
    return NewEvent("ItemAdded", {"n": n, "blob": f"{7**2000 + n:x}"})


def append_until_refused(store: DuckDBEventStore, limit: int = 20_000) -> tuple[int, Exception]:
    for n in range(limit):
        try:
            store.append_events(f"s{n % 13}", ANY, [blob(n)])
        except Exception as exc:
            return n, exc
    raise AssertionError(f"{limit} appends fitted on a full disk")


def test_append_and_bulk_import_on_a_full_disk_say_so_and_the_same_store_goes_on(
    disk: Path,
) -> None:
    store = DuckDBEventStore(disk / "events.duckdb", clock=StepClock(START - timedelta(days=1)))
    store.append_events("first", 0, [blob(0)])
    filler = fill(disk)

    acknowledged, refused = append_until_refused(store)

    assert isinstance(refused, DiskFull), repr(refused)
    assert "No space left on device" in str(refused) and "free" in str(refused)
    head = store.head_position()
    assert head == 1 + acknowledged
    assert len(store.read_all()) == head  # reads still work
    with pytest.raises(DiskFull):
        store.bulk_import(sample(50))
    assert store.head_position() == head

    filler.unlink()
    store.append_events("after", 0, [blob(1)])
    assert store.bulk_import(sample(50)) == 50
    check_log(store)
    store.close()
    with DuckDBEventStore(disk / "events.duckdb") as again:
        assert again.head_position() == head + 51
        check_log(again)


def test_a_checkpoint_on_a_full_disk_says_to_reopen_and_reopening_finds_every_event(
    disk: Path,
) -> None:
    path = disk / "events.duckdb"
    store = DuckDBEventStore(path)
    store.sql("SET checkpoint_threshold = '64KB'")  # checkpoint soon (the default is 16 MiB)
    filler = fill(disk, leave=512 * 1024)

    acknowledged, refused = append_until_refused(store)

    assert isinstance(refused, (DatabaseInvalidated, DiskFull)), repr(refused)
    if isinstance(refused, DatabaseInvalidated):
        assert "close" in str(refused) and "No space left on device" in str(refused)
        with pytest.raises(DatabaseInvalidated):
            store.read_all()
        with pytest.raises(DatabaseInvalidated):
            store.append_events("x", ANY, [blob(0)])
    store.close()
    filler.unlink()
    with DuckDBEventStore(path) as again:
        assert again.head_position() == acknowledged
        check_log(again)


def test_opening_a_new_file_on_a_full_disk_says_so_and_leaves_no_file(disk: Path) -> None:
    fill(disk)
    with pytest.raises(DiskFull):
        DuckDBEventStore(disk / "new.duckdb")
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]
    with DuckDBEventStore(":memory:") as store, pytest.raises(DiskFull):
        UserQueryModel(store, database=disk / "users.duckdb")
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]


def test_a_read_model_on_a_full_disk_says_so_and_the_same_object_resumes(
    disk: Path, tmp_path: Path
) -> None:
    store = user_log(tmp_path / "events.duckdb", users=150)
    model = UserQueryModel(store, database=disk / "users.duckdb")
    filler = fill(disk)
    with pytest.raises(EsteachError) as refused:
        for _ in range(150):
            model.catch_up(batch_size=5)
    assert "No space left on device" in str(refused.value)
    checkpoint = model.processor.query("SELECT position FROM projection_checkpoints")[0][0]
    assert model.position == checkpoint
    assert model.count_users() == checkpoint
    filler.unlink()
    model.catch_up()
    assert model.count_users() == 150 == model.position
    model.processor.close()
    store.close()
