# %% [markdown]
# # 04 · Time travel
#
# **Time box:** 45 minutes · **You will:**
#
# - see why an event log can answer "what had we recorded by then?", and a table of current
#   state cannot; and how that differs from "what was true then?";
# - rebuild a user as it was after its N-th event, `state_at(version=N)`, and as it was at a
#   moment, `state_at(at=moment)`;
# - learn the rule for moments: **the last event at or before the moment** counts, and before
#   the first event the user does not exist yet;
# - read a stream's **history** as a pandas table: one row per event, the state after it, what
#   it changed;
# - explore a user of the sample log with the **interactive explorer**, and with its
#   plain-text twin;
# - answer an audit question and double-check the answer.
#
# Run the cells from top to bottom. The prose before each cell says what to look for.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Theory: the past is not lost
#
# A classic table of current state keeps one row per user. Changing an email is an
# `UPDATE users SET email = ...`: the old address is gone, unless someone thought of an audit
# table in advance. "Which address did this user have last Tuesday?" has no answer.
#
# An event store keeps the **facts** instead: `UserCreated`, `UserEmailChanged`, ... The
# current state is what **replaying** all of a stream's events gives (notebook 01). So the
# state at an earlier point is what replaying the events *up to that point* gives. Nothing
# extra is stored for this: time travel is replay, stopped early.
#
# There are two ways to say "that point":
#
# - a **version**: "after the stream's N-th event". Versions are exact, and they are what the
#   aggregate itself counts.
# - a **moment**: "as of 8 March, noon UTC". This is how people ask: support, auditors,
#   reports "as of the end of the quarter". The store stamped each event with its commit time,
#   so a moment picks a prefix of the stream.
#
# esteach's `state_at`, `history` and `describe_version` (in `esteach/timetravel.py`) do both.

# %% [markdown]
# ## 2. A small story, one day per commit
#
# The store's clock is a `StepClock` whose step is **one day**: every commit is stamped one day
# after the previous one. `clock.advance(...)` lets a quiet week pass between two commands.
#
# The story: Ada signs up on 1 March, changes her email on 2 March, changes it again a week
# later, on 8 March, and her account is deactivated on 9 March.

# %%
from datetime import UTC, datetime, timedelta

import pandas as pd

from esteach import CommandProcessor, InMemoryEventStore, SeededIds, StepClock, events_frame
from esteach.domains.user import ChangeEmail, CreateUser, DeactivateUser, User

pd.set_option("display.max_colwidth", 120)
pd.set_option("display.width", 120)

clock = StepClock(datetime(2024, 3, 1, 9, 0, tzinfo=UTC), timedelta(days=1))
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
users = CommandProcessor(store, User, ids=SeededIds(1))

users.process_command(CreateUser("ada", "ada@example.com", "Ada Lovelace"))  # 1 March
users.process_command(ChangeEmail("ada", "ada@analytical.engine"))  # 2 March
clock.advance(timedelta(days=5))  # a quiet week: nothing happens from 3 to 7 March
users.process_command(ChangeEmail("ada", "ada@lovelace.org"))  # 8 March
users.process_command(DeactivateUser("ada"))  # 9 March
print("Ada's stream is at version", store.stream_version("ada"))

# %% [markdown]
# Here is Ada's stream. Look at the `timestamp` column: one day between commits, and the jump
# from 2 to 8 March where the clock was advanced.

# %%
# NBVAL_CHECK_OUTPUT
events_frame(store)[["version", "event_type", "timestamp", "data"]]

# %% [markdown]
# ## 3. The state at a version
#
# `state_at(store, User, "ada", version=N)` replays the first `N` events of Ada's stream and
# returns the `User` they build. Look at three things:
#
# - **version 0** is Ada *before her first event*: `exists` is `False`, the email is empty and
#   the status is `None`. That is a real answer: before 1 March, there was no Ada;
# - the email changes at versions 2 and 3, the status at 4;
# - the last version is the current state, what `users.load("ada")` gives.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import state_at

rows = []
for version in range(5):
    ada = state_at(store, User, "ada", version=version)
    rows.append({"exists": ada.exists, **ada.state()})
pd.DataFrame(rows, dtype=object)  # object: keep None as None, not NaN

# %% [markdown]
# A version the stream has not reached is refused, with the range you can ask for:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidInput

