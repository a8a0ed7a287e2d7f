# %% [markdown]
# # 02 · The event store
#
# **Time box:** 55 minutes · **You will:**
#
# - append events to streams and see the store number them: a **version** per stream, a
#   **global position** over the whole store, a commit **timestamp**;
# - use **expected versions** (exact, `0`, `NO_STREAM`, `ANY`) and watch optimistic
#   concurrency refuse a stale write;
# - see that an append is **atomic**: a batch with one bad event writes nothing;
# - retry an append safely with **event ids**;
# - read by stream, by type, by time and by position;
# - do all of it again on **DuckDB**, in memory and on a file, and query the log with SQL;
# - let a `CommandProcessor` do the whole write path, with **metadata** on every event;
# - bulk-import a large log.
#
# Run the cells from top to bottom. The prose before each cell says what to look for.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. An append-only log of streams
#
# An event store keeps one **log**. Events are only ever added at the end: never updated,
# never deleted. Each event belongs to one **stream**, the history of one aggregate (one
# user, one account), named by the aggregate's id.
#
# The store numbers every event twice when it commits it:
#
# - its **version**: 1, 2, 3, ... within its stream. Loading an aggregate reads its stream in
#   version order.
# - its **global position**: 1, 2, 3, ... over the whole store, whatever the stream. Readers
#   that follow everything (projections, notebook 03) read the log in this order.
#
# It also stamps the **commit timestamp**. The writer does not: the reference design stamped
# each event when it was converted, before the write, so the stored times could disagree with
# the order of commits (flaw 13).
#
# First, a store with an injected clock and id factory, so that every run records the same
# times and ids, and two small helpers: `new` wraps a domain event in a `NewEvent` (an event
# on its way into the store), `table` shows events as a pandas DataFrame (section 8 says more
# about `events_frame`).

# %%
from datetime import UTC, datetime, timedelta

from esteach import (
    ANY,
    NO_STREAM,
    EventMetadata,
    InMemoryEventStore,
    NewEvent,
    SeededIds,
    StepClock,
)
from esteach.analytics import events_frame
from esteach.domains.user import UserCreated, UserDeactivated, UserEmailChanged, UserNameChanged

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))


def new(event, id=None):
    """A domain event on its way into the store, as CommandProcessor would wrap it."""
    metadata = EventMetadata(schema_version=event.schema_version)  # its data shape (notebook 07)
    return NewEvent(event.event_type, event.to_data(), "User", metadata, id)


def table(events):
    """Events as a DataFrame: the columns this notebook looks at."""
    columns = ["global_position", "aggregate_id", "version", "event_type", "timestamp", "data"]
    return events_frame(events)[columns]


# %% [markdown]
# Look at what a `NewEvent` holds: a type, data, the aggregate type, metadata and an optional
# id. No version, no timestamp, no position: only the store can know those.

# %%
# NBVAL_CHECK_OUTPUT
import dataclasses

[field.name for field in dataclasses.fields(NewEvent)]

# %% [markdown]
# ## 2. Appending
#
# `append_events(stream, expected_version, events)` appends a batch to one stream. Create Ada
# with two events (expected version `0`: the stream must be new), then Grace (`NO_STREAM`
# means the same). Look at the table:
#
# - `version` starts again at 1 for Grace; `global_position` runs on across both streams;
# - Ada's two events share one timestamp: they were committed together, in one append;
# - Grace's timestamp is one clock step later: a second commit.

# %%
# NBVAL_CHECK_OUTPUT
store.append_events(
    "ada",
    0,
    [new(UserCreated("ada", "ada@example.com", "Ada")), new(UserNameChanged("Ada Lovelace"))],
)
store.append_events("grace", NO_STREAM, [new(UserCreated("grace", "grace@example.com", "Grace"))])
table(store.read_all())

# %% [markdown]
# ## 3. Expected versions: optimistic concurrency
#
# The expected version is the writer saying "I decided this after reading the stream at
# version N". The store appends only if the stream is still at N. There are four modes:
#
# | `expected_version` | the append succeeds when |
# | --- | --- |
# | an int `N` | the stream is at version `N` exactly |
# | `0` | the stream does not exist yet |
# | `NO_STREAM` | the same as `0`, said by name |
# | `ANY` | always (no check: use it only for events that do not depend on state) |
#
# Ada is at version 2, so an append expecting 2 succeeds and gets version 3. An append with
# `ANY` to Grace succeeds whatever her version is.

