# %% [markdown]
# # 06 · Concurrency
#
# **Time box:** 45 minutes · **You will:**
#
# - watch two writers load the same user, both decide, and see the second one refused with
#   `WrongExpectedVersion`;
# - explain why this is **optimistic concurrency**: nobody holds a lock while deciding, and the
#   store's check of the **expected version** is the guard;
# - use the command processor's bounded retry, and see that a retry *decides again*;
# - race 8 threads on one stream and check that no event was lost, doubled or misnumbered;
# - see what a per-aggregate lock buys inside one process, and why it cannot replace the
#   store's check;
# - know DuckDB's rule: one process at a time writes a database file.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Theory: the gap between load and append
#
# A command is handled in three steps: **load** the aggregate from its stream, let it
# **decide** (`handle_command`), **append** the decided events. Between the load and the
# append, time passes. If another writer appended to the same stream in that gap, the decision
# was made on old state: maybe the email it checked has changed, maybe the user was
# deactivated, maybe the money it counted was spent.
#
# There are two ways to deal with the gap:
#
# - **pessimistic**: lock the stream before loading and hold the lock until the append is done.
#   Nobody else can write meanwhile, but everybody else waits, and the lock must be shared by
#   every writer (every thread, every process, every machine).
# - **optimistic**: hold no lock. Load, decide, and append *on a condition*: "only if the
#   stream is still at the version I read". That condition is the **expected version**. If it
#   fails, nothing is written; the writer reloads and decides again.
#
# An event store makes the optimistic way cheap: a stream's version is a single number, and
# `append_events(aggregate_id, expected_version, events)` compares it in the same atomic step
# that writes. The reference design had this check too; esteach keeps it and makes the
# refusal say what happened.

# %%
from datetime import UTC, datetime, timedelta

from esteach import (
    CommandProcessor,
    ConcurrencyConflict,
    InMemoryEventStore,
    NewEvent,
    SeededIds,
    StepClock,
    WrongExpectedVersion,
)
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))

# %% [markdown]
# ## 2. Two writers, step by step
#
# No `CommandProcessor` here: we do by hand what it does, so every step is visible. First a
# store with one user, Ada, at version 1.

# %%
# NBVAL_CHECK_OUTPUT
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
setup = CommandProcessor(store, User, ids=SeededIds(1))
setup.process_command(CreateUser("ada", "ada@example.com", "Ada"))
print("ada is at version", store.stream_version("ada"))

# %% [markdown]
# Two writers, A and B, each **load** Ada from her events. Look at the versions they read:
# both saw version 1.

# %%
# NBVAL_CHECK_OUTPUT
user_a = User.load_from_events(store.get_events("ada"))
user_b = User.load_from_events(store.get_events("ada"))
version_read_a, version_read_b = user_a.version, user_b.version
print("A read version", version_read_a, "| B read version", version_read_b)

# %% [markdown]
# Both **decide**. A wants a new email, B a new name. Each decision is valid for the state each
# writer saw. Deciding touches no store and takes no lock.

# %%
# NBVAL_CHECK_OUTPUT
decided_a = user_a.handle_command(ChangeEmail("ada", "ada@lovelace.org"))
decided_b = user_b.handle_command(ChangeName("ada", "Ada King"))
print("A decided", decided_a)
print("B decided", decided_b)

# %% [markdown]
# To append, a domain event goes into an envelope, a `NewEvent` (the processor does this for
# you). A appends first, expecting version 1: the stream is at 1, so the store writes the event
# as version 2.


# %%
# NBVAL_CHECK_OUTPUT
def envelopes(aggregate, domain_events):
    """Wrap domain events in NewEvent envelopes, as CommandProcessor does."""
    return [
        NewEvent(e.event_type, e.to_data(), aggregate_type=aggregate.aggregate_type)
        for e in domain_events
    ]


recorded = store.append_events("ada", version_read_a, envelopes(user_a, decided_a))
print("A appended:", [(e.event_type, e.version) for e in recorded])