try:
    state_at(store, User, "ada", version=7)
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## 4. The state at a moment
#
# `state_at(store, User, "ada", at=moment)` rebuilds Ada from **the last event committed at or
# before `moment`**. Read the table row by row:
#
# - 29 February is **before the first event**: version 0, Ada does not exist yet. No error:
#   "she did not exist" is the true answer to "what had been recorded by then?";
# - 1 March at 08:59:59 is one second before her sign-up: still version 0;
# - 1 March at 09:00:00 **exactly** is the moment of her sign-up, and "at or before" includes
#   it: version 1;
# - 5 March falls in the quiet week: the state is still the one after 2 March (version 2);
# - 8 March at noon is after the second email change, and 1 April after the deactivation.

# %%
# NBVAL_CHECK_OUTPUT
moments = [
    datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
    datetime(2024, 3, 1, 8, 59, 59, tzinfo=UTC),
    datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC),
    datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
    datetime(2024, 3, 8, 12, 0, tzinfo=UTC),
    datetime(2024, 4, 1, 0, 0, tzinfo=UTC),
]
rows = []
for moment in moments:
    ada = state_at(store, User, "ada", at=moment)
    rows.append(
        {"asked at (UTC)": moment, "version": ada.version, "exists": ada.exists,
         "email": ada.email, "status": ada.status}
    )  # fmt: skip
pd.DataFrame(rows, dtype=object)

# %% [markdown]
# Why can `state_at` simply stop at the first event *after* the moment? Because the store
# stamps each event **when it commits it**, and commit times never decrease along the log. So
# the events at or before a moment are always a prefix of the stream. Look for
# `itertools.takewhile` in the source below.
#
# The reference design stamped each event when it was *converted*, before the write (flaw 13).
# Two writers could then store a later event with an earlier time, and "the events before
# 9:00" would no longer be a prefix of the stream: time travel by moment would mix up the past.

# %%
import inspect

print(inspect.getsource(state_at))

# %% [markdown]
# A moment must say its **time zone**. `datetime(2024, 3, 8, 12, 0)` without one could be noon
# in London or in Tokyo, nine hours apart, and the store's timestamps are UTC. esteach refuses
# to guess:

# %%
# NBVAL_CHECK_OUTPUT
try:
    state_at(store, User, "ada", at=datetime(2024, 3, 8, 12, 0))
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ### Recorded by then, or true then?
#
# `state_at(at=moment)` answers **"what had the system recorded by then?"**: it picks events
# by their commit time, the moment the store learned of them (*recorded time*, also called
# transaction time). That is often what you need ("what did we know when we sent that letter
# on the 10th?"), but it is not always "what was true then?". The world does not wait for the
# database: facts are often recorded late, and corrections are recorded *back-dated*.
#
# An example, in a separate little log. Ada signs up on 1 March. On 20 March she tells support
# that she switched her email on 5 March, and support records it then, with the day it
# happened in the event's data as `occurred_at` (*business time*, or effective time). Her
# stream now says two different things about 10 March, depending on whom you ask and when:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import NewEvent

log_clock = StepClock(datetime(2024, 3, 1, 9, 0, tzinfo=UTC), timedelta(days=1))
log = InMemoryEventStore(clock=log_clock, ids=SeededIds(40))
log.append_events(
    "ada", 0, [NewEvent("EmailSet", {"email": "ada@example.com", "occurred_at": "2024-03-01"})]
)
log_clock.advance(timedelta(days=18))  # recorded on 20 March ...
log.append_events(  # ... what happened on 5 March: a back-dated correction
    "ada", 1, [NewEvent("EmailSet", {"email": "ada@new.example", "occurred_at": "2024-03-05"})]
)


def email_on(events, *, true_on, recorded_by):
    """Ada's email on the day `true_on`, as far as the log had recorded by `recorded_by`."""
    known = [e for e in events if e.timestamp <= recorded_by]
    in_effect = [e for e in known if e.data["occurred_at"] <= true_on]
    latest = max(in_effect, key=lambda e: (e.data["occurred_at"], e.version), default=None)
    return latest.data["email"] if latest else None