# %%
# NBVAL_CHECK_OUTPUT
[appended] = store.append_events("ada", 2, [new(UserEmailChanged("ada@lovelace.org"))])
print("ada:  ", appended.event_type, "version", appended.version)
[appended] = store.append_events("grace", ANY, [new(UserNameChanged("Grace Hopper"))])
print("grace:", appended.event_type, "version", appended.version)

# %% [markdown]
# Why would an expectation ever be wrong? Because two writers can read the same stream at the
# same time. Both read Ada at version 3 and decide something. The first to append wins; the
# second is refused, because its decision was made on a state that no longer exists.
#
# Look at the error: it names the stream, the expected and the actual version, and says what
# to do. Then look at the head position (the position of the last event in the store) before
# and after: the refused append wrote nothing.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import WrongExpectedVersion

seen_by_writer_1 = seen_by_writer_2 = store.stream_version("ada")  # both read version 3

store.append_events("ada", seen_by_writer_1, [new(UserNameChanged("Augusta Ada King"))])
head_before = store.head_position()
try:
    store.append_events("ada", seen_by_writer_2, [new(UserEmailChanged("ada@example.org"))])
except WrongExpectedVersion as error:
    print(f"{type(error).__name__}: {error}")
    print("stream:", error.aggregate_id, "| expected:", error.expected, "| actual:", error.actual)
print("head position before:", head_before, "after:", store.head_position())

# %% [markdown]
# This is **optimistic** concurrency: nobody locks the stream while deciding; a conflict is
# rare, detected at the append, and answered by reloading, deciding again and retrying
# (notebook 06). A `NO_STREAM` (or `0`) expectation on a stream that exists fails the same
# way: that is how "create user Grace" cannot run twice.

# %%
# NBVAL_CHECK_OUTPUT
try:
    store.append_events("grace", NO_STREAM, [new(UserCreated("grace", "g@example.com", "G"))])
except WrongExpectedVersion as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## 4. Appends are atomic
#
# A batch is all or nothing. First, bad data never even becomes a `NewEvent`: event data must
# be a JSON object, so a `datetime` inside it is refused at once, and the message says what to
# store instead.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidEventData

try:
    NewEvent("UserEmailChanged", {"new_email": "ada@lovelace.org", "at": datetime(2024, 1, 1)})
except InvalidEventData as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# The store checks the whole batch again before it writes anything. Here the third item is a
# domain event that someone forgot to wrap in a `NewEvent`. Look at the head position and
# Ada's version before and after: the two good events before it were not written either.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidInput

batch = [
    new(UserNameChanged("Ada King")),
    new(UserEmailChanged("ada@king.example")),
    UserDeactivated(),  # not wrapped: a mistake
]
before = store.head_position(), store.stream_version("ada")
try:
    store.append_events("ada", 4, batch)
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")
print(
    "head, ada's version before:",
    before,
    "after:",
    (store.head_position(), store.stream_version("ada")),
)

# %% [markdown]
# The reference design's `OptimizedEventStore` split a batch into chunks and wrote them one
# by one (flaw 10). Here is that idea imitated on a scratch store, chunks of two: the first
# chunk is written, the second fails, and the stream is left with half a batch, a state no
# command ever decided.


# %%
# NBVAL_CHECK_OUTPUT
def append_in_chunks(target, stream, expected, events, chunk=2):
    """The reference design's batching, imitated: NOT atomic."""
    for start in range(0, len(events), chunk):
        target.append_events(stream, expected + start, events[start : start + chunk])


scratch = InMemoryEventStore(clock=StepClock(), ids=SeededIds(9))
try:
    append_in_chunks(scratch, "ada", 0, [new(UserCreated("ada", "ada@example.com", "Ada")), *batch])
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")
print("events left behind:", [e.event_type for e in scratch.read_all()])

# %% [markdown]
# ## 5. Event ids and safe retries
#
# A writer may append, lose the reply (a timeout, a dropped connection) and not know whether
# the append happened. If it chooses the events' ids itself, it can simply send the same
# append again: the store recognises the ids, writes nothing new, and returns the events it
# already has. Look at the positions: the same both times, and the head does not move.