# %% [markdown]
# Now B appends, also expecting version 1. The stream is at version 2, so the store refuses.
# Read the message: it names the stream, the expected and the actual version, and says what to
# do.

# %%
# NBVAL_CHECK_OUTPUT
try:
    store.append_events("ada", version_read_b, envelopes(user_b, decided_b))
except WrongExpectedVersion as error:
    print(f"{type(error).__name__}: {error}")
print("events in ada's stream:", [(e.event_type, e.version) for e in store.get_events("ada")])

# %% [markdown]
# B's name change is not lost for good: B can reload (now at version 2, with the new email),
# decide again, and append expecting version 2. That is all a retry is.

# %%
# NBVAL_CHECK_OUTPUT
user_b = User.load_from_events(store.get_events("ada"))
decided_b = user_b.handle_command(ChangeName("ada", "Ada King"))
store.append_events("ada", user_b.version, envelopes(user_b, decided_b))
User.load_from_events(store.get_events("ada"))

# %% [markdown]
# ## 3. What the check prevents: a lost update
#
# Why not just append without the check? Because then a decision made on old state goes
# through. A bank account makes it plain: it holds 100.00 (10,000 cents) and has no overdraft.
# Two withdrawals of 70.00 each are valid on their own, and both writers read the balance
# before either wrote. `ANY` switches the check off.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import ANY
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount, WithdrawMoney

bank = InMemoryEventStore(clock=clock, ids=SeededIds(2))
tellers = CommandProcessor(bank, BankAccount, ids=SeededIds(3))
tellers.process_command(OpenAccount("acc-1", "Ada", overdraft_limit=0))
tellers.process_command(DepositMoney("acc-1", 10_000))

first = BankAccount.load_from_events(bank.get_events("acc-1"))
second = BankAccount.load_from_events(bank.get_events("acc-1"))
for teller in (first, second):
    decided = teller.handle_command(WithdrawMoney("acc-1", 7_000))  # each sees 10,000: fine
    bank.append_events("acc-1", ANY, envelopes(teller, decided))  # no check: both land

print("balance in cents:", BankAccount.load_from_events(bank.get_events("acc-1")).balance)

# %% [markdown]
# The account is overdrawn although its rules forbid it: each rule was checked, but against a
# state that no longer held. With the expected version, the second append would have been
# refused, and deciding again on the new balance would have raised `InsufficientFunds`.
#
# This is **optimistic concurrency**: optimistic because it bets that conflicts are rare and
# pays only when one happens (a reload and a second decision), instead of making every writer
# wait for a lock every time.

# %% [markdown]
# ## 4. The processor's bounded retry
#
# `CommandProcessor` runs load, decide, save in a loop: on `WrongExpectedVersion` it reloads
# and decides again, at most `max_retries` more times. Here is the real loop (look for
# `attempts`, `WrongExpectedVersion` and `ConcurrencyConflict`):

# %%
import inspect

print(inspect.getsource(CommandProcessor._decide_and_save))


# %% [markdown]
# A conflict needs another writer to append at just the wrong moment. Threads make that moment
# random; to see it every time, we make it happen on purpose. `SomeoneElseFirst` wraps a store
# and, just before the next append (or the next few), lets "someone else" write first. Every
# other method goes straight through to the real store.


# %%
class SomeoneElseFirst:
    """An event store wrapper: `meanwhile()` runs just before each of the next `times` appends."""

    def __init__(self, store, meanwhile, times=1):
        self.store, self.meanwhile, self.times = store, meanwhile, times

    def append_events(self, aggregate_id, expected_version, events):
        if self.times > 0:
            self.times -= 1
            self.meanwhile()  # someone else appends to the real store, right now
        return self.store.append_events(aggregate_id, expected_version, events)

    def __getattr__(self, name):  # get_events, stream_version, ...: the real store's
        return getattr(self.store, name)


