# %% [markdown]
# # 03 · Exercises: projections
#
# **Time box:** 50 minutes (10 + 15 + 15 + 10) · **You will:**
#
# - make a projection **idempotent**: an event delivered twice is counted once, because a
#   checkpoint remembers how far the projection got;
# - build a read model in DuckDB with an `EventProcessor`, counting each deposit on the day it
#   was *recorded*, so that a rebuild next month gives the same table;
# - make a projection end right when a broker delivers events **shuffled and repeated**, by
#   applying each stream's events in version order, each once;
# - build a read model **across streams**: each owner's money over all of their accounts.
#
# These exercises follow notebook **03 · Replay and projections**. Write your code where the
# `____` is and run the check below it: it answers **not attempted**, **not yet** (and why),
# or **correct**. Under each check, uncomment `ex1.hint()` for a hint (run it again for the
# next), `ex1.solution()` for a reference solution, or `ex1.catch_up()` to load it and go on.
# The learner and the solved copy of this notebook come from one source.

# %% [markdown]
# ## Setup
#
# Both exercises read the same log: three bank accounts over three days, one event every
# seven hours. Look at the positions (the log's order), the times and the amounts in cents.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.projections import (
    DAILY_SCHEMA,
    bank_over_days,
    daily_deposits,
    deliveries,
    ex1,
    ex2,
    ex3,
    ex4,
)

store = bank_over_days()
for event in store.read_all():
    print(
        f"{event.global_position}  {event.timestamp:%Y-%m-%d %H:%M}  {event.aggregate_id}  "
        f"{event.event_type:<15} {dict(event.data)}"
    )
print(ex1, ex2, ex3, ex4, sep="\n")

# %% [markdown]
# ## Exercise 3.1 · Make a projection idempotent
#
# **Scenario.** A message queue feeds a projection of the total deposited per account. Like
# most queues, it delivers **at least once**: after a hiccup, it delivers some events again.
# It does deliver them **in log order**, each new event after the ones before it; only the
# repeats come late. (A queue that also reorders needs more than one checkpoint: notebook 03
# says why.) Here is what it delivered (global positions): position 6 came twice in a row,
# and 2 came again later.

# %%
# NBVAL_CHECK_OUTPUT
print([event.global_position for event in deliveries(store)])

# %% [markdown]
# **Rules.** Write `handle(event)` of `DepositTotals`:
#
# 1. A `MoneyDeposited` adds its amount (`event.data["amount"]`) to the total of its account
#    (`event.aggregate_id`) in `self.totals`. Nothing else counts: not withdrawals.
# 2. An event at or below `self.position` was handled already: it changes nothing.
# 3. After handling a new event, of any type, `self.position` is its global position: the
#    **checkpoint** moves past every event, handled or not.


# %%
class DepositTotals:
    def __init__(self):
        self.totals = {}  # account id -> cents deposited
        self.position = 0  # the checkpoint: global position of the last event handled

    def handle(self, event):
        ____  # SOLUTION: DepositTotals.handle


# %% [markdown]
# **Try it.** Feed it every delivery. With the rules kept, `acc-1` totals 10,255 cents and
# `acc-2` 100, and the checkpoint ends at 8.

# %%
totals = DepositTotals()
for event in deliveries(store):
    totals.handle(event)
print(totals.totals, "checkpoint:", totals.position)

# %% [markdown]
# **Check it.** The check delivers the same sequence and compares after every delivery; a
# total that grows on a redelivered event is named as double counting.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(DepositTotals)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# `EventProcessor` does all of this for you, and more: it stores the checkpoint in the read
# model's own database, in the same transaction as the rows, so that a crash can neither
# apply an event twice nor skip one.
#
# ## Exercise 3.2 · Deposits per day
#
# **Scenario.** Finance wants a table of how much was deposited each day. The read model is a
# DuckDB table; an `EventProcessor` feeds it by calling your handler for every
# `MoneyDeposited`. The table:

# %%
print(DAILY_SCHEMA)


# %% [markdown]
# **Rules.** Write the handler `on_money_deposited(conn, event)`; it writes through `conn`:
#
# 1. A deposit counts on the UTC day it was **recorded**, `event.timestamp`, never the day the
#    projection runs: a rebuild next month must give the same table.
# 2. Deposits of one day add up into one row.
# 3. A day without deposits has no row.


# %%
def on_money_deposited(conn, event):
    ____  # SOLUTION: on_money_deposited


# %% [markdown]
# **Try it.** `daily_deposits(store, handler)` makes the processor and registers your handler;
# `catch_up()` feeds it the log. Three rows are expected: 10,250 cents on January 1st, 45 on
# the 2nd, 60 on the 3rd.

# %%
with daily_deposits(store, on_money_deposited) as processor:
    processor.catch_up()
    for day, total in processor.query("SELECT day, total FROM daily_deposits ORDER BY day"):
        print(day, total)

# %% [markdown]
# **Check it.** The check catches up, then rebuilds and compares. It watches your handler for
# a reading of the clock, and recognises a plain `INSERT` (the second deposit of a day fails)
# and `INSERT OR REPLACE` (the last deposit of a day wins).

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(on_money_deposited)

# %%
# ex2.hint()      # a hint; run again for the next one
# ex2.solution()  # a reference solution
# ex2.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 3.3 · Out-of-order and repeated delivery
#
# **Scenario.** A message broker feeds a directory of users: each user's current email and
# name. This broker promises only **at least once**: it delivers every event, some of them
# again, and in **any order**. Here are three users' eighteen events, and what the broker
# delivered (user and version; `ada 3` is the third event of Ada's stream).

