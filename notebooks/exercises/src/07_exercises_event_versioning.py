# %% [markdown]
# # 07 · Exercises: event versioning
#
# **Time box:** 25 minutes (10 + 15) · **You will:**
#
# - write an upcaster that lifts an old event shape to today's, without touching the stored
#   data it is given;
# - write an upcaster for a renamed event that converts money exactly, and register it so that
#   every reader sees old events in today's shape.
#
# These exercises follow notebook **07 · Event versioning**. Write your code where the `____`
# is and run the check below it: it answers **not attempted**, **not yet** (and why), or
# **correct**. Under each check, uncomment `ex1.hint()` for a hint (run it again for the
# next), `ex1.solution()` for a reference solution, or `ex1.catch_up()` to load it and go on.
# The learner and the solved copy of this notebook come from one source.

# %% [markdown]
# ## Setup

# %%
# NBVAL_CHECK_OUTPUT
import inspect
from decimal import Decimal

from esteach import InvalidEventData, InvalidInput, UnknownEventType, registry
from esteach.domains.account import BankAccount
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.versioning import GuestRegistered, ex1, ex2, old_event

print(ex1, ex2, sep="\n")

# %% [markdown]
# ## Exercise 7.1 · Upcast an old event shape
#
# **Scenario.** A hotel's first release recorded sign-ups as `GuestRegistered` with one
# `name`. Reports need first and last names apart, so today's class is at version 2:

# %%
print(inspect.getsource(GuestRegistered))


# %% [markdown]
# The old events stay in the log as they were written (version 1:
# `{"guest_id", "name", "email"}`). An **upcaster** lifts them to version 2 whenever they are
# read.
#
# **Rules.** Write `upcast_guest_v1(data)`, from version 1 data to version 2 data:
#
# 1. Split `name` at the **first** space: `first_name` before it, `last_name` after it
#    (`"Mary Ann Evans"` is `"Mary"` and `"Ann Evans"`). A name without a space (`"Cher"`)
#    has an empty `last_name`.
# 2. Keep `guest_id` and `email` as they are. Version 2 has no `name`.
# 3. Return a new dict; never change the one you are given: on a read, it is a stored fact.


# %%
def upcast_guest_v1(data):
    ____  # SOLUTION: upcast_guest_v1


# %% [markdown]
# **Try it.** Look at both lines: the lifted data, and the stored data, unchanged.

# %%
stored = {"guest_id": "g-2", "name": "Mary Ann Evans", "email": "george@eliot.org"}
print("lifted:", upcast_guest_v1(stored))
print("stored:", stored)

# %% [markdown]
# **Check it.** Three names, and a comparison of each input before and after your upcaster
# ran: an upcaster that mutates its input is named.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(upcast_guest_v1)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 7.2 · Rename an old event, and keep the money exact
#
# **Scenario.** The bank's first release recorded deposits as `AccountCredited`, with the
# amount as text in euros: `{"amount_euros": "12.50"}`. Today the same fact is a
# `MoneyDeposited` with integer cents: `{"amount": 1250}`. Old accounts cannot be loaded
# until every reader sees their old events in today's shape:

# %%
# NBVAL_CHECK_OUTPUT
old_account = [
    old_event("AccountOpened", {"account_id": "acc-9", "owner": "Ada", "overdraft_limit": 0}),
    old_event("AccountCredited", {"amount_euros": "12.50"}, version=2),
    old_event("AccountCredited", {"amount_euros": "0.29"}, version=3),
]
for event in old_account:
    print(event.version, event.event_type, dict(event.data))


# %% [markdown]
# **Rules.** Write `credited_to_deposited(data)`, then register it:
#
# 1. The result is `MoneyDeposited` data: one field, `amount`, an `int` of cents.
# 2. Convert exactly: `"0.29"` is 29 cents, `"12.5"` is 1250, `"7"` is 700, and a
#    correction `"-0.29"` is -29. No float on the way, not even with rounding after it:
#    `float("0.29") * 100` is `28.999999999999996`. An amount with more than two decimals
#    (`"1.005"`) is no whole number of cents: refuse it (raise `InvalidInput`), never round.
# 3. Register it, so that every reader (aggregates, projections, time travel) lifts
#    `AccountCredited` version 1 to `MoneyDeposited` version 1:
#    `registry.upcaster(...)` with `to_event_type="MoneyDeposited"` (notebook 07, section 3).
# 4. Never change the dict you are given.


# %%
def credited_to_deposited(data):
    ____  # SOLUTION: credited_to_deposited


# %%
# BEGIN SOLUTION: register_credited
# rule 3: register credited_to_deposited here, and run this cell again after each change
# END SOLUTION

# %% [markdown]
# **Try it.** Load the old account. With the upcaster registered, its balance is 12.79 (1,279
# cents); without it, the load stops at the first event it cannot read.

# %%
try:
    print("balance:", BankAccount.load_from_events(old_account).balance)
except (UnknownEventType, InvalidEventData) as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# **Check it.** Ten amounts, exact to the cent (one too large for a float), two that must be
# refused; your input left unchanged and no `float()` called; and the registry holding your
# very function, from `AccountCredited` v1 to `MoneyDeposited` v1.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(credited_to_deposited)

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
# - Stored events never change; an upcaster lifts an old shape to today's on every read.
# - An upcaster is a pure function from old data to new data: it returns a new dict and
#   leaves its input alone.
# - A renamed event is upcast to the new name (`to_event_type`), and registered once, so that
#   aggregates, projections and time travel all read it the same way.
# - Money in old shapes is converted with integers or `Decimal`, never through a float.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*. Registering an upcaster again
# replaces the earlier one, so re-running the registration cell is safe.
#
# That was the last exercise notebook. Next: **08 · The reference design's flaws**, the design
# this kit fixes, flaw by flaw.