# %% [markdown]
# Ada again, fresh. A `rival` processor writes to the real store; `ours` writes through the
# wrapper, so the rival renames Ada just before our first append. Look at `attempts`: the
# first append was refused, the second (after a reload) went through, and the stream holds
# both changes.

# %%
# NBVAL_CHECK_OUTPUT
store = InMemoryEventStore(clock=clock, ids=SeededIds(4))
CommandProcessor(store, User, ids=SeededIds(5)).process_command(
    CreateUser("ada", "ada@example.com", "Ada")
)
rival = CommandProcessor(store, User, ids=SeededIds(6))

racy = SomeoneElseFirst(store, lambda: rival.process_command(ChangeName("ada", "Ada King")))
ours = CommandProcessor(racy, User, ids=SeededIds(7), max_retries=3)
result = ours.process_command(ChangeEmail("ada", "ada@lovelace.org"))

print("attempts:", result.attempts, "| version now:", result.version)
print("stream:", [(e.event_type, e.version) for e in store.get_events("ada")])

# %% [markdown]
# A retry is not a resend. The second attempt **decides again** on the new state, and the new
# decision may differ. Here the rival deactivates Ada just before our append: the reload sees
# a deactivated user, and the renewed decision is a refusal.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import DomainError

racy = SomeoneElseFirst(store, lambda: rival.process_command(DeactivateUser("ada")))
ours = CommandProcessor(racy, User, ids=SeededIds(8))
try:
    ours.process_command(ChangeName("ada", "Countess of Lovelace"))
except DomainError as error:
    print(f"{type(error).__name__}: {error}")
print("stream:", [(e.event_type, e.version) for e in store.get_events("ada")])

# %% [markdown]
# Retries are **bounded**. If someone else keeps winning, the processor gives up after
# `1 + max_retries` attempts with `ConcurrencyConflict` (a kind of `WrongExpectedVersion`), and
# writes nothing. Here the rival renames Bob before every one of our appends, and we allow 2
# retries.

# %%
# NBVAL_CHECK_OUTPUT
CommandProcessor(store, User, ids=SeededIds(9)).process_command(
    CreateUser("bob", "bob@example.com", "Bob")
)
renames = iter(f"Bob {n}" for n in range(1, 100))
racy = SomeoneElseFirst(
    store, lambda: rival.process_command(ChangeName("bob", next(renames))), times=10
)
ours = CommandProcessor(racy, User, ids=SeededIds(10), max_retries=2)
try:
    ours.process_command(ChangeEmail("bob", "bob@builder.org"))
except ConcurrencyConflict as error:
    print(f"{type(error).__name__}: {error}")
    print("attempts:", error.attempts)
print("bob's email is still", User.load_from_events(store.get_events("bob")).email)

# %% [markdown]
# What should a caller do with `ConcurrencyConflict`? It means the stream is very busy: try
# again a little later, or tell the user. It never means "half written".

# %% [markdown]
# ## 5. A real race: 8 threads, one stream
#
# Now the race is real. 8 threads share one processor and one in-memory store, and each sends
# its own series of `ChangeName` commands to the same user, so every command decides exactly
# one event. Which thread wins each append is up to the scheduler, so the number of retries
# differs from run to run. What must *not* differ are the invariants:
#
# - the stream's versions are 1, 2, ..., N with no gap and no repeat;
# - every command landed exactly once (no lost update, no double write);
# - no command gave up.
#
# Two details: the processor gets an `AggregateCache`, so a reload reads only the events it
# has not seen (notebook 05), and `sys.setswitchinterval` makes Python switch threads more
# often while the race runs, so conflicts show up even in a short run.

# %%
import sys
import threading

from esteach import AggregateCache, EsteachError
from esteach.notebook import size

THREADS = 8
PER_THREAD = size(small=20, full=200)