recorded = log.get_events("ada")
print(
    "recorded on, occurred on:",
    [(f"{e.timestamp:%Y-%m-%d}", e.data["occurred_at"]) for e in recorded],
)
questions = [
    (
        "recorded by 10 March: what state_at(at=) answers",
        "2024-03-10",
        datetime(2024, 3, 10, tzinfo=UTC),
    ),
    ("true on 10 March, as known on 25 March", "2024-03-10", datetime(2024, 3, 25, tzinfo=UTC)),
    ("true on 3 March, as known on 25 March", "2024-03-03", datetime(2024, 3, 25, tzinfo=UTC)),
]
pd.DataFrame(
    [(q, email_on(recorded, true_on=t, recorded_by=r)) for q, t, r in questions],
    columns=["question", "email"],
)

# %% [markdown]
# The first row is what `state_at(at=10 March)` would say: on 10 March nobody had told the
# system yet. The second is what was true on 10 March, as we know it now. Both are right
# answers to different questions, and an auditor may ask either. Keeping both times, when a
# fact was recorded and when it held, is called **bitemporal** modelling. The store gives you
# the first for free (every event's commit time). The second exists only if your events carry
# it in their data, as `occurred_at` does here, and your queries pick by it. esteach's `User`
# events carry no business time, so for them the commit time is all there is.

# %% [markdown]
# ## 5. The whole story as a table: `history`
#
# `history(store, User, "ada")` lays the stream out as a pandas DataFrame, indexed by
# `version`, one row per event. These are its columns:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import history

ada_history = history(store, User, "ada")
list(ada_history.columns)

# %% [markdown]
# The most useful three: what happened (`event_type`), when (`timestamp`), and what it
# **changed** (`changes`, a dict `{field: (before, after)}`). The sign-up changes three fields
# at once; each later event changes one. `version` is left out of `changes`, because every
# event changes it.

# %%
# NBVAL_CHECK_OUTPUT
ada_history[["event_type", "timestamp", "changes"]]

# %% [markdown]
# The `state` column holds the whole state *after* each event, as a dict. Spread into columns,
# it reads like the table a CRUD system would have shown on each of those days, all of them
# at once:

# %%
# NBVAL_CHECK_OUTPUT
pd.DataFrame(ada_history["state"].tolist(), index=ada_history.index)

# %% [markdown]
# `history` reads the stream once and builds every row; `state_at` replays up to one point.
# They must agree. Check it for every version (version 0 is not a row: no event made it):

# %%
# NBVAL_CHECK_OUTPUT
all(
    state_at(store, User, "ada", version=version).state() == ada_history.loc[version, "state"]
    for version in ada_history.index
)

# %% [markdown]
# `describe_version(frame, N)` tells one row as plain text: the event, its data, what it
# changed and the state after it. It reads only the frame, so its output is the same on every
# run. Here is version 3, the second email change:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import describe_version

print(describe_version(ada_history, 3))

# %% [markdown]
# ## 6. A real log: the sample
#
# `data/sample_events.jsonl` holds a seeded log of 3,311 events: 600 users and 230 bank
# accounts over twelve weeks from 1 January 2024 (`data/README.md` describes it).
# `load_sample` finds the file and bulk-imports it, keeping every event's id, version,
# timestamp and position. Load it into DuckDB, in memory:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import DuckDBEventStore, load_sample

sample = DuckDBEventStore(":memory:", clock=StepClock(), ids=SeededIds(2))
print(load_sample(sample), "events loaded")

# %% [markdown]
# Which user has the most history? Count the events of each `User` stream and sort: most events
# first, and among equals the smallest id, so the pick is the same on every run (never "the
# first one the dict happened to return").

# %%
# NBVAL_CHECK_OUTPUT
log = events_frame(sample)
per_user = (
    log[log["aggregate_type"] == "User"]
    .groupby("aggregate_id")
    .size()
    .reset_index(name="events")
    .sort_values(["events", "aggregate_id"], ascending=[False, True], ignore_index=True)
)
busiest = per_user["aggregate_id"].iloc[0]
per_user.head(3)

# %% [markdown]
# Their history: a sign-up, three email changes, a new name, and a deactivation. Look at
# the `changes` column: the third email change puts back the address of version 2.

# %%
# NBVAL_CHECK_OUTPUT
busiest_history = history(sample, User, busiest)
busiest_history[["event_type", "timestamp", "changes"]]