# %%
# NBVAL_CHECK_OUTPUT
retryable = [
    new(UserNameChanged("Ada King"), id="req-7-event-1"),
    new(UserEmailChanged("ada@king.example"), id="req-7-event-2"),
]
first = store.append_events("ada", 4, retryable)
head = store.head_position()
again = store.append_events("ada", 4, retryable)  # the retry, with the same ids
print("first: ", [(e.id, e.version, e.global_position) for e in first])
print("again: ", [(e.id, e.version, e.global_position) for e in again])
print("the same events:", again == first, "| head moved:", store.head_position() != head)

# %% [markdown]
# The rule is about the ids, not the expected version. A careful writer that lost the reply
# may read the stream first, see it at version 6 now, and send the same batch with `6`: the
# append already happened, and the store says so by returning the stored events again. This is
# the rule of EventStoreDB (now KurrentDB) and its family: same ids, same types, same data in
# the same stream, at consecutive versions, is a retry *whatever the expected version*.

# %%
# NBVAL_CHECK_OUTPUT
third = store.append_events("ada", 6, retryable)  # expected 6: where the first attempt left it
print("the same events again:", third == first, "| head moved:", store.head_position() != head)

# %% [markdown]
# An id is a promise: one id, one event. Reusing a stored id for *different* data is a
# mistake, not a retry, and the store says so.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import DuplicateEventId

try:
    store.append_events("ada", 6, [new(UserNameChanged("Someone else"), id="req-7-event-1")])
except DuplicateEventId as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## 6. Reading
#
# Four ways to read. All return events in order, and all bounds are **inclusive**.
#
# `get_events(stream, from_version)`: one stream, from a version on. Loading an aggregate
# reads from version 1 (or 0, the default: everything); after a snapshot at version 4 it
# reads from 5 (notebook 05). Look at the first version in the table: 4.

# %%
# NBVAL_CHECK_OUTPUT
table(store.get_events("ada", from_version=4))

# %% [markdown]
# `get_events_by_type(event_type, limit)`: every event of one type, over all streams, in
# global order; `limit` keeps the first few.

# %%
# NBVAL_CHECK_OUTPUT
table(store.get_events_by_type("UserNameChanged", limit=3))

# %% [markdown]
# `get_events_since(timestamp)`: everything committed at or after a time. Look at the first
# timestamp: 09:03, exactly the time asked for.

# %%
# NBVAL_CHECK_OUTPUT
table(store.get_events_since(datetime(2024, 1, 1, 9, 3, tzinfo=UTC)))

# %% [markdown]
# `read_all(from_position)`: the whole log in global order. A reader that has handled
# everything up to position `p` (its **checkpoint**) continues with `read_all(p + 1)`: here a
# reader that stopped at 6 gets exactly the events after it. That this skips nothing is a
# promise of *this* store: it hands out positions under one writer lock, so position 7 is
# never committed after position 8. Stores that draw positions from a sequence shared by
# concurrent transactions (a PostgreSQL `bigserial`, for instance) can commit 8 before 7, and
# a reader that moved past 8 skips 7 for good unless it reads only up to a "high-water mark"
# below which no transaction is still open.

# %%
# NBVAL_CHECK_OUTPUT
checkpoint = 6
table(store.read_all(from_position=checkpoint + 1))

# %% [markdown]
# Timestamps are for people ("what happened last Tuesday?"). Positions are for programs:
# several events can share a timestamp (one commit), but never a position.

# %% [markdown]
# ## 7. The same on DuckDB
#
# `DuckDBEventStore` keeps the log in a DuckDB table, in memory or in a file, and promises
# exactly what the in-memory store promises: the same contract tests run against both. To see
# it, run one script of appends (including a refused one and a retry) against each store,
# with the same clock and ids, and compare the logs.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import DuckDBEventStore


def script(target):
    """A few appends: two streams, an exact expected version, a conflict, a retry."""
    target.append_events("ada", 0, [new(UserCreated("ada", "ada@example.com", "Ada"))])
    target.append_events("grace", NO_STREAM, [new(UserCreated("grace", "grace@example.com", "G"))])
    target.append_events("ada", 1, [new(UserEmailChanged("ada@lovelace.org"), id="e-1")])
    target.append_events("ada", 1, [new(UserEmailChanged("ada@lovelace.org"), id="e-1")])  # retry
    try:
        target.append_events("grace", 0, [new(UserNameChanged("Grace Hopper"))])
    except WrongExpectedVersion as error:
        print(f"{type(target).__name__}: refused, expected {error.expected}, actual {error.actual}")
    return target


