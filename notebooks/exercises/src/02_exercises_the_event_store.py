# %% [markdown]
# # 02 · Exercises: the event store
#
# **Time box:** 25 minutes (10 + 15) · **You will:**
#
# - rebuild a user from a batch of many users' events that arrived in any order;
# - make an append survive a lost reply: retry it, and let event ids tell the store that a
#   retry is the same append, not a second deposit.
#
# These exercises follow notebook **02 · The event store**. Write your code where the `____`
# is and run the check below it: it answers **not attempted**, **not yet** (and why), or
# **correct**. Under each check, uncomment `ex1.hint()` for a hint (run it again for the
# next), `ex1.solution()` for a reference solution, or `ex1.catch_up()` to load the reference
# solution and go on. The learner and the solved copy of this notebook come from one source.

# %% [markdown]
# ## Setup

# %%
# NBVAL_CHECK_OUTPUT
from esteach import CommandProcessor, NewEvent, SeededIds
from esteach.domains.account import BankAccount, DepositMoney, MoneyDeposited
from esteach.domains.user import User
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.event_store import arrived_batch, bank, ex1, ex2
from esteach.exercises.fakes import LostReply

print(ex1, ex2, sep="\n")

# %% [markdown]
# ## Exercise 2.1 · Rebuild from a batch that arrived out of order
#
# **Scenario.** A reporting service gets user events from a message queue. The queue delivers
# batches that mix many users' events, in whatever order they happened to arrive. The service
# needs one user at a time, rebuilt exactly as the store would rebuild them.
#
# **Rules.** Write `rebuild(batch, user_id)`, returning a `User`:
#
# 1. Keep only the events of the user asked for (`event.aggregate_id == user_id`).
# 2. Apply them in version order: a stream's events make sense only in the order they were
#    recorded (an email changed twice must end on the second one). The events of one append
#    share its timestamp, so a timestamp cannot tell their order; a version can.
# 3. A user with no event in the batch comes back at version 0, not as an error.
#
# Here is a batch: look at the streams and versions, in the order they arrived.

# %%
# NBVAL_CHECK_OUTPUT
batch = arrived_batch()
print([(event.aggregate_id, event.version, event.event_type) for event in batch])


# %%
def rebuild(batch, user_id):
    ____  # SOLUTION: rebuild


# %% [markdown]
# **Try it.** Ada changed her email three times, the last two in one append; her email now is
# `ada@analytical.engine`.

# %%
rebuild(batch, "ada")

# %% [markdown]
# **Check it.** Two batches in two orders, three users (one with no events at all). Events
# applied out of order are recognised, whether `load_from_events` refused them or they were
# applied in the order they arrived.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(rebuild)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 2.2 · A deposit that survives a lost reply
#
# **Scenario.** The bank's deposit service talks to its event store over a network. Now and
# then a reply gets lost: `append_events` raises `TimeoutError`, although the store did write
# the events. The service cannot tell a lost reply from a lost request, so it must retry, and
# a retried deposit must not be paid twice.
#
# **Rules.** Write `deposit(store, account_id, amount, new_id)`, returning the recorded events:
#
# 1. Append one `MoneyDeposited(amount)` to the account's stream, expecting the version you
#    read before (`store.stream_version(account_id)`), not `ANY`: a real conflict with
#    another writer must still be refused.
# 2. When `append_events` raises `TimeoutError`, try again: at most 3 attempts in all. After
#    the third lost reply, let the `TimeoutError` through.
# 3. A retry must be *the same append*: take the event's id from `new_id()` once, before the
#    first attempt (`NewEvent.from_domain(..., id=...)`), and reuse the same expected version.
#    The store recognises an exact retry and returns the events it stored the first time
#    (notebook 02, section 5).
#
# `LostReply(store, times=1)` wraps a store and loses the reply of its first append: use it to
# try your function.


# %%
def deposit(store, account_id, amount, new_id):
    ____  # SOLUTION: deposit


# %% [markdown]
# **Try it.** A store with account `acc-1` (opened, 10.00 in it), the first reply lost, one
# deposit of 5.00. Look at the stream afterwards: one deposit, at version 3.

# %%
store = bank()  # acc-1: opened, 10.00 deposited
deposit(LostReply(store, times=1), "acc-1", 500, SeededIds(42))
for event in store.get_events("acc-1"):
    print(event.version, event.event_type, dict(event.data))

# %% [markdown]
# **Check it.** The check loses the first reply, then every reply, and lets another writer
# append between your read and your append. It counts how often you called `new_id()`.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(deposit)

# %%
# ex2.hint()      # a hint; run again for the next one
# ex2.solution()  # a reference solution
# ex2.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Ran a cell twice? Start over
#
# Run the try-it cell above a second time and `acc-1` gets a second deposit: to the store, a
# second run of a cell is a second deposit, and rightly so (its event has a new id). In a
# notebook that is usually a slip. `store.reset()` empties the store in place and rewinds its
# clock and ids, so whatever holds the store (a `CommandProcessor`, say) keeps working; then
# write the history again. The stream below is back to its first two events.

# %%
# NBVAL_CHECK_OUTPUT
tellers = CommandProcessor(store, BankAccount, ids=SeededIds(3))
tellers.process_command(DepositMoney("acc-1", 250))  # a cell you might run twice
store.reset()
bank(store)
print(store, [(event.event_type, event.version) for event in store.get_events("acc-1")])

# %% [markdown]
# ## Where you stand
#
# `progress()` checks every exercise of this notebook again and lists which are done.

# %%
# NBVAL_CHECK_OUTPUT
progress()

# %% [markdown]
# `fresh_store()` makes a new, empty store instead; *Kernel → Restart Kernel and Run All
# Cells* starts the whole notebook over.
#
# ## Recap
#
# - A stream's events are applied in version order, and only that stream's: sort, filter,
#   and let `load_from_events` check the order for you.
# - A timeout does not say whether the write happened. Retry with the *same* event ids and
#   the same expected version: the store returns what it stored, and nothing is recorded
#   twice. A new id per attempt turns a retry into a second deposit (or a conflict).
# - The expected version still guards against other writers; a retry does not need `ANY`.
#
# Next: **03 · Exercises: projections**.
