# %% [markdown]
# # 04 · Exercises: time travel
#
# **Time box:** 25 minutes (10 + 15) · **You will:**
#
# - answer "what was true at that moment?" in Python, from the log alone;
# - answer a time-travel question in SQL over the log: every account's balance at a moment.
#
# These exercises follow notebook **04 · Time travel**. Write your code where the `____` is
# and run the check below it: it answers **not attempted**, **not yet** (and why), or
# **correct**. Under each check, uncomment `ex1.hint()` for a hint (run it again for the
# next), `ex1.solution()` for a reference solution, or `ex1.catch_up()` to load it and go on.
# The learner and the solved copy of this notebook come from one source.

# %% [markdown]
# ## Setup

# %%
# NBVAL_CHECK_OUTPUT
from datetime import UTC, datetime

from esteach import events_table, state_at
from esteach.domains.user import User
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.time_travel import balances_at, bank_over_days, ex1, ex2, users_over_days

print(ex1, ex2, sep="\n")

# %% [markdown]
# ## Exercise 4.1 · An email at a moment
#
# **Scenario.** Support asks: "which email did Ada have when we sent the invoice?" The log
# knows. Here are Ada's and Grace's events, one a day at 09:00 UTC, and one more on the
# afternoon of January 4th:

# %%
# NBVAL_CHECK_OUTPUT
users = users_over_days()
for event in users.read_all():
    print(f"{event.timestamp:%Y-%m-%d %H:%M}  {event.aggregate_id:<6} {event.event_type}")


# %% [markdown]
# **Rules.** Write `email_at(store, user_id, moment)`:
#
# 1. The answer is the email after every event committed **at or before** `moment`; an event
#    committed exactly at `moment` counts.
# 2. Before the user existed, the answer is `None`.
# 3. Read it from the log: replay, stopped at the moment (`state_at` in notebook 04 does it).


# %%
def email_at(store, user_id, moment):
    ____  # SOLUTION: email_at


# %% [markdown]
# **Try it.** Four moments: before Ada existed, the moment she signed up, a minute before her
# email changed, and the moment it changed.

# %%
for moment in [
    datetime(2023, 12, 31, tzinfo=UTC),
    datetime(2024, 1, 1, 9, 0, tzinfo=UTC),
    datetime(2024, 1, 3, 8, 59, tzinfo=UTC),
    datetime(2024, 1, 3, 9, 0, tzinfo=UTC),
]:
    print(f"{moment:%Y-%m-%d %H:%M}  {email_at(users, 'ada', moment)!r}")

# %% [markdown]
# **Check it.** Ten questions, some exactly at a commit, two in other time zones (14:00 at
# UTC+2 is 12:00 UTC). A wrong answer is recognised as "the email before", "the email today",
# "the time zone ignored", "dates compared instead of moments", or "something for a user who
# did not exist yet".

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(email_at)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 4.2 · Balances at a moment, in SQL
#
# **Scenario.** An auditor wants every account's balance at a given moment, and prefers SQL.
# `events_table(store)` gives the log as a DuckDB table, `events_log`, one row per event:
# `data` is JSON (`data->>'amount'` reads a field, as text) and `timestamp` is the UTC commit
# time. The bank's log, as that table:

# %%
# NBVAL_CHECK_OUTPUT
bank = bank_over_days()
con = events_table(bank)
print(
    con.sql("SELECT global_position, timestamp, aggregate_id, event_type, data FROM events_log")
    .df()
    .to_string(index=False)
)

# %% [markdown]
# **Rules.** Write `query`, SQL with exactly one `?`, where the moment goes:
#
# 1. Count the events committed at or before the moment (`timestamp <= ?`).
# 2. A balance is the deposits' amounts minus the withdrawals' amounts, in cents.
# 3. One row per account that existed by then, `(account_id, balance)`, ordered by
#    `account_id`; an account with no money moved yet has balance 0.

# %%
# BEGIN SOLUTION: BALANCES_AT
query = ____  # your SQL, as a string with one ? for the moment
# END SOLUTION

# %% [markdown]
# **Try it.** The balances at noon on January 2nd: `acc-1` holds 10,250 cents (its deposit of
# 5 cents came that evening), and `acc-2` is open but still empty. (Until `query` is a string,
# there is nothing to run.)

# %%
if isinstance(query, str):
    print(balances_at(con, query, datetime(2024, 1, 2, 12, 0, tzinfo=UTC)))

# %% [markdown]
# **Check it.** Five moments, two of them exactly at a commit. A wrong answer is compared with
# the answers of typical mistakes: no time filter, `<` for `<=`, withdrawals added.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(query)

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
# - The past is a prefix of the log: replay the events committed at or before a moment.
# - "At a moment" includes the moment; the checks test exactly the commit times, where `<`
#   and `<=` differ.
# - The same question works in SQL over the log, with no read model built for it: filter by
#   time, sum signed amounts, group by stream.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; `users_over_days()` and
# `bank_over_days()` build a fresh store each time.
#
# Next: **05 · Exercises: snapshots and caching**.
