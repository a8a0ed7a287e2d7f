# %% [markdown]
# # 09 · Analytics: SQL over the event log
#
# **Time box:** 50 minutes · **You will:**
#
# - load the sample log into a DuckDB event store and query its `events` table with SQL;
# - read fields out of the JSON `data` column and work with UTC timestamps;
# - see that SQL reads events **as stored**, old shapes included, and handle that;
# - answer questions about the past that no read model was built for: sign-ups per week, email
#   changes, time to a first change, deactivation by sign-up cohort;
# - compute running balances with a window function, find accounts that were ever overdrawn,
#   and travel back in time in SQL, checked against `esteach.state_at`;
# - run the same SQL over any store with `events_table`;
# - follow one request through the log by its correlation id, and see which service wrote what.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Theory: the log is the best dataset you have
#
# A state-based database keeps the latest value of everything. An event log keeps every change,
# with when it happened (`timestamp`), to what (`aggregate_id`), who asked (`user_id`), which
# program wrote it (`source`) and which request it belonged to (`correlation_id`). That makes it
# an **audit trail** for free, and a dataset for questions nobody thought of when the system was
# built: "how many users changed their email in each week?" needs no new code in the write
# model and no new read model; it is a query over facts that are already there.
#
# This is still CQRS: the application's own questions ("show user 42") are answered by read
# models shaped for them (notebook 03). Analytics is one more reader of the same log, with its
# own tool: SQL. DuckDB is built for exactly this kind of scanning and grouping.

# %%
from datetime import UTC, datetime, timedelta

import esteach
from esteach import DuckDBEventStore, SeededIds, StepClock, load_sample

clock = StepClock(datetime(2024, 3, 25, 9, 0, tzinfo=UTC), timedelta(minutes=1))

# %% [markdown]
# ## 2. The sample log in DuckDB
#
# `load_sample` bulk-imports the sample log (`data/sample_events.jsonl`, twelve weeks from
# Monday 2024-01-01, users and bank accounts) into a store, keeping every event's id, version,
# timestamp and position. An in-memory DuckDB store is enough: nothing is written to disk.

# %%
# NBVAL_CHECK_OUTPUT
store = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(0))
print("events loaded:", load_sample(store))

# %% [markdown]
# The log is one table, `events`, and `store.sql(...)` runs SQL on it. `.df()` turns the
# answer into a pandas DataFrame (`.fetchall()` into a list of tuples). Its columns:

# %%
# NBVAL_CHECK_OUTPUT
store.sql("DESCRIBE events").df()[["column_name", "column_type"]]

# %% [markdown]
# | column | meaning |
# | --- | --- |
# | `global_position` | the event's place in the whole log: 1, 2, 3, ... in commit order |
# | `aggregate_id`, `version` | the stream (a user, an account) and the event's place in it |
# | `id` | the event's own id |
# | `aggregate_type`, `event_type` | `User` or `BankAccount`; the business name, **as stored** |
# | `timestamp` | the commit time in **UTC**, a `TIMESTAMP` without a time zone |
# | `data` | the event's fields, as **JSON**, in the shape they were written in |
# | `correlation_id`, `causation_id`, `user_id`, `source`, `schema_version` | the metadata |
#
# Two tools do most of the work:
#
# - `data->>'email'` reads one field of the JSON as text (`->` would give JSON). Numbers come
#   back as text too: cast them, `(data->>'amount')::BIGINT`.
# - `timestamp` holds UTC, so `date_trunc('week', timestamp)` (the Monday a week starts on)
#   gives the same weeks in every room. Compare it with a literal written in UTC, such as
#   `TIMESTAMP '2024-02-01'`. Beware of passing a timezone-aware Python `datetime` as a
#   parameter: DuckDB makes it a `TIMESTAMPTZ` and compares in *your machine's* time zone.
#
# One user's stream, with `data` and one field read out of it. Notice the first event: the
# old `UserRegistered` shape from notebook 07, which has `email` too, but not `name`.

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT version, event_type, timestamp, data, data->>'email' AS email
    FROM events
    WHERE aggregate_id = 'user-0247'
    ORDER BY version
    """
).df()

# %% [markdown]
# ## 3. SQL sees the stored shape
#
# How many users signed up? Every user's stream begins with a sign-up, and the log has 600 user
# streams. Counting `UserCreated` events says otherwise:

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT count(DISTINCT aggregate_id) FILTER (WHERE aggregate_type = 'User') AS user_streams,
           count(*) FILTER (WHERE event_type = 'UserCreated')              AS user_created_rows
    FROM events
    """
).df()