def fresh_clock():
    return StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))


memory = script(InMemoryEventStore(clock=fresh_clock(), ids=SeededIds(3)))
duck = script(DuckDBEventStore(":memory:", clock=fresh_clock(), ids=SeededIds(3)))
print("the same log:", duck.read_all() == memory.read_all())

# %% [markdown]
# Now a file. The file goes into a temporary directory, so nothing is left in your checkout
# and a rerun starts afresh. Write to it, close the store, open the file again: every event
# is still there, and the store carries on numbering where it stopped.

# %%
# NBVAL_CHECK_OUTPUT
import shutil
import tempfile
from pathlib import Path

folder = Path(tempfile.mkdtemp(prefix="esteach-02-"))
path = folder / "events.duckdb"

on_file = script(DuckDBEventStore(path, clock=clock, ids=SeededIds(4)))
saved = on_file.read_all()
on_file.close()

reopened = DuckDBEventStore(path, clock=clock, ids=SeededIds(5))
print("everything still there:", reopened.read_all() == saved)
print(
    "head position:", reopened.head_position(), "| ada's version:", reopened.stream_version("ada")
)
[appended] = reopened.append_events("ada", 2, [new(UserNameChanged("Ada Lovelace"))])
print("next append: version", appended.version, "at position", appended.global_position)

# %% [markdown]
# The log is an ordinary SQL table named `events`, and `store.sql(...)` runs a query over it.
# One row per stream:

# %%
# NBVAL_CHECK_OUTPUT
reopened.sql(
    """
    SELECT aggregate_id, count(*) AS events, max(version) AS version
    FROM events
    GROUP BY aggregate_id
    ORDER BY aggregate_id
    """
).df()

# %% [markdown]
# `data` is a JSON column; DuckDB's `->>` operator reads one field of it as text. Every email
# each user has had, from both kinds of event:

# %%
# NBVAL_CHECK_OUTPUT
reopened.sql(
    """
    SELECT aggregate_id, version, event_type,
           coalesce(data->>'email', data->>'new_email') AS email
    FROM events
    WHERE event_type IN ('UserCreated', 'UserEmailChanged')
    ORDER BY global_position
    """
).df()

# %% [markdown]
# The table's columns, as DuckDB describes them:

# %%
# NBVAL_CHECK_OUTPUT
reopened.sql("DESCRIBE events").df()[["column_name", "column_type", "null"]]

# %% [markdown]
# Close the store and delete the temporary folder when you are done with a file.

# %%
reopened.close()
shutil.rmtree(folder)

# %% [markdown]
# ## 8. The log as a DataFrame
#
# `esteach.analytics.events_frame` turns any store's log (or a list of events) into a pandas
# DataFrame, one row per event in global order, metadata included. It is what `table` used
# above. Questions about the past become one-liners, for instance how many events of each
# type the first store holds:

# %%
# NBVAL_CHECK_OUTPUT
log = events_frame(store)
log.groupby("event_type").size()

# %% [markdown]
# ## 9. The write path: `CommandProcessor`
#
# Everything so far appended by hand. A `CommandProcessor` does the whole write path for one
# aggregate class, the same three steps as notebook 01's helper, plus what a real system
# needs. Read its core: load the aggregate (its `version` is what was read), decide, save,
# and on a conflict reload and decide again, a bounded number of times.

# %%
import inspect

from esteach import CommandProcessor, Repository

print(inspect.getsource(CommandProcessor._decide_and_save))

# %% [markdown]
# Saving is the repository's job, the one place a decision is written: wrap the events with
# metadata, append with `expected_version = aggregate.version`, and only then apply them, take
# a snapshot when one is due and cache the aggregate (notebook 05). On a conflict it drops its
# cached copy, so the retry reads the stream again.

# %%
print(inspect.getsource(Repository.save))

# %% [markdown]
# The metadata answers "who asked, and why?", which the reference design left empty on every
# event (flaw 12):
#
# - `user_id`: who sent the command (here Alice, an administrator);
# - `correlation_id`: shared by everything one request caused (here request `req-42`);
# - `causation_id`: the message that directly caused this one (by default the command's id);
# - `source`: which part of the system wrote it.
#
# Alice creates Lin and changes Lin's email in one request. The result says what was appended
# and where the stream is now.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import ChangeEmail, CreateUser, User

