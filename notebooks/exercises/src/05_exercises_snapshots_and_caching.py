# %% [markdown]
# # 05 · Exercises: snapshots and caching
#
# **Time box:** 25 minutes (10 + 15) · **You will:**
#
# - pick a snapshot interval from a limit on the events a load may read, and measure what it
#   saves against a full replay;
# - fix a cache that goes stale, so that it follows other writers and reads only what is new.
#
# These exercises follow notebook **05 · Snapshots and caching**. Write your code where the
# `____` is and run the check below it: it answers **not attempted**, **not yet** (and why),
# or **correct**. Under each check, uncomment `ex1.hint()` for a hint (run it again for the
# next), `ex1.solution()` for a reference solution, or `ex1.catch_up()` to load it and go on.
# The learner and the solved copy of this notebook come from one source.

# %% [markdown]
# ## Setup

# %%
# NBVAL_CHECK_OUTPUT
import copy
import inspect

from esteach import CommandProcessor, InMemorySnapshotStore, Repository, SeededIds
from esteach.domains.account import BankAccount, DepositMoney
from esteach.exercises import ____, fresh_store, progress  # ____ is where your code goes
from esteach.exercises.snapshots_and_caching import (
    STREAM_LENGTH,
    Profile,
    StaleCache,
    bank,
    ex1,
    ex2,
    write_stream,
)

print(ex1, ex2, sep="\n")

# %% [markdown]
# ## Exercise 5.1 · Pick a snapshot interval, and show what it saves
#
# **Scenario.** Ada's stream will grow to 500 events (`STREAM_LENGTH`): she signs up, then
# her names come over from an old system in imports of 1 to 9 names, one `ImportNames`
# command per import and one event per name (`Profile` is a `User` that takes that command).
# Loading her must stay fast however long the stream gets. The processor that writes takes a
# snapshot when at least `interval` events were appended since the last one (notebook 05,
# section 3): after a command, never in the middle of one.
#
# **Rules.**
#
# 1. No load may read more than 40 events after its snapshot (`MAX_EVENTS_PER_LOAD`).
# 2. Every snapshot is a write: take as few as rule 1 allows, so pick the largest interval
#    that keeps it.
# 3. Show what it saves: `events_read(interval)` writes the 500-event stream with
#    `write_stream(writer, "ada", STREAM_LENGTH)` through a writer that takes snapshots every
#    `interval` events, loads Ada, and returns how many events that load read: measured, not
#    worked out (commands of several events make any formula wrong).

# %%
# BEGIN SOLUTION: INTERVAL
INTERVAL = ____  # a whole number of events
# END SOLUTION


# %%
def events_read(interval):
    # BEGIN SOLUTION: events_read
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    ____  # your code here
    # END SOLUTION


# %% [markdown]
# **Try it.** What the last load reads: a full replay reads all 500 events; with your
# interval, only the events after the latest snapshot.

# %%
print(f"full replay: {STREAM_LENGTH} events read")
print(f"a snapshot every {INTERVAL} events: {events_read(INTERVAL)} events read")

# %% [markdown]
# **Check it.** The check tests the interval against rules 1 and 2, and your `events_read`
# with four intervals against a real measurement; it also sees which number of the load's
# report you returned.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(INTERVAL, events_read)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 5.2 · Fix a cache that goes stale
#
# **Scenario.** A web worker keeps loaded accounts in memory. Its first cache, `StaleCache`,
# never asks the store again once it has an account, as the reference design's cache does:

# %%
print(inspect.getsource(StaleCache))

# %% [markdown]
# Watch it go stale: another worker deposits 5.00, and the cache still shows 10.00.

# %%
# NBVAL_CHECK_OUTPUT
store = bank()  # acc-1: opened, 10.00 deposited
stale = StaleCache(store)
print("cached balance (cents):", stale.load("acc-1").balance)
CommandProcessor(store, BankAccount, ids=SeededIds(2)).process_command(DepositMoney("acc-1", 500))
print("cached, after another worker's deposit:", stale.load("acc-1").balance)
print("what the store says:", BankAccount.load_from_events(store.get_events("acc-1")).balance)


# %% [markdown]
# **Rules.** Write `load` of `FreshCache`:
#
# 1. The first load of an account replays its stream and keeps the account in `self.entries`.
# 2. Every later load applies only the events after the kept account's version
#    (`self.store.get_events(account_id, version + 1)`), so the cache is never stale and never
#    reads the whole stream again. `from_version` is inclusive.
# 3. Hand out a copy: a caller that changes the account it got must not change the kept one.


# %%
class FreshCache(StaleCache):
    def load(self, account_id):
        ____  # SOLUTION: FreshCache.load


# %% [markdown]
# **Try it.** The same story with `FreshCache`: after the other worker's deposit, the cached
# balance is 15.00.

# %%
store = bank()
fresh = FreshCache(store)
print("cached balance (cents):", getattr(fresh.load("acc-1"), "balance", None))
CommandProcessor(store, BankAccount, ids=SeededIds(2)).process_command(DepositMoney("acc-1", 500))
print("cached, after another worker's deposit:", getattr(fresh.load("acc-1"), "balance", None))

# %% [markdown]
# **Check it.** The check counts the events your cache reads from the store on each load, and
# changes an account it got back to see whether the cache changes with it.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(FreshCache)

# %%
# ex2.hint()      # a hint; run again for the next one
# ex2.solution()  # a reference solution
# ex2.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Where you stand
#
# `progress()` checks every exercise of this notebook again and lists which are done.

# %%
# NBVAL_CHECK_OUTPUT
progress()

# %% [markdown]
# ## Recap
#
# - A snapshot is taken once at least `interval` events came since the last, so a load reads
#   at most `interval - 1` events after it: pick the interval from the limit, and take no
#   more snapshots than that needs. Where snapshots fall depends on the commands' sizes:
#   measure, do not compute.
# - Snapshots are taken by whoever writes; a loader only finds them if it reads the same
#   snapshot store.
# - A cache stays correct by asking the store for what is new since its version, every time;
#   when nothing is new, that costs a version check and zero events.
# - A cache hands out copies, so nobody changes its entries behind its back.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; `bank()` and `fresh_store()`
# make a fresh store each time.
#
# Next: **06 · Exercises: concurrency**.