# %% [markdown]
# The upcaster of notebook 07 is Python: it runs when esteach *reads* an event, in aggregate
# loads, projections, time travel and `events_frame`. DuckDB reads the table itself, so it sees
# the 169 sign-ups of the first release exactly as they were written: `UserRegistered`, with
# `full_name` instead of `name`.
#
# The SQL answer is to name both shapes: `event_type IN ('UserCreated', 'UserRegistered')`,
# and `coalesce` for a renamed field. A **view** does it once, as a small SQL upcaster; every
# later query uses `sign_ups` and cannot forget the old shape. (`TEMP`: the view lives in this
# connection only.)

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    CREATE OR REPLACE TEMP VIEW sign_ups AS
    SELECT aggregate_id                                AS user_id,
           timestamp                                   AS signed_up,
           data->>'email'                              AS email,
           coalesce(data->>'name', data->>'full_name') AS name,
           event_type                                  AS stored_as
    FROM events
    WHERE event_type IN ('UserCreated', 'UserRegistered')
    """
)
store.sql("SELECT count(*) AS sign_ups, count(name) AS with_a_name FROM sign_ups").df()

# %% [markdown]
# ## 4. Sign-ups per ISO week
#
# `strftime(..., '%G-W%V')` writes a week as its ISO name, `2024-W01`. The log spans twelve
# weeks, but sign-ups stopped in week 11: a plain `GROUP BY` would leave week 12 out instead of
# showing 0. So the query first builds a calendar of every week in the log and joins the
# sign-ups to it. Look at where `old_shape` stops and `new_shape` starts: the release that
# renamed the event.

# %%
# NBVAL_CHECK_OUTPUT
weekly = store.sql(
    """
    WITH weeks AS (
        SELECT unnest(generate_series(date_trunc('week', min(timestamp)),
                                      date_trunc('week', max(timestamp)),
                                      INTERVAL 7 DAY)) AS week_start
        FROM events
    )
    SELECT strftime(week_start, '%G-W%V')                      AS week,
           count(s.user_id) FILTER (WHERE s.stored_as = 'UserRegistered') AS old_shape,
           count(s.user_id) FILTER (WHERE s.stored_as = 'UserCreated')    AS new_shape,
           count(s.user_id)                                   AS sign_ups
    FROM weeks LEFT JOIN sign_ups s ON date_trunc('week', s.signed_up) = weeks.week_start
    GROUP BY week_start
    ORDER BY week_start
    """
).df()
weekly

# %% [markdown]
# The same numbers as a chart, drawn by pandas with matplotlib, the two shapes stacked:

# %%
import matplotlib.pyplot as plt

ax = weekly.set_index("week")[["old_shape", "new_shape"]].plot.bar(
    stacked=True, figsize=(9, 3.5), rot=45, title="Sign-ups per ISO week"
)
ax.set_xlabel("")
ax.set_ylabel("sign-ups")
ax.legend(["UserRegistered (release 1)", "UserCreated"], loc="upper left", bbox_to_anchor=(1, 1))
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Email changes
#
# How many users changed their email in each week? `count(DISTINCT aggregate_id)` counts users,
# `count(*)` counts changes; where they differ, someone changed twice in one week.

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT strftime(date_trunc('week', timestamp), '%G-W%V') AS week,
           count(DISTINCT aggregate_id)                      AS users,
           count(*)                                          AS changes
    FROM events
    WHERE event_type = 'UserEmailChanged'
    GROUP BY week
    ORDER BY week
    """
).df()

# %% [markdown]
# Users who changed their email more than once. First how many changed it how often, then the
# first few, with every email they moved to (`list(... ORDER BY version)` gathers a stream's
# values in order).

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT changes, count(*) AS users
    FROM (SELECT aggregate_id, count(*) AS changes
          FROM events WHERE event_type = 'UserEmailChanged'
          GROUP BY aggregate_id)
    GROUP BY changes
    ORDER BY changes
    """
).df()

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT aggregate_id                                  AS user_id,
           count(*)                                      AS changes,
           list(data->>'new_email' ORDER BY version)     AS new_emails
    FROM events
    WHERE event_type = 'UserEmailChanged'
    GROUP BY aggregate_id
    HAVING count(*) > 1
    ORDER BY changes DESC, user_id
    LIMIT 5
    """
).df()