def race(processor, user_id):
    """Run THREADS threads of PER_THREAD ChangeName commands each on one stream."""
    results, failures = [], []

    def writer(thread):
        for i in range(PER_THREAD):
            try:
                command = ChangeName(user_id, f"name {thread}-{i}")
                results.append(processor.process_command(command))
            except EsteachError as error:
                failures.append(error)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    return results, failures


def check_stream(store, user_id, failures):
    """Print the invariants of a race; True, True, True, True is the only right answer."""
    events = store.get_events(user_id)
    names = [e.data["new_name"] for e in events if e.event_type == "UserNameChanged"]
    wanted = {f"name {t}-{i}" for t in range(THREADS) for i in range(PER_THREAD)}
    positions = [e.global_position for e in store.read_all()]
    checks = {
        "versions are 1..N without gaps": [e.version for e in events]
        == list(range(1, len(events) + 1)),
        "every command landed exactly once": len(names) == len(wanted) and set(names) == wanted,
        "global positions are 1..N": positions == list(range(1, len(positions) + 1)),
        "no command gave up": not failures,
    }
    for name, ok in checks.items():
        print(f"{name:<36} {ok}")


# %% [markdown]
# The race without locks. Look for four `True`s.

# %%
# NBVAL_CHECK_OUTPUT
store = InMemoryEventStore(clock=clock, ids=SeededIds(11))
processor = CommandProcessor(
    store, User, ids=SeededIds(12), max_retries=100, cache=AggregateCache()
)
processor.process_command(CreateUser("ada", "ada@example.com", "Ada"))
results, failures = race(processor, "ada")
check_stream(store, "ada", failures)

# %% [markdown]
# How many commands needed a second (or tenth) attempt? That is the part that changes from
# run to run. When you run the notebook (`live`, as in notebook 05) the next cell prints your
# run's tally: how many commands took 1 attempt, how many 2, and so on. The stored copy,
# built at test size, prints nothing there, because its bytes must be the same on every
# build. The `max_retries=100` above is generous on purpose: with 8 writers hammering one
# stream, the default of 3 can run out.

# %%
from collections import Counter

live = size(small=False, full=True)  # print run-dependent numbers (not in the stored copy)
tally = Counter(r.attempts for r in results)  # {attempts: number of commands}
if live:
    for attempts, commands in sorted(tally.items()):
        print(f"{commands:>5} commands took {attempts} attempt{'s' if attempts > 1 else ''}")
    retried = sum(commands for attempts, commands in tally.items() if attempts > 1)
    print(f"{retried} of {len(results)} commands were retried at least once")

# %% [markdown]
# ## 6. One lock per aggregate
#
# The reference design's `ConcurrentEventProcessor` took a lock per aggregate id before
# loading, so two commands for the same user never overlapped. esteach offers the same as an
# option: `lock_per_aggregate=True`. Within one process it saves wasted work: nobody decides on
# a state that is about to change, so every command succeeds at its first attempt. Look at the
# last two lines: no retries at all, and no locks left behind.

# %%
# NBVAL_CHECK_OUTPUT
store = InMemoryEventStore(clock=clock, ids=SeededIds(13))
locked = CommandProcessor(
    store, User, ids=SeededIds(14), cache=AggregateCache(), lock_per_aggregate=True
)
locked.process_command(CreateUser("ada", "ada@example.com", "Ada"))
results, failures = race(locked, "ada")
check_stream(store, "ada", failures)
print(f"{'every command succeeded at attempt 1':<36} {all(r.attempts == 1 for r in results)}")
print(f"{'locks left in the lock map':<36} {len(locked.locks)}")

# %% [markdown]
# That last line matters. The reference design's lock map raced while creating locks (two
# tasks could each insert a lock for the same id and both go ahead) and never removed a lock,
# so it grew with every aggregate ever touched (flaw 11; notebook 08 replays that race step
# by step). esteach's `AggregateLocks` guards the map with one mutex and counts who holds or
# waits for each lock; the last one out removes the entry:

# %%
from esteach import AggregateLocks

