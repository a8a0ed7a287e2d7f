# %% [markdown]
# # 06 · Exercises: concurrency
#
# **Time box:** 25 minutes (10 + 15) · **You will:**
#
# - handle a command with **optimistic concurrency**: load, decide, append expecting the
#   version the decision was made on, so a conflicting writer is refused, not overwritten;
# - resolve a conflict with a bounded retry that loads and decides again.
#
# These exercises follow notebook **06 · Concurrency**. Write your code where the `____` is
# and run the check below it: it answers **not attempted**, **not yet** (and why), or
# **correct**. Under each check, uncomment `ex1.hint()` for a hint (run it again for the
# next), `ex1.solution()` for a reference solution, or `ex1.catch_up()` to load it and go on.
# The learner and the solved copy of this notebook come from one source.

# %% [markdown]
# ## Setup
#
# `bank(balance=10_000)` makes a store with account `acc-1`: opened with no overdraft, 100.00
# deposited (version 2). `SomeoneElseFirst(store, meanwhile)` wraps a store and runs
# `meanwhile()` (another teller's command) just before your next append: a race on cue, as in
# notebook 06.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import CommandProcessor, InvalidInput, NewEvent, SeededIds, WrongExpectedVersion
from esteach.domains.account import BankAccount, DepositMoney, WithdrawMoney
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.concurrency import bank, ex1, ex2
from esteach.exercises.fakes import SomeoneElseFirst


def balance(store):
    return BankAccount.load_from_events(store.get_events("acc-1"), "acc-1").balance


def other_teller(store, command):
    """Another teller's command, ready to run in the middle of yours."""
    teller = CommandProcessor(store, BankAccount, ids=SeededIds(9))
    return lambda: teller.process_command(command)


print(ex1, ex2, sep="\n")


# %% [markdown]
# ## Exercise 6.1 · Decide, then append with the expected version
#
# **Scenario.** Two tellers serve the same account. Each loads it, checks the rules, and
# records a withdrawal. Without a guard, two withdrawals of 70.00 from 100.00 both go through
# and the account ends at -40.00, which its rules forbid (notebook 06, section 3).
#
# **Rules.** Write `execute(store, account_id, command)`:
#
# 1. Load the account from its stream.
# 2. Let it decide: `account.handle_command(command)` returns domain events or raises.
# 3. Append the decided events (each wrapped in `NewEvent.from_domain(event, "BankAccount")`)
#    **expecting the version you loaded**. If anyone appended in between, the store refuses
#    with `WrongExpectedVersion`, and nothing of yours is written.
# 4. Return the recorded events, what `append_events` returns.


# %%
def execute(store, account_id, command):
    ____  # SOLUTION: execute


# %% [markdown]
# **Try it.** Another teller withdraws 70.00 between your load and your append; you withdraw
# 70.00 too. With the rules kept, yours is refused and the balance is 30.00, not -40.00.

# %%
store = bank(balance=10_000)
racing = SomeoneElseFirst(store, other_teller(store, WithdrawMoney("acc-1", 7_000)))
try:
    execute(racing, "acc-1", WithdrawMoney("acc-1", 7_000))
except WrongExpectedVersion as error:
    print(f"{type(error).__name__}: {error}")
print("balance:", balance(store))

# %% [markdown]
# **Check it.** Once with nobody else writing, once with the other teller writing between your
# load and your append. A lost update is recognised, including the subtle one: reading the
# version again just before appending.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(execute)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 6.2 · Resolve a conflict with a retry
#
# **Scenario.** A refused command is not a failed one: most conflicts go away when the
# command is tried again on the new state. But a retry must *decide again*: the other writer
# may have changed what the rules say.
#
# **Rules.** Write `execute_with_retry(store, account_id, command, max_attempts=3)`, using your
# `execute` from exercise 6.1:
#
# 1. On `WrongExpectedVersion`, load and decide again: call `execute` again. Never append the
#    old decision a second time.
# 2. At most `max_attempts` attempts in all; after the last conflict, raise it, so the caller
#    knows the command did not go through.
# 3. A `DomainError` (such as `InsufficientFunds` when deciding again) is an answer, not a
#    conflict: let it through at once.
#
# The check runs your retry with the reference `execute`, so a slip in 6.1 does not count
# twice; but finish 6.1 first (or `ex1.catch_up()`), since your retry calls it here.


# %%
def execute_with_retry(store, account_id, command, max_attempts=3):
    ____  # SOLUTION: execute_with_retry


# %% [markdown]
# **Try it.** Another teller deposits 1.00 during your first attempt. With a retry, your
# withdrawal of 5.00 goes through on the second attempt: two appends were tried.

# %%
store = bank(balance=10_000)
racing = SomeoneElseFirst(store, other_teller(store, DepositMoney("acc-1", 100)))
execute_with_retry(racing, "acc-1", WithdrawMoney("acc-1", 500))
print("appends tried:", racing.appends, "| balance:", balance(store))

# %% [markdown]
# **Check it.** One conflict and then success; a conflict after which deciding again says
# `InsufficientFunds`; and a conflict on every attempt, with `max_attempts` 3 and 5.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(execute_with_retry)

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
# - The expected version is the version the decision was made on. `ANY`, or the version read
#   again just before appending, lets a decision on old state through: a lost update.
# - A retry reloads and decides again; appending the old decision with a newer expected
#   version skips the rules.
# - Retries are bounded, conflicts that remain are raised, and domain errors are never
#   retried: they are the aggregate's answer. `CommandProcessor` does all three.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; each try-it cell makes its own
# store with `bank(...)`.
#
# Next: **07 · Exercises: event versioning**.