# %% [markdown]
# How long after signing up do users first change their email? Join each user's sign-up (from
# the `sign_ups` view, both shapes) with their first change, and take the median of the
# waits. Subtracting two timestamps gives an `INTERVAL`; `epoch(...)` turns a timestamp into
# seconds when you want a plain number.

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    WITH first_change AS (
        SELECT aggregate_id AS user_id, min(timestamp) AS first_change
        FROM events WHERE event_type = 'UserEmailChanged'
        GROUP BY aggregate_id
    )
    SELECT count(*)                                                             AS users,
           median(first_change - signed_up)                                     AS median_wait,
           round(median(epoch(first_change) - epoch(signed_up)) / 86400, 1)     AS median_days
    FROM sign_ups JOIN first_change USING (user_id)
    """
).df()

# %% [markdown]
# ## 6. Deactivation by sign-up cohort
#
# A **cohort** is a group of users who signed up in the same period, here the same month. What
# share of each cohort has left (deactivated) by the end of the log? Read the last row with
# care: the March cohort had only a few weeks to leave, so its rate is not comparable yet.

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    WITH deactivated AS (
        SELECT DISTINCT aggregate_id AS user_id FROM events WHERE event_type = 'UserDeactivated'
    )
    SELECT strftime(signed_up, '%Y-%m')                      AS cohort,
           count(*)                                          AS users,
           count(d.user_id)                                  AS deactivated,
           round(100.0 * count(d.user_id) / count(*), 1)     AS percent
    FROM sign_ups s LEFT JOIN deactivated d USING (user_id)
    GROUP BY cohort
    ORDER BY cohort
    """
).df()

# %% [markdown]
# ## 7. The bank: deposits, overdrafts, balances in the past
#
# Amounts are integer cents (`"amount": 10050` is 100.50). Total deposits per week: `sum` of
# a `BIGINT` gives a very wide integer type, so the result is cast back to `BIGINT`.

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT strftime(date_trunc('week', timestamp), '%G-W%V') AS week,
           count(*)                                          AS deposits,
           sum((data->>'amount')::BIGINT)::BIGINT            AS cents,
           format('{:,.2f}', cents / 100)                    AS amount
    FROM events
    WHERE event_type = 'MoneyDeposited'
    GROUP BY week
    ORDER BY week
    """
).df()

# %% [markdown]
# Which accounts were ever overdrawn? The log has no balance column: a balance is the sum of
# every deposit minus every withdrawal *so far*. That is a **window function**:
# `SUM(change) OVER (PARTITION BY aggregate_id ORDER BY version)` adds up each account's changes
# in stream order, one running total per event. An account was overdrawn if its running
# balance ever went below zero.

# %%
# NBVAL_CHECK_OUTPUT
overdrawn = store.sql(
    """
    WITH changes AS (
        SELECT aggregate_id, version,
               CASE event_type
                   WHEN 'MoneyDeposited' THEN (data->>'amount')::BIGINT
                   WHEN 'MoneyWithdrawn' THEN -(data->>'amount')::BIGINT
                   ELSE 0
               END AS change
        FROM events
        WHERE aggregate_type = 'BankAccount'
    ), running AS (
        SELECT aggregate_id, version,
               SUM(change) OVER (PARTITION BY aggregate_id ORDER BY version) AS balance
        FROM changes
    ), limits AS (
        SELECT aggregate_id, (data->>'overdraft_limit')::BIGINT AS overdraft_limit
        FROM events WHERE event_type = 'AccountOpened'
    )
    SELECT aggregate_id                                     AS account_id,
           overdraft_limit,
           min(balance)::BIGINT                             AS lowest_balance,
           count(*) FILTER (WHERE balance < 0)              AS events_while_overdrawn
    FROM running JOIN limits USING (aggregate_id)
    GROUP BY ALL
    HAVING min(balance) < 0
    ORDER BY lowest_balance, account_id
    """
).df()
overdrawn.head(5)

# %% [markdown]
# The rules of `BankAccount` say a withdrawal may not take the balance below minus the
# overdraft limit. The log was written through those rules, so the SQL should agree: every
# overdrawn account stayed within its limit.

# %%
# NBVAL_CHECK_OUTPUT
print("accounts ever overdrawn:", len(overdrawn))
print(
    "all stayed within their overdraft limit:",
    bool((overdrawn["lowest_balance"] >= -overdrawn["overdraft_limit"]).all()),
)

# %% [markdown]
# **Time travel in SQL.** The balance of every account as of 1 February 2024, 00:00 UTC: the
# same sum, over only the events committed at or before that moment. Accounts opened later
# have no row.

# %%
# NBVAL_CHECK_OUTPUT
as_of = store.sql(
    """
    SELECT aggregate_id AS account_id,
           max(version) AS version,
           sum(CASE event_type
                   WHEN 'MoneyDeposited' THEN (data->>'amount')::BIGINT
                   WHEN 'MoneyWithdrawn' THEN -(data->>'amount')::BIGINT
                   ELSE 0
               END)::BIGINT AS balance
    FROM events
    WHERE aggregate_type = 'BankAccount' AND timestamp <= TIMESTAMP '2024-02-01 00:00:00'
    GROUP BY aggregate_id
    ORDER BY aggregate_id
    """
).df()
print("accounts open by then:", len(as_of))
as_of.head(5)

# %% [markdown]
# Cross-check one account with esteach's own time travel (notebook 04): `state_at` replays the
# account's events committed at or before the moment through the `BankAccount` aggregate. The
# SQL and the aggregate must agree on version and balance. Then the same check for every
# account in the table.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.account import BankAccount

moment = datetime(2024, 2, 1, tzinfo=UTC)
account = esteach.state_at(store, BankAccount, "account-0012", at=moment)
row = as_of.set_index("account_id").loc["account-0012"]
print("state_at:", account.version, account.balance, "| SQL:", row["version"], row["balance"])
print(
    "every account agrees:",
    all(
        (state.version, state.balance) == (version, balance)
        for account_id, version, balance in as_of.itertuples(index=False)
        for state in [esteach.state_at(store, BankAccount, account_id, at=moment)]
    ),
)

# %% [markdown]
# ## 8. Optional: the same SQL on any store, `events_table`
#
# `store.sql` exists only on the DuckDB store. `events_table(store)` gives SQL over *any*
# store's log as a table named `events_log`, with the same columns and types as `events`:
#
# - on a `DuckDBEventStore` it is a view over the live `events` table (later appends show up);
# - on any other store it is a copy in a new in-memory DuckDB connection (call it again to see
#   later appends).
#
# One query, run over the sample loaded into an in-memory store and over the DuckDB store:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InMemoryEventStore, events_table

memory_store = InMemoryEventStore()
load_sample(memory_store)

SIGN_UPS_PER_WEEK = """
    SELECT strftime(date_trunc('week', timestamp), '%G-W%V') AS week, count(*) AS sign_ups
    FROM events_log
    WHERE event_type IN ('UserCreated', 'UserRegistered')
    GROUP BY week
    ORDER BY week
