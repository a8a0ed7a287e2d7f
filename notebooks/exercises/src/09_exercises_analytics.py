# %% [markdown]
# # 09 · Exercises: analytics
#
# **Time box:** 20 minutes · **You will:**
#
# - ask the log a question in SQL, as notebook 09 does: how many email changes each week;
# - give the weeks with no change a row too, with 0, by joining a calendar to the counts;
# - see your figures checked against the same question answered by a fold in plain Python.
#
# These exercises follow notebook **09 · Analytics**. Write your code where the `____` is,
# then run the check cell below it. A check answers in one line: **not attempted** (there is
# still a `____`), **not yet** (what is wrong, often a mistake it recognises by name) or
# **correct**. Under the check, uncomment `ex1.hint()` for a hint, `ex1.solution()` for a
# reference solution, or `ex1.catch_up()` to load it and go on. `progress()`, at the end,
# lists which exercises are done.

# %% [markdown]
# ## Setup
#
# Ada and Grace over six weeks, from Monday 2024-01-01. `events_table(store)` puts the log in
# DuckDB as the table `events_log` (notebook 09, section 2): one row per event, `timestamp`
# the UTC commit time, `data` the event's JSON. Run this cell first.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.analytics import events_table
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.analytics import email_changes_over_weeks, ex1

store = email_changes_over_weeks()
con = events_table(store)
print(ex1)
for row in con.sql(
    "SELECT strftime(timestamp, '%a %Y-%m-%d %H:%M') AS at, aggregate_id, event_type "
    "FROM events_log ORDER BY global_position"
).fetchall():
    print(*row, sep="  ")

# %% [markdown]
# ## Exercise 9.1 · Email changes per week, empty weeks too
#
# **Scenario.** Support wants a chart: how many email changes each week. A chart with a week
# missing lies about the trend, so every week of the log needs a bar, the quiet weeks too.
#
# **Rules.** Write `query`, SQL over `events_log` that returns one row per week, `(week,
# changes)`:
#
# 1. A week starts on Monday (UTC), as `date_trunc('week', timestamp)` does; `week` is that
#    Monday's date (`CAST(... AS DATE)`), and `changes` counts the `UserEmailChanged` events
#    recorded in it.
# 2. Every week from the week of the log's first event to the week of its last event has a
#    row, and a week without a change shows 0. A `GROUP BY` alone makes rows only for weeks
#    that have events: make a calendar of Mondays with `range(start, stop, INTERVAL 7 DAY)`
#    and `LEFT JOIN` the counts to it.
# 3. The rows are in week order.

# %%
# BEGIN SOLUTION: WEEKLY_CHANGES
query = ____  # your SQL, as a string
# END SOLUTION

# %% [markdown]
# **Try it.** Run your query. The log has email changes in three of its six weeks. (Until
# `query` is a string, this cell does nothing.)

# %%
if isinstance(query, str):
    print(con.sql(query))

# %% [markdown]
# **Check it.** The check runs your query on this log and compares the rows with a fold of the
# same events in plain Python (`weekly_changes_in_python`), which counts each
# `UserEmailChanged` in its Monday's week and fills the weeks between with 0. When they differ,
# it compares your rows with what typical mistakes give, and names the one they match.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(query)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

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
# - SQL over the log answers questions no read model was built for, from the events as they
#   were recorded.
# - A `GROUP BY` has rows only where there are events; a calendar joined with `LEFT JOIN` and
#   `coalesce(..., 0)` gives every period a row.
# - Check an analytical query against a simple fold of the same events: two independent
#   answers that agree are worth more than one.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; the store is made anew each run.
#
# Next: **11 · Exercises: deciders and process managers**.