app_store = InMemoryEventStore(clock=fresh_clock(), ids=SeededIds(10))
users = CommandProcessor(app_store, User, ids=SeededIds(11))

result = users.process_command(
    CreateUser("lin", "lin@example.com", "Lin"), user_id="alice", correlation_id="req-42"
)
print("version", result.version, "| position", result.position, "| attempts", result.attempts)
result = users.process_command(
    ChangeEmail("lin", "lin@example.org"), user_id="alice", correlation_id="req-42"
)
print("version", result.version, "| position", result.position, "| attempts", result.attempts)

# %% [markdown]
# A command with no ids given still gets a correlation and a causation id: the command's own
# id. A rejected command raises and appends nothing; a command that changes nothing appends
# nothing and says so (`events` is empty).

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import DeactivateUser, UserNotFound

same = users.process_command(ChangeEmail("lin", "lin@example.org"), user_id="alice")
print("no-op appended:", same.events, "| version still", same.version)
try:
    users.process_command(DeactivateUser("nobody"), user_id="alice")
except UserNotFound as error:
    print(f"{type(error).__name__}: {error}")
users.process_command(DeactivateUser("lin"))  # no ids given
print("head position:", app_store.head_position())

# %% [markdown]
# Every event carries its metadata. Look at the first two rows: the same user and the same
# correlation id (one request), and different causation ids (two commands). The third row,
# sent without ids, uses its command's id for both.

# %%
# NBVAL_CHECK_OUTPUT
events_frame(app_store)[
    ["version", "event_type", "user_id", "correlation_id", "causation_id", "source"]
]

# %% [markdown]
# ## 10. Optional: bulk import
#
# Appending one command at a time is how a live system writes. To load a ready-made log (a
# sample data set, a copy of another store) `bulk_import` takes recorded events and inserts
# them all in one transaction, keeping their ids, versions and timestamps and giving them
# new global positions after the store's head.
#
# Make a sample log: `n_users` users, each created and given a new email, every tenth one
# deactivated. The size follows the notebook size knob: small in tests, larger for you.

# %%
from esteach import Event
from esteach.notebook import size

n_users = size(small=500, full=50_000)