# %%
# NBVAL_CHECK_OUTPUT
from esteach.exercises.projections import UserDirectoryBase, broker_delivery, users_to_deliver

user_log = users_to_deliver().read_all()
delivery = broker_delivery(user_log, seed=1)
print("in the log:", ", ".join(f"{e.aggregate_id} {e.version}" for e in user_log))
print("delivered: ", ", ".join(f"{e.aggregate_id} {e.version}" for e in delivery))

# %% [markdown]
# `UserDirectoryBase` holds the read model, `self.users` (user id -> `{"email": ..., "name":
# ...}`), and `apply(event)`, which changes it by one event and assumes that event is its
# user's next one. It also sets up two dicts for you: `self.applied` (user id -> the version
# of the last event applied) and `self.waiting` (user id -> `{version: event}`).
#
# **Rules.** Write `handle(event)`, which the broker calls once per delivery:
#
# 1. Apply each user's events with `self.apply(event)` in **version order** (`event.version`
#    is 1, 2, 3, ... within the user's stream), however they arrive: an event that comes before
#    its turn waits in `self.waiting[user]` until the events before it have been applied.
# 2. Apply each event **once**: a version already applied is a repeat and changes nothing.
# 3. When an event is applied, the waiting events whose turn has come are applied too.
#
# The user is `event.aggregate_id`. Different users' events are independent: only each user's
# own order matters.


# %%
class UserDirectory(UserDirectoryBase):
    def handle(self, event):
        ____  # SOLUTION: UserDirectory.handle


# %% [markdown]
# **Try it.** Deliver the shuffled events, and compare with the log delivered in order. (Until
# you write `handle`, both directories stay empty.)

# %%
shuffled, in_order = UserDirectory(), UserDirectory()
for event in delivery:
    shuffled.handle(event)
for event in user_log:
    in_order.handle(event)
print(shuffled.users)
print("same as in order:", shuffled.users == in_order.users)

# %% [markdown]
# **Check it.** The check delivers the log in order, then five times shuffled with repeats
# (seeds 1 to 5, each a different order), and compares the directory with in-order delivery
# every time. When the result is wrong, it tells you which wrong strategy gives the same
# result.

# %%
# NBVAL_CHECK_OUTPUT
ex3.check(UserDirectory)

# %%
# ex3.hint()      # a hint; run again for the next one
# ex3.solution()  # a reference solution
# ex3.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 3.4 · Balances per owner, across accounts
#
# **Scenario.** The bank's app shows each customer one figure: the money in all their accounts
# together. Each account is its own stream, and only its first event, `AccountOpened`, names
# the owner; a deposit says only its amount. Here is the log: Ada has two accounts, Grace one,
# and Alan one he never paid into.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.exercises.projections import owners_and_accounts

owners_log = owners_and_accounts().read_all()
for event in owners_log:
    print(
        f"{event.global_position:>2}  {event.aggregate_id}  {event.event_type:<15} {dict(event.data)}"
    )

# %% [markdown]
# **Rules.** Write `handle(event)` of `OwnerBalances`:
#
# 1. `self.balances` maps each **owner** (not each account) to the cents in all their accounts:
#    a `MoneyDeposited` adds its amount, a `MoneyWithdrawn` takes it away.
# 2. An event's account is `event.aggregate_id`; its owner is what that account's
#    `AccountOpened` said (`event.data["owner"]`). Remember it in `self.owner_of`: the
#    accounts' events interleave in the log.
# 3. An owner is in `self.balances` from their first account's opening, with 0 until money
#    comes in; opening a second account changes nothing in the total.


# %%
class OwnerBalances:
    def __init__(self):
        self.balances = {}  # owner -> cents, over all the owner's accounts
        self.owner_of = {}  # account id -> owner, remembered from AccountOpened

    def handle(self, event):
        ____  # SOLUTION: OwnerBalances.handle


# %% [markdown]
# **Try it.** Feed it the log. (Until you write `handle`, it stays empty.)

# %%
owners = OwnerBalances()
for event in owners_log:
    owners.handle(event)
owners.balances

# %% [markdown]
# **Check it.** The check feeds your class the same log and compares `balances` with the
# expected figures; when they differ, it names the mistake whose result they match.

# %%
# NBVAL_CHECK_OUTPUT
ex4.check(OwnerBalances)

# %%
# ex4.hint()      # a hint; run again for the next one
# ex4.solution()  # a reference solution
# ex4.catch_up()  # stuck? load the reference solution and go on

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
# - Queues deliver at least once; a projection makes that *exactly once in effect* with a
#   checkpoint: an event at or below it has been handled.
# - The checkpoint moves past every event, even one the projection ignores.
# - A read model's handler uses what the event says, including *when* it was recorded; the
#   clock of the machine that happens to run the projection has no place in it.
# - Handlers are upserts, so a day's row grows with each deposit.
# - A broker that reorders needs one position per stream, not one for the log: apply each
#   stream's next version, hold early events back, ignore versions already applied.
# - A read model across streams keeps what it needs from earlier events (each account's
#   owner) and looks it up for later ones: the log interleaves the streams.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; every store here is built by
# `bank_over_days()`, which makes a fresh one each time.
#
# Next: **04 · Exercises: time travel**.