# %% [markdown]
# ### Old events, read in today's shape
#
# The sample's first release recorded sign-ups as `UserRegistered`, with the fields `id`,
# `email` and `full_name` (an **old schema**). Today's code knows only `UserCreated` with
# `user_id`, `email` and `name`. An **upcaster** lifts the old events on every read: the stored
# events never change. Notebook 07 is about this; here, just see time travel use it.
#
# `events_frame` upcasts too, like every read, so `log` shows no `UserRegistered` at all;
# `events_frame(sample, upcast=False)` shows the log as stored. From it, pick the same way as
# above the user with the most events among those who signed up under the old schema. Then
# compare their first event as **stored** with the same event in `history`:

# %%
# NBVAL_CHECK_OUTPUT
as_stored = events_frame(sample, upcast=False)
old_signups = set(as_stored.loc[as_stored["event_type"] == "UserRegistered", "aggregate_id"])
old_user = per_user.loc[per_user["aggregate_id"].isin(old_signups), "aggregate_id"].iloc[0]

stored = sample.get_events(old_user)[0]
old_history = history(sample, User, old_user)
created = old_history.loc[1]
print(f"{old_user}, version 1 as stored:  {stored.event_type} {stored.data}")
print(f"{old_user}, version 1 in history: {created['event_type']} {created['data']}")

# %% [markdown]
# The history row does not say that the event was stored as `UserRegistered`: its
# `schema_version` is 1 either way (version 1 of the old type became version 1 of
# `UserCreated`). `history` shows what today's code applied; to see what was stored, read the
# stream from the store, as above.

# %% [markdown]
# ## 7. The interactive explorer
#
# `explore(store, User, user_id)` (in `esteach.notebook.explorer`) reads a stream once, as a
# `history` table, and shows a **slider** over its versions, 0 to the last. Drag it (or press
# Play): the view below it shows the event at that version, its data, and the state after it.
# The fields the event **changed** are highlighted, with their old value beside them.
#
# Moving the slider never reads the store again: every version is drawn from the table read
# at the start. If you see only a line `TimeTravelExplorer(...)` instead of a slider, this
# page is shown without widgets (a static viewer, or an untrusted notebook); use the plain-text
# version in section 8.

# %%
from esteach.notebook.explorer import explore

explorer = explore(sample, User, busiest)
explorer

# %% [markdown]
# The widget can be driven from code too: setting `explorer.slider.value` moves the slider
# above (scroll up and look) and redraws the view. `explorer.text` is what the view shows,
# as plain text. That is also how the explorer's tests work, without a browser.

# %%
# NBVAL_CHECK_OUTPUT
explorer.slider.value = 2
print(explorer.text.splitlines()[0])

# %% [markdown]
# ## 8. Optional: the plain-text fallback
#
# `explorer_text(store, User, user_id, version)` gives the same account as a string: use it
# where widgets do not show, or to paste into a ticket. Version 0 is the user before their
# first event; version 4 is the third email change, which went back to an earlier address.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.notebook.explorer import explorer_text

print(explorer_text(sample, User, busiest, 0))
print()
print(explorer_text(sample, User, busiest, 4))

# %% [markdown]
# ## 9. An audit question
#
# Support writes: *"We sent a password reset to the user below on 2 March 2024. Which address
# did it go to?"* The user is `old_user`, the old-schema user of section 6.
#
# Before running anything, look at their history and **predict** the answer:

# %%
# NBVAL_CHECK_OUTPUT
print("user:", old_user)
old_history[["event_type", "timestamp", "changes"]]

# %% [markdown]
# The catch: **a date is not a moment**. This user changed their email *during* 2 March, at
# 14:56 UTC. So the honest answer depends on when on that day the reset was sent. Ask
# `state_at` at the first and at the last moment of the day (UTC; "2 March" in another time
# zone covers other hours):

# %%
# NBVAL_CHECK_OUTPUT
day = datetime(2024, 3, 2, tzinfo=UTC)
start_of_day = day
end_of_day = day + timedelta(days=1) - timedelta(microseconds=1)

for label, moment in [("start of day", start_of_day), ("end of day  ", end_of_day)]:
    then = state_at(sample, User, old_user, at=moment)
    print(f"{label} {moment.isoformat()}: version {then.version}, email {then.email!r}")

# %% [markdown]
# Double-check with the `history` table, by hand: keep the rows committed at or before the
# moment, take the last one, read its state. Both ways must give the same email.