"""
from_memory = events_table(memory_store).sql(SIGN_UPS_PER_WEEK).fetchall()
from_duckdb = events_table(store).sql(SIGN_UPS_PER_WEEK).fetchall()
print("same answer from both stores:", from_memory == from_duckdb)
print("first three weeks:", from_memory[:3])

# %% [markdown]
# (`events_table` is as stored too: no upcasting. For the log as today's code reads it, use
# `esteach.events_frame(store)` and pandas, as notebook 07 did.)

# %% [markdown]
# ## 9. Who wrote what, and why
#
# `source` names the program that wrote an event. The first and last timestamp per source and
# event type tell the sample's story: `release-1`, the first sign-up code, wrote the old
# `UserRegistered` events, all in the first three weeks; from 22 January, sign-ups come from
# `signup-service` in the new shape. (In this sample, only the sign-ups came from release 1;
# email and name changes were written by `signup-service` from the start.)

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT source, event_type, count(*) AS events,
           min(timestamp) AS first, max(timestamp) AS last
    FROM events
    GROUP BY ALL
    ORDER BY source, first
    """
).df()

# %% [markdown]
# `correlation_id` ties together everything one request caused; `causation_id` names what
# directly caused each event. In the sample, every request was one command that recorded one
# event, so every correlation id occurs once:

# %%
# NBVAL_CHECK_OUTPUT
store.sql("SELECT count(*) AS events, count(DISTINCT correlation_id) AS requests FROM events").df()

# %% [markdown]
# A request that does more shows the point. A sign-up form that also opens a bank account
# with a first deposit sends three commands to two aggregates. All three carry the request's
# id as `correlation_id`; each later command names the event that caused it as its
# `causation_id`.