print(inspect.getsource(AggregateLocks.hold))

# %% [markdown]
# ## 7. Why an in-process lock is not enough
#
# A lock lives in one process's memory. Two processes (two web workers, two notebook kernels)
# each have their own lock map, and neither sees the other's locks. We model that with two
# processors, each with `lock_per_aggregate=True` and so each with its own map, on one store.
# Processor `two` writes while processor `one` holds its lock for Ada, just before one's
# append. Look at what `one` saw, and at the stream afterwards.

# %%
# NBVAL_CHECK_OUTPUT
store = InMemoryEventStore(clock=clock, ids=SeededIds(15))
CommandProcessor(store, User, ids=SeededIds(16)).process_command(
    CreateUser("ada", "ada@example.com", "Ada")
)
two = CommandProcessor(store, User, ids=SeededIds(17), lock_per_aggregate=True)


def two_writes():
    print("one holds a lock for ada:  ", len(one.locks) == 1)
    two.process_command(ChangeName("ada", "Ada King"))  # two's own lock map: no waiting
    print("two wrote meanwhile:       ", store.stream_version("ada") == 2)


one = CommandProcessor(
    SomeoneElseFirst(store, two_writes), User, ids=SeededIds(18), lock_per_aggregate=True
)
result = one.process_command(ChangeEmail("ada", "ada@lovelace.org"))
print("one needed attempts:       ", result.attempts)
print("stream:", [(e.event_type, e.version) for e in store.get_events("ada")])

# %% [markdown]
# Both locks were held, and both writers still overlapped. Nothing was lost because the
# store's expected-version check refused one's first append, and one decided again. The lock
# only spares retries among threads that share it; the expected version protects the data,
# whoever the writers are. (With `max_retries=0`, one would have raised `ConcurrencyConflict`
# and written nothing: still no lost update.)

# %% [markdown]
# ## 8. DuckDB: one writing process per file
#
# A DuckDB database file can be opened for writing by **one process at a time**. A second
# process that tries gets an error at once: DuckDB locks the file. `DuckDBEventStore` turns that
# into `FileInUse` (a kind of `EventStoreError`) that says what to do: close the other process
# (often another notebook kernel still running). While one process writes the file, DuckDB refuses every
# other process, even one that only wants to read (`read_only=True`); several processes may
# read a file together when none writes it.
#
# So with DuckDB, the "two processes" of section 7 cannot even write the same file; several
# writers mean several threads in one process, and the expected-version check orders them. The
# next cell opens a store on a file in a temporary folder, then starts a second Python process
# that tries to open the same file. It prints only whether the second process was refused, and
# the error's type (the full message names this machine's paths and process ids).

# %%
# NBVAL_CHECK_OUTPUT
import subprocess
import tempfile
from pathlib import Path

from esteach import DuckDBEventStore

path = Path(tempfile.mkdtemp()) / "events.duckdb"
first_store = DuckDBEventStore(path, clock=clock, ids=SeededIds(19))

second_process = """
import sys
from esteach import DuckDBEventStore, EventStoreError
try:
    DuckDBEventStore(sys.argv[1])
except EventStoreError as error:
    print("refused:", type(error).__name__)
    print("the message explains the one-writer rule:", "Another process writes this file" in str(error))
else:
    print("opened the file too")
"""
answer = subprocess.run(
    [sys.executable, "-c", second_process, str(path)], capture_output=True, text=True, timeout=120
)
print(answer.stdout.strip())

# %% [markdown]
# Inside one process, several store objects on the same file are fine, and they behave as one
# store: they share the file's head, so global positions stay contiguous whichever object
# appends, and the expected-version check sees every object's writes. Look at the positions
# (1, 2, 3, 4) and the versions, written alternately through two objects.

# %%
# NBVAL_CHECK_OUTPUT
second_store = DuckDBEventStore(path, clock=clock, ids=SeededIds(20))
via_first = CommandProcessor(first_store, User, ids=SeededIds(21))
via_second = CommandProcessor(second_store, User, ids=SeededIds(22))