# %%
# NBVAL_CHECK_OUTPUT
for moment in [start_of_day, end_of_day]:
    rows_until_then = old_history[old_history["timestamp"] <= moment]
    version = rows_until_then.index[-1]
    email = rows_until_then.loc[version, "state"]["email"]
    same = email == state_at(sample, User, old_user, at=moment).email
    print(f"version {version}: {email!r}, the same as state_at: {same}")

# %% [markdown]
# So the answer for support is: *"before 14:56 UTC it went to the first address, after that to
# the second; tell us the time the reset was sent."* Questions like this over many users at
# once are SQL over the log: notebook 09 does time travel in SQL.
#
# **Your turn.** Change `question_day` below to another date, predict the answer from the
# table above, then run the cell. Try 10 January (before this user existed) and 20 March
# (after the deactivation: the email is still there, but the status says `deactivated`).

# %%
question_day = datetime(2024, 2, 20, tzinfo=UTC)

end_of_question_day = question_day + timedelta(days=1) - timedelta(microseconds=1)
then = state_at(sample, User, old_user, at=end_of_question_day)
print(f"end of {question_day:%d %B %Y}: exists={then.exists}, email={then.email!r}")
print("status:", then.status)

# %% [markdown]
# Close the DuckDB store; it lived in memory, so nothing is left on disk.

# %%
sample.close()

# %% [markdown]
# ## Recap
#
# - An event log keeps the facts, so the past can be rebuilt: **time travel is replay, stopped
#   early**. Nothing extra is stored.
# - `state_at(store, Cls, id, version=N)`: the state after the stream's N-th event.
#   `version=0` is the aggregate before its first event: it does not exist yet.
# - `state_at(..., at=moment)`: the state after **the last event committed at or before** the
#   moment (the boundary counts). Before the first event: version 0. The moment must carry a
#   time zone.
# - This works because the store stamps events **at commit**, never decreasing along the log
#   (the reference design's flaw 13 broke it).
# - `at=` answers **"what had been recorded by then?"** (recorded time). "What was true then?"
#   can differ when facts are recorded late or back-dated; it needs a business time such as
#   `occurred_at` in the events' data.
# - `history(store, Cls, id)`: one row per event with its type, time, data, the **state after
#   it** and what it **changed**. `describe_version` tells one row as text.
# - Old-schema events are **upcast** on every read, time travel included; the stored events
#   stay as written.
# - `explore(...)` is a slider over the versions, highlighting what each event changed;
#   `explorer_text(...)` is its plain-text twin.
# - A date is not a moment: an audit question about "a day" may have two answers.

# %% [markdown]
# ## Quiz
#
# 1. Ada's stream has `UserCreated` committed at 1 March 09:00 UTC and `UserEmailChanged` at
#    2 March 09:00 UTC. Which email does `state_at(..., at=datetime(2024, 3, 2, 9, 0, tzinfo=UTC))`
#    show?
#
# <details><summary>Answer</summary>
#
# The new one. The rule is "the last event committed **at or before** the moment", and an event
# committed at exactly 09:00:00 has happened by 09:00:00. One microsecond earlier, the old
# email.
#
# </details>
#
# 2. `state_at(..., at=datetime(2023, 12, 31, tzinfo=UTC))` for a user who signed up in 2024
#    does not raise an error. What does it return, and why is that right?
#
# <details><summary>Answer</summary>
#
# A `User` at version 0: `exists` is `False`, email and name empty, status `None`. The
# question "what had been recorded by then?" has a true answer: the user did not exist yet. A version the
# stream has *not reached yet* (`version=7` for a stream at 4) is different: that is asking
# about the future, and it is refused.
#
# </details>
#
# 3. What would go wrong with `state_at(at=...)` in the reference design, where events were
#    stamped when they were converted, not when they were committed?
#
# <details><summary>Answer</summary>
#
# Timestamps could disagree with the order of commits: a writer that converted first but
# committed second would store an earlier time after a later one. Then "the events at or
# before a moment" is not a prefix of the stream any more, and replaying a prefix would
# rebuild a state that never existed, or miss one that did. esteach stamps at commit, so
# timestamps never decrease along the log (flaw 13).
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors, and the slider in section 7 moves the view.
#
# **Exercises for this lesson:** [04_exercises_time_travel_learner](exercises/04_exercises_time_travel_learner.ipynb).
#
# Next: [05 · Snapshots and caching](05_snapshots_and_caching.ipynb).