# %%
from esteach import CommandProcessor
from esteach.domains.account import DepositMoney, OpenAccount
from esteach.domains.user import CreateUser, User

users = CommandProcessor(store, User, ids=SeededIds(1), source="signup-service")
bank = CommandProcessor(store, BankAccount, ids=SeededIds(2), source="bank-service")

request = "request-0042"
signed_up = users.process_command(
    CreateUser("user-0600", "grace@example.com", "Grace Hopper"),
    correlation_id=request,
    user_id="web",
)
opened = bank.process_command(
    OpenAccount("account-0600", "user-0600"),
    correlation_id=request,
    causation_id=signed_up.events[0].id,
    user_id="web",
)
deposited = bank.process_command(
    DepositMoney("account-0600", 10_000),
    correlation_id=request,
    causation_id=opened.events[0].id,
    user_id="web",
)

# %% [markdown]
# Everything the request did, in one query by its correlation id. Read `caused_by` against
# `event_id` (the first 8 characters of each id): the account was opened because the user was
# created, and the deposit followed the opening. The first event's cause is the sign-up command
# itself, so its `caused_by` is the command's id, which is no event's id.

# %%
# NBVAL_CHECK_OUTPUT
store.sql(
    """
    SELECT global_position, aggregate_id, event_type, source,
           left(id, 8) AS event_id, left(causation_id, 8) AS caused_by
    FROM events
    WHERE correlation_id = ?
    ORDER BY global_position
    """,
    params=[request],
).df()

# %% [markdown]
# Close the store when you are done (an in-memory store is simply gone).

# %%
store.close()

# %% [markdown]
# ## Recap
#
# - The event log records every change with its time, stream, author, program and request: an
#   audit trail and a dataset for questions nobody planned for.
# - In DuckDB the log is a table: `store.sql(...)` over `events`, `.df()` for pandas.
#   `data->>'field'` reads JSON as text (cast numbers); `timestamp` is UTC without a zone:
#   compare it with UTC literals.
# - SQL reads events **as stored**. Old shapes need naming (`event_type IN (...)`,
#   `coalesce(...)`); a view can do that once, as an SQL upcaster.
# - Temporal questions are `GROUP BY` over `date_trunc` of the timestamp; a calendar joined in
#   keeps empty periods; cohorts group by when a stream began.
# - Running totals are window functions, `SUM(...) OVER (PARTITION BY aggregate_id ORDER BY
#   version)`; "as of" a moment is a `WHERE timestamp <= ...`, and it agrees with `state_at`.
# - `events_table(store)` gives the same table for any store.
# - `correlation_id` gathers one request's events across aggregates; `causation_id` links each
#   to its cause; `source` says which program wrote it.

# %% [markdown]
# ## Quiz
#
# 1. A colleague counts sign-ups with `SELECT count(*) FROM events WHERE event_type =
#    'UserCreated'` and gets 431. `UserQueryModel` holds 600 users. Who is wrong, and why?
#
# <details><summary>Answer</summary>
#
# The SQL count. 169 sign-ups are stored as `UserRegistered`, the first release's name. The
# upcaster that reads them as `UserCreated` runs in Python, when esteach reads events, so the
# read model sees all 600; DuckDB reads the stored rows. Count
# `event_type IN ('UserCreated', 'UserRegistered')`, or use a view such as `sign_ups`.
#
# </details>
#
# 2. Why does the running balance use `ORDER BY version` and not `ORDER BY timestamp`?
#
# <details><summary>Answer</summary>
#
# `version` is the order in which the aggregate decided and applied its events, unique within
# the stream: it is the order that defined the balance when each withdrawal was checked.
# Timestamps can be equal for two events committed together, and then the order, and the
# running total at each row, would be undefined.
#
# </details>
#
# 3. You need every account's balance as of the end of January *in New York*. What changes in
#    the query?
#
# <details><summary>Answer</summary>
#
# Only the moment: midnight in New York on 1 February is 05:00 UTC, so the condition becomes
# `timestamp <= TIMESTAMP '2024-02-01 05:00:00'`. The stored timestamps are UTC; convert the
# question's moment to UTC, not the column.
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors.
#
# Your turn: ask the sample log a question of your own, first in SQL, then in pandas with
# `esteach.events_frame(store)`, and compare the answers.
#
# **Exercises for this lesson:** [09_exercises_analytics_learner](exercises/09_exercises_analytics_learner.ipynb).
#
# Next: [10 · From the notebook to production](10_from_notebook_to_production.ipynb).