via_first.process_command(CreateUser("ada", "ada@example.com", "Ada"))
via_second.process_command(CreateUser("grace", "grace@example.com", "Grace"))
via_first.process_command(ChangeName("grace", "Grace Hopper"))
via_second.process_command(ChangeName("ada", "Ada Lovelace"))

for e in first_store.read_all():
    print(f"position {e.global_position}: {e.aggregate_id:<6} version {e.version} {e.event_type}")

try:  # a stale expected version through the other object is still refused
    second_store.append_events("grace", 1, [NewEvent("UserDeactivated", {})])
except WrongExpectedVersion as error:
    print(f"{type(error).__name__}: expected {error.expected}, actual {error.actual}")

# %% [markdown]
# Close both store objects and remove the temporary folder, so the notebook can run again from
# the top.

# %%
import shutil

second_store.close()
first_store.close()
shutil.rmtree(path.parent)

# %% [markdown]
# ## Recap
#
# - Between load and append there is a gap; another writer may append in it.
# - **Optimistic concurrency**: decide without locks, append with an **expected version**; the
#   store refuses (`WrongExpectedVersion`) and writes nothing if the stream moved.
# - Without the check, decisions made on old state go through: a lost update, a broken rule.
# - `CommandProcessor` retries by reloading and **deciding again**, at most `max_retries` times,
#   then raises `ConcurrencyConflict`. `CommandResult.attempts` says how many tries it took.
# - Under a real race the invariants hold: versions 1..N without gaps, every command exactly
#   once. The number of retries is up to the scheduler.
# - `lock_per_aggregate=True` removes retries among threads of one process and frees its locks;
#   it cannot see other processes. The store's check is what protects the data.
# - DuckDB lets one process write a file; store objects in that process share positions.

# %% [markdown]
# ## Quiz
#
# 1. Writer A read a stream at version 4 and decided two events. Meanwhile writer B appended one
#    event. What does A's `append_events(id, 4, ...)` do, and what should A do next?
#
# <details><summary>Answer</summary>
#
# It raises `WrongExpectedVersion` (expected 4, actual 5) and writes nothing, neither of the two
# events. A reloads (now at version 5), decides again on the new state (the decision may differ,
# or be a refusal) and appends expecting 5. `CommandProcessor` does exactly this for you.
#
# </details>
#
# 2. Your service runs as four processes behind a load balancer, each with a
#    `CommandProcessor(..., lock_per_aggregate=True)` on one shared event store. Can two of
#    them overwrite each other's decisions for the same user?
#
# <details><summary>Answer</summary>
#
# Not silently. Each process has its own lock map, so two processes may well decide for the
# same user at the same time; the locks do not stop that. But both append with an expected
# version, so the store accepts only the first, and the other gets `WrongExpectedVersion` and
# decides again. The locks only save retries among threads inside one process.
#
# </details>
#
# 3. A user's email change and a deactivation arrive at the same moment for the same user, from
#    two threads. Both load version 7. The deactivation appends first. What happens to the
#    email change, and could it end up recorded *after* the deactivation?
#
# <details><summary>Answer</summary>
#
# Its append expects version 7 and the stream is at 8, so the store refuses it with
# `WrongExpectedVersion` and writes nothing. The processor retries: it reloads the user at
# version 8, now deactivated, and decides again, and `User` refuses to change the email of a
# deactivated user (`UserNotActive`). So no: the retry decides on the new state, and the rule
# holds. Had the retry merely resent the old event, the email change would have been recorded
# after the deactivation, breaking the rule the aggregate exists to keep.
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors, and every checked line above says `True`.
#
# **Exercises for this lesson:** [06_exercises_concurrency_learner](exercises/06_exercises_concurrency_learner.ipynb).
#
# Next: [07 · Event versioning](07_event_versioning.ipynb).