def sample_log(n_users, seed=42):
    """Recorded User events: created, email changed, every tenth deactivated."""
    ids = SeededIds(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    recorded = []
    for i in range(n_users):
        user_id = f"user-{i:06d}"
        history = [
            UserCreated(user_id, f"{user_id}@example.com", f"User {i}"),
            UserEmailChanged(f"{user_id}@example.org"),
        ]
        if i % 10 == 0:
            history.append(UserDeactivated())
        for version, event in enumerate(history, start=1):
            recorded.append(
                Event(
                    id=ids(),
                    aggregate_id=user_id,
                    aggregate_type="User",
                    event_type=event.event_type,
                    version=version,
                    timestamp=start + timedelta(seconds=len(recorded)),
                    data=event.to_data(),
                    metadata=EventMetadata(source="sample", schema_version=event.schema_version),
                )
            )
    return recorded


sample = sample_log(n_users)

# %% [markdown]
# Import it into a fresh DuckDB store and, for comparison, append the first 200 events one
# at a time into another. The rates depend on your machine; the gap between them is the point.
# (The copy of this notebook in the repository was built at test size and shows no timings:
# they would differ on every run. Run the cell to see yours.)

# %%
import time

bulk_store = DuckDBEventStore(":memory:", clock=fresh_clock(), ids=SeededIds(12))
started = time.perf_counter()
imported = bulk_store.bulk_import(sample)
bulk_seconds = time.perf_counter() - started

one_by_one = DuckDBEventStore(":memory:", clock=fresh_clock(), ids=SeededIds(13))
started = time.perf_counter()
for event in sample[:200]:
    one_by_one.append_events(
        event.aggregate_id,
        event.version - 1,
        [NewEvent(event.event_type, event.data, event.aggregate_type, event.metadata, event.id)],
    )
single_seconds = time.perf_counter() - started

rates = {"bulk_import": (imported, bulk_seconds), "append_events": (200, single_seconds)}
if size(small=True, full=False):  # how the stored copy was built: timings would differ each run
    print("Built at test size, without timings: run this cell to measure your machine.")
else:
    for name, (count, seconds) in rates.items():
        print(
            f"{name:<14} {count:>7,} events in {seconds:5.2f} s = {count / seconds:>9,.0f} events/s"
        )

# %% [markdown]
# Whatever the size, the imported log must be complete and consistent. The checks below read
# it back through the store and through SQL; each should print `True`.

# %%
# NBVAL_CHECK_OUTPUT
[(streams, deactivated)] = bulk_store.sql(
    """
    SELECT count(DISTINCT aggregate_id),
           count(*) FILTER (event_type = 'UserDeactivated')
    FROM events
    """
).fetchall()
first_user = bulk_store.get_events("user-000000")
checks = {
    "every event imported": imported == len(sample) == bulk_store.head_position(),
    "positions 1, 2, 3, ... in order": [e.global_position for e in first_user] == [1, 2, 3],
    "ids, versions and timestamps kept": [(e.id, e.version, e.timestamp) for e in first_user]
    == [(e.id, e.version, e.timestamp) for e in sample[:3]],
    "one stream per user": streams == n_users,
    "a tenth of the users deactivated": deactivated * 10 == n_users,
    "a user loads from it": User.load_from_events(first_user).status == "deactivated",
}
for name, ok in checks.items():
    print(f"{name:<36} {ok}")

# %% [markdown]
# ## Recap
#
# - The event store is an append-only log of streams. The store assigns each event its
#   **version** (per stream, from 1), its **global position** (over the store, from 1) and its
#   commit **timestamp** (flaw 13: never the writer's clock).
# - `append_events(stream, expected_version, events)` checks the expected version: an exact
#   `N`, `0` or `NO_STREAM` for a new stream, or `ANY`. A mismatch raises
#   `WrongExpectedVersion` naming the stream, the expected and the actual version, and writes
#   nothing: that is **optimistic concurrency**.
# - An append is **atomic**: a batch with one bad event writes nothing (flaw 10: chunked
#   writes left half batches).
# - Caller-chosen **event ids** make a retry safe: the same batch again is recognised and
#   returns the stored events; a reused id with other data raises `DuplicateEventId`.
# - Reads are inclusive: `get_events(stream, from_version)`, `get_events_by_type`,
#   `get_events_since(timestamp)`, and `read_all(from_position)` in global order.
# - `DuckDBEventStore` keeps the same promises, in memory or on a file, and adds SQL over the
#   `events` table; `events_frame` turns any log into a DataFrame.
# - `CommandProcessor` loads, decides and appends with the expected version, and records who
#   asked and why (flaw 12); `bulk_import` loads a whole log in one transaction.
#
# ## Quiz
#
# 1. Two writers both load account `acc-1` at version 7 and each append one event with
#    expected version 7. What does the log hold afterwards, and what does the second writer
#    see?
#
# <details><summary>Answer</summary>
#
# The first append succeeds and becomes version 8. The second raises `WrongExpectedVersion`
# (expected 7, actual 8) and writes nothing. Its command processor reloads the account at
# version 8, decides again (the rule may now reject the command) and retries.
#
# </details>
#
# 2. A projection has handled every event up to global position 120. Which call gives it
#    exactly the events it has not seen, and why not `get_events_since` with the timestamp of
#    event 120?
#
# <details><summary>Answer</summary>
#
# `read_all(121)`: positions are inclusive and unique, and this store commits them in order,
# so nothing is skipped or repeated.
# Timestamps are not unique (all events of one append share one), so reading from event
# 120's timestamp would repeat events, and reading after it could skip events committed in
# the same instant.
#
# </details>
#
# 3. A client appends a batch with ids it chose, times out, and appends the same batch again.
#    What happens if the first append had succeeded? And if it had not?
#
# <details><summary>Answer</summary>
#
# If it had succeeded, the store recognises the ids, writes nothing and returns the stored
# events. If it had not, the second append is an ordinary append and writes them. Either way
# the batch is in the log exactly once.
#
# </details>
#
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells*; every cell should run
# without an error.
#
# **Exercises for this lesson:** [02_exercises_the_event_store_learner](exercises/02_exercises_the_event_store_learner.ipynb).
#
# Next: [03 · Replay and projections](03_replay_and_projections.ipynb).
