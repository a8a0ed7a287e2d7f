# %% [markdown]
# # 03 · Replay and projections (the CQRS read side)
#
# **Time box:** 70 minutes · **You will:**
#
# - say why queries get a **read model** of their own, apart from the log (CQRS);
# - write a **projection** by hand, as a function of the log, and keep it up to date;
# - run one with an `EventProcessor`: handlers by business event type, and a **checkpoint**
#   stored in the same transaction as the read model;
# - **catch up** from the checkpoint, also after a restart;
# - see **idempotency**: an event delivered twice is skipped, and `rebuild()` gives the same
#   table as the incremental path, however often it runs;
# - watch **eventual consistency**: the **lag** after a command, and **read-your-writes** with
#   `wait_for_position`;
# - watch a failing handler roll back its page, leaving the checkpoint where it was;
# - query `UserQueryModel` (get, list newest first, search literally) and `AccountBalances`,
#   projected from the sample log with its old-schema events.
#
# Run the cells from top to bottom. The prose before each cell says what to look for.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Two sides: commands write the log, queries read a model
#
# Notebooks 01 and 02 built the **write side**: a command loads one aggregate from its
# stream, the aggregate decides, and the events are appended. That is all the write side
# needs: one stream at a time, read by id.
#
# Queries ask different questions: "the 20 newest users", "every user whose name contains
# *ada*", "the total deposited into all accounts". The log can answer them only by replaying
# every stream for every question, and loading aggregates one id at a time is no better.
#
# **CQRS** (Command Query Responsibility Segregation) splits the two:
#
# | | write side (commands) | read side (queries) |
# | --- | --- | --- |
# | holds | the event log: the truth | **read models**: tables shaped for the questions |
# | changed by | commands, through aggregates | **projections**, which read the log |
# | asked for | one stream, by id | lists, pages, searches, totals |
#
# A **projection** is a function of the log: it reads events in global order and writes a
# read model. Two consequences shape everything in this notebook:
#
# - a read model can be thrown away and **rebuilt** from the log at any time: the log is the
#   truth, the model only a convenient copy;
# - a read model is updated *after* the log, so for a moment it is behind: the read side is
#   **eventually consistent**.
#
# First, a store with an injected clock and id factory (so every run prints the same), and a
# few commands through a `CommandProcessor`.

# %%
# NBVAL_CHECK_OUTPUT
from datetime import UTC, datetime, timedelta

from esteach import CommandProcessor, InMemoryEventStore, SeededIds, StepClock, events_frame
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
users = CommandProcessor(store, User, ids=SeededIds(1))

users.process_command(CreateUser("ada", "ada@example.com", "Ada Lovelace"))
users.process_command(CreateUser("grace", "grace@example.com", "Grace Hopper"))
users.process_command(ChangeEmail("ada", "ada@lovelace.org"))
users.process_command(CreateUser("lin", "lin@example.com", "Lin"))
users.process_command(ChangeName("ada", "Augusta Ada King"))

events_frame(store)[["global_position", "aggregate_id", "event_type", "data"]]

# %% [markdown]
# ## 2. A projection by hand
#
# The question: "what is each user called?" The answer is a dict from user id to name. One
# step of the projection takes the dict and one event and returns the dict after it; the
# projection is that step folded over the log, from an empty dict. Look at the result: Ada's
# latest name, and nothing from the `UserEmailChanged` event, which this projection ignores.


# %%
# NBVAL_CHECK_OUTPUT
def apply_to_names(names, event):
    """One step: the names after this event."""
    if event.event_type == "UserCreated":
        names[event.aggregate_id] = event.data["name"]
    elif event.event_type == "UserNameChanged" and event.aggregate_id in names:
        names[event.aggregate_id] = event.data["new_name"]
    return names


def project_names(events):
    """The projection: every step, in global order, from nothing."""
    names = {}
    for event in events:
        apply_to_names(names, event)
    return names


project_names(store.read_all())

# %% [markdown]
# Replaying the whole log for every question would be wasteful. A projection that runs along
# keeps its dict *and* the global position of the last event it applied: its **checkpoint**.
# When more events arrive it continues with `read_all(checkpoint + 1)` (reads are inclusive,
# notebook 02). Look at the last line: catching up step by step gives exactly what a full
# replay gives.

# %%
# NBVAL_CHECK_OUTPUT
names, checkpoint = {}, 0


def catch_up_by_hand():
    global checkpoint
    for event in store.read_all(checkpoint + 1):
        apply_to_names(names, event)
        checkpoint = event.global_position


catch_up_by_hand()
print("checkpoint", checkpoint, names)
users.process_command(ChangeName("grace", "Rear Admiral Grace Hopper"))
catch_up_by_hand()
print("checkpoint", checkpoint, names)
print("the same as a full replay:", names == project_names(store.read_all()))

# %% [markdown]
# This dict lives in memory, so every restart replays from position 1. Saving it to disk
# raises the real question: the rows and the checkpoint must be saved **together**. Save the
# rows, crash before the checkpoint, and the restart applies those events again (harmless for
# a name, wrong for a running total); save the checkpoint first and crash, and they are
# skipped for good. The reference design had no checkpoint at all and replayed by wall-clock
# time, which is not a total order (flaw 7; notebook 08 imitates it).

# %% [markdown]
# ## 3. `EventProcessor`: handlers by business event type
#
# `EventProcessor` runs one projection into DuckDB. You give it:
#
# - a **name** (its checkpoint is stored under it) and a **database**: `":memory:"`, a file,
#   or an open DuckDB connection;
# - **schema** SQL that creates the read model's tables, and the **tables** that a rebuild
#   drops;
# - a **handler** per event type: `handler(conn, event)` writes through `conn`. Events of other
#   types are passed over (their positions still count).
#
# Here is the names projection again, this time as SQL: an `INSERT OR REPLACE` for a new user,
# an `UPDATE` for a rename. It goes into a DuckDB file in a temporary folder, so that we can
# "restart" it later and nothing is left in your checkout. A function makes the processor, so
# that the restart can make it again.

# %%
# NBVAL_CHECK_OUTPUT
import tempfile
from pathlib import Path

from esteach import EventProcessor

folder = Path(tempfile.mkdtemp(prefix="esteach-03-"))
read_db = folder / "read-model.duckdb"

NAMES_SCHEMA = "CREATE TABLE IF NOT EXISTS names (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL)"


def on_user_created(conn, event):
    conn.execute(
        "INSERT OR REPLACE INTO names VALUES (?, ?)", [event.aggregate_id, event.data["name"]]
    )


def on_user_name_changed(conn, event):
    conn.execute(
        "UPDATE names SET name = ? WHERE id = ?", [event.data["new_name"], event.aggregate_id]
    )


def names_projection():
    processor = EventProcessor(
        store, name="names", database=read_db, schema=NAMES_SCHEMA, tables=["names"]
    )
    processor.register_event_handler("UserCreated", on_user_created)
    processor.register_event_handler("UserNameChanged", on_user_name_changed)
    return processor


names_view = names_projection()
names_view

# %% [markdown]
# Handlers are registered under the **business name** of the event, the same name the store
# records. The reference design stored a type path (`my_app::domain::UserEvent`) but
# registered handlers under `"UserCreated"`, so no handler ever fired (flaw 1). esteach
# refuses a type path at registration too:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidInput

try:
    names_view.register_event_handler("esteach.domains.user.UserCreated", on_user_created)
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## 4. One event, and the checkpoint
#
# `process_event(event)` applies one recorded event and moves the checkpoint to its global
# position. Look at both tables afterwards: the read model has Ada, and the table
# `projection_checkpoints`, in the same database, says that `names` is at position 1.

# %%
# NBVAL_CHECK_OUTPUT
first = store.read_all()[0]
print("applied:", names_view.process_event(first), "| checkpoint:", names_view.position)
print("names:      ", names_view.query("SELECT * FROM names"))
print("checkpoints:", names_view.query("SELECT * FROM projection_checkpoints"))

# %% [markdown]
# Here is how a page of events is applied. Read it: the handlers run and the checkpoint moves
# inside **one** transaction, so either both are committed or neither is. That is the answer
# to the question at the end of section 2.

# %%
import inspect

print(inspect.getsource(EventProcessor._apply_page))

# %% [markdown]
# ## 5. Catch-up from the checkpoint
#
# `catch_up()` applies every event after the checkpoint, a page (up to 10,000 events) per
# transaction, and returns how many it applied. `lag()` is how many events the model is
# behind the store. Look at the counts: 5 events applied (positions 2 to 6), although only
# four of them have a handler: the `UserEmailChanged` at position 3 is passed over, and the
# checkpoint moves past it all the same.

# %%
# NBVAL_CHECK_OUTPUT
print("lag before:", names_view.lag())
print("applied:", names_view.catch_up(), "| checkpoint:", names_view.position)
print("lag after: ", names_view.lag())
names_view.query("SELECT * FROM names ORDER BY id")

# %% [markdown]
# Now a restart. Close the processor (as if the process stopped), run two more commands, then
# make the processor again on the same file. Handlers are code, so they are registered again;
# the rows and the checkpoint are data, and they are still there. Look at the checkpoint it
# reads back (6) and at how many events the catch-up applies: only the two new ones.

# %%
# NBVAL_CHECK_OUTPUT
names_view.close()
users.process_command(CreateUser("mae", "mae@example.com", "Mae Jemison"))
users.process_command(ChangeName("lin", "Lin Yutang"))

names_view = names_projection()  # a new process, the same database file
print("checkpoint read back:", names_view.position, "| lag:", names_view.lag())
print("applied:", names_view.catch_up(), "| checkpoint:", names_view.position)
names_view.query("SELECT * FROM names ORDER BY id")

# %% [markdown]
# ## 6. Idempotency: twice is the same as once
#
# Messages get delivered twice: a retry after a timeout, a subscription that restarts a little
# early. A projection is **idempotent** if applying an event again changes nothing. The
# checkpoint makes that so: an event at or below it is skipped. Deliver the very first event
# again, look at `False` (not applied), the `skipped` counter, and the table.
#
# This rests on one assumption: events arrive **in order of position**, as `read_all` hands
# them out. A message queue that may deliver position 7 before 6 breaks it: 7 moves the
# checkpoint, and 6, arriving late, looks like a duplicate and is skipped for good. That is
# why esteach refuses an event further ahead than the next position (the last cell of this
# section) instead of applying it. A consumer of such a queue must put events back in order
# first (buffer them by position), or remember the ids of the events it has applied and skip
# by id instead of by checkpoint.

# %%
# NBVAL_CHECK_OUTPUT
before = names_view.query("SELECT * FROM names ORDER BY id")
print("applied:", names_view.process_event(store.read_all()[0]))
print("skipped:", names_view.skipped)
print("table unchanged:", names_view.query("SELECT * FROM names ORDER BY id") == before)

# %% [markdown]
# `rebuild()` drops the tables, creates them again, resets the checkpoint to 0 and replays the
# whole log. You need it when a handler changes (already processed events are not revisited)
# or a new read model starts on an old log. Rebuild twice and compare with the table the
# incremental path built: the same rows, one per user. (The handlers are upserts and updates,
# never plain `INSERT`s, so even a replay over existing rows could not double them.)

# %%
# NBVAL_CHECK_OUTPUT
print("rebuild applied:", names_view.rebuild())
print("rebuild applied:", names_view.rebuild())
print(
    "the same table as incremental:", names_view.query("SELECT * FROM names ORDER BY id") == before
)
names_view.query("SELECT id, count(*) AS row_count FROM names GROUP BY id ORDER BY id")

# %% [markdown]
# An event further *ahead* than the next position is refused too: applying it would skip the
# events in between for good. The message says what to do instead.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import ProjectionError

users.process_command(CreateUser("alan", "alan@example.com", "Alan Turing"))
users.process_command(CreateUser("katherine", "katherine@example.com", "Katherine Johnson"))
try:
    names_view.process_event(store.read_all()[-1])
except ProjectionError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# Done with the file: close the processor and delete the temporary folder.

# %%
import shutil

names_view.close()
shutil.rmtree(folder)

# %% [markdown]
# ## 7. Eventual consistency, lag, and reading your own writes
#
# `UserQueryModel` is esteach's read model of users (the reference design's `users` table):
# id, email, name, status, and creation and update times. Build it in memory and catch up.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import UserQueryModel

model = UserQueryModel(store)
print("applied:", model.catch_up(), "| lag:", model.lag())

# %% [markdown]
# A command changes the log at once; the read model only when it catches up. Until then it
# answers with the old state: it is **eventually consistent**. Look at the lag after the
# command (1), the stale email, then the fresh one after `catch_up()`.

# %%
# NBVAL_CHECK_OUTPUT
result = users.process_command(ChangeEmail("alan", "alan@bletchley.example"))
print("written at position", result.position, "| lag:", model.lag())
print("read model says:", model.get_user("alan").email)
model.catch_up()
print("after catch_up:  ", model.get_user("alan").email, "| lag:", model.lag())

# %% [markdown]
# In a real system a worker runs the projection in the background, and a user who just
# changed their email reloads the page a few milliseconds later. To **read your own writes**,
# the request that wrote waits until the read model has reached the position of its last
# event: `wait_for_position(result.position)`. It returns the checkpoint. A command that
# changed nothing has `position = None`, and waiting for it returns at once.
#
# No worker runs yet in this notebook, so here `wait_for_position` does the catching up
# itself, in the caller, while it waits. A real background worker comes after the timeout.

# %%
# NBVAL_CHECK_OUTPUT
result = users.process_command(ChangeName("katherine", "Katherine G. Johnson"))
print(
    "reached:",
    model.wait_for_position(result.position),
    "| name:",
    model.get_user("katherine").name,
)
same = users.process_command(ChangeName("katherine", "Katherine G. Johnson"))
print("no-op position:", same.position, "| reached:", model.wait_for_position(same.position))

# %% [markdown]
# Waiting is bounded: after `timeout` seconds it raises `ProjectionTimeout`, with a message
# that says where the model is. Here we wait for a position no command has written yet.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import ProjectionTimeout

try:
    model.wait_for_position(99, timeout=0.05)
except ProjectionTimeout as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# Now a **real background worker**: a thread that does what a projection service does all
# day, catch up, then sleep a little, and again. The request writes, then waits for the
# *worker* to reach its position: `catch_up_here=False` tells `wait_for_position` to watch
# the checkpoint and not do the worker's job. Which of the worker's rounds picks the event up
# depends on timing, so the cell prints only what must hold every time: the worker reached
# the write, and the read model answers with the new email.

# %%
# NBVAL_CHECK_OUTPUT
import threading

stop = threading.Event()


def projection_worker():
    """The read side's background worker: catch up, wait 10 ms, repeat until stopped."""
    while not stop.is_set():
        model.catch_up()
        stop.wait(0.01)


worker = threading.Thread(target=projection_worker, name="users-projection")
worker.start()
try:
    # The request: write, wait for the worker to project it, then read.
    result = users.process_command(ChangeEmail("katherine", "katherine@nasa.example"))
    reached = model.wait_for_position(result.position, timeout=5, catch_up_here=False)
    print("the worker reached the write:", reached >= result.position)
    print("read model says:", model.get_user("katherine").email)
finally:
    stop.set()
    worker.join()
print("worker stopped:", not worker.is_alive())

# %% [markdown]
# Waiting is one way to read your own writes, and it makes the request as slow as the
# projection. Two others are common:
#
# - **Return the new state from the command.** The write side has just decided and applied
#   the events, so it knows the aggregate's new state; the request shows that (or the
#   `CommandResult`'s version and position) and reads nothing from the read model. This
#   serves the writer's own screen, not a list or a search that other events also feed.
# - **A version token.** The write returns its position to the client (in a header or a
#   cookie), and the client sends it with its next read. A read-side server answers only once
#   its checkpoint has reached that token, or says "not yet, retry". That is
#   `wait_for_position` spread across requests and servers, and it lets the read side scale
#   out without losing the guarantee.

# %% [markdown]
# ## 8. A handler that fails
#
# Handlers are code, and code has bugs. Here is a projection of each user's current email
# whose `UserEmailChanged` handler reads the wrong field: the event's field is `new_email`
# (look at the first table of this notebook).

# %%
EMAILS_SCHEMA = "CREATE TABLE IF NOT EXISTS emails (id VARCHAR PRIMARY KEY, email VARCHAR NOT NULL)"


def on_created_email(conn, event):
    conn.execute(
        "INSERT OR REPLACE INTO emails VALUES (?, ?)", [event.aggregate_id, event.data["email"]]
    )


def on_email_changed_buggy(conn, event):
    conn.execute(
        "UPDATE emails SET email = ? WHERE id = ?", [event.data["email"], event.aggregate_id]
    )


emails = EventProcessor(store, name="emails", schema=EMAILS_SCHEMA, tables=["emails"])
emails.register_event_handler("UserCreated", on_created_email)
emails.register_event_handler("UserEmailChanged", on_email_changed_buggy)

# %% [markdown]
# The whole log fits in one page, so `catch_up()` opens one transaction. Events 1 and 2 (two
# `UserCreated`) are applied, then event 3 fails. Read the error: which projection, handler,
# event, position and stream, the original `KeyError`, and what happened. Then look at the
# table and the checkpoint: the page was rolled back, Ada and Grace's rows included, and the
# checkpoint is still 0. No half-applied page, no event lost.

# %%
# NBVAL_CHECK_OUTPUT
try:
    emails.catch_up()
except ProjectionError as error:
    print(f"{type(error).__name__}: {error}")
    print("failed at:", error.position, error.event_type, error.handler)
print("rows:", emails.query("SELECT count(*) FROM emails")[0][0], "| checkpoint:", emails.position)

# %% [markdown]
# Fix the handler, register it in place of the buggy one, and catch up again. Every event is
# applied, from position 1.


# %%
# NBVAL_CHECK_OUTPUT
def on_email_changed(conn, event):
    conn.execute(
        "UPDATE emails SET email = ? WHERE id = ?", [event.data["new_email"], event.aggregate_id]
    )


emails.register_event_handler("UserEmailChanged", on_email_changed)
print("applied:", emails.catch_up(), "| lag:", emails.lag())
emails.query("SELECT * FROM emails ORDER BY id")

# %% [markdown]
# ## 9. Queries on `UserQueryModel`
#
# Its table and handlers come from the package. Notice `created_position`: the global position
# of the user's `UserCreated`, kept to break ties (below).

# %%
import esteach.readmodels.users

print(esteach.readmodels.users.USERS_SCHEMA)
print(inspect.getsource(esteach.readmodels.users.on_user_name_changed))

# %% [markdown]
# `get_user(id)` returns one row as a `UserView`, timestamps in UTC, or `None`. Ada's
# `updated_at` is the time of her rename; `created_at` that of her `UserCreated`.

# %%
# NBVAL_CHECK_OUTPUT
print(model.get_user("ada"))
print(model.get_user("nobody"))

# %% [markdown]
# `list_users(page, page_size)` lists users **newest first**, by creation time. Pages start at
# 1. Look at the order: Katherine was created last, Ada first; renames do not move anyone up.

# %%
# NBVAL_CHECK_OUTPUT
for page in (1, 2, 3):
    print(page, [user.id for user in model.list_users(page, page_size=3)])

# %% [markdown]
# Creation times are not unique: events of one append share a timestamp, and so can commits
# in the same instant (notebook 02). Ordering by time alone would leave ties in whatever order
# the database happens to return, and a user could show up on two pages, or on none. The
# **tie-break rule**: among equal `created_at`, the later `UserCreated` (higher global
# position) comes first, so the order is total and the same on every call. To see it, a store
# whose clock never moves: five users, all created at the same instant.

# %%
# NBVAL_CHECK_OUTPUT
frozen = InMemoryEventStore(clock=StepClock(step=timedelta(0)), ids=SeededIds(5))
frozen_users = CommandProcessor(frozen, User, ids=SeededIds(6))
for name in ["u1", "u2", "u3", "u4", "u5"]:
    frozen_users.process_command(CreateUser(name, f"{name}@example.com", name.upper()))
tied = UserQueryModel(frozen)
tied.catch_up()
print("distinct created_at:", len({user.created_at for user in tied.list_users(1, 5)}))
for page in (1, 2, 3):
    print(page, [user.id for user in tied.list_users(page, page_size=2)])

# %% [markdown]
# `search_users(query, page, page_size)` finds users whose name or email contains the text,
# ignoring case, newest first. Two more users have a `%` and a `_` in their data.

# %%
# NBVAL_CHECK_OUTPUT
users.process_command(CreateUser("pat", "pat@example.com", "Pat 100% Cook"))
users.process_command(CreateUser("sam", "sam_w@example.com", "Sam Wu"))
model.catch_up()
for query in ["ada", "ADA", "HOPPER", "example.com"]:
    print(f"{query!r:<15}", [user.id for user in model.search_users(query)])

# %% [markdown]
# The reference design put the user's text straight into a `LIKE '%…%'` pattern, where `%`
# means "anything" and `_` "any one character" (flaw 6). Compare: the same text as a LIKE
# pattern, run by hand on the model's table, against `search_users`, which treats every
# character literally. Searching for `%` should find only Pat.

# %%
# NBVAL_CHECK_OUTPUT
for query in ["%", "_"]:
    pattern = f"%{query}%"
    [(like,)] = model.processor.query(
        "SELECT count(*) FROM users WHERE name ILIKE ? OR email ILIKE ?", [pattern, pattern]
    )
    found = [user.id for user in model.search_users(query)]
    print(
        f"{query!r}: as a LIKE pattern {like} of {model.count_users()} users; search_users {found}"
    )

# %% [markdown]
# Bad pages are refused before any SQL runs. The reference design computed a negative offset
# for page 0 and accepted any page size, so one request could fetch the whole table (flaw 5).
# Here pages start at 1 and `page_size` is at most `MAX_PAGE_SIZE`.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import MAX_PAGE_SIZE

print("MAX_PAGE_SIZE =", MAX_PAGE_SIZE)
for page, page_size in [(0, 20), (1, 101)]:
    try:
        model.list_users(page, page_size)
    except InvalidInput as error:
        print(f"page={page}, page_size={page_size}: {type(error).__name__}: {error}")

# %% [markdown]
# ## 10. Optional: the sample log, users and balances
#
# `data/sample_events.jsonl` holds 3,311 events: 600 users and 230 bank accounts over twelve
# weeks (notebook 04 and `data/README.md` describe it). `load_sample` bulk-imports it. Any
# store will do for a projection; the in-memory one loads fastest.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import load_sample

sample = InMemoryEventStore(clock=StepClock(), ids=SeededIds(2))
print(load_sample(sample), "events loaded")
log = sample.read_all()

# %% [markdown]
# The first three weeks of the sample were written by an older release, which recorded
# sign-ups as `UserRegistered {id, email, full_name}`. Today's code knows only `UserCreated
# {user_id, email, name}`; an **upcaster** lifts the old shape on read (notebook 07). Our
# hand-made projection from section 2 reads the raw log and misses every old sign-up, without
# a word. Lift each event through the `registry` first, as `EventProcessor` does before it
# calls a handler, and every user is there.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import registry

print("UserRegistered events (old schema):", sum(e.event_type == "UserRegistered" for e in log))
print("users by hand, raw log:    ", len(project_names(log)))
print("users by hand, upcast log: ", len(project_names(registry.upcast(e) for e in log)))
print(
    "one old event, upcast:     ", registry.upcast(log[0]).event_type, registry.upcast(log[0]).data
)

# %% [markdown]
# Now the two read models of the package, in **one** DuckDB database (an open connection
# passed as `database`), so that SQL can join them. Each has its own checkpoint, a row of the
# shared `projection_checkpoints` table. Each model reads all 3,311 events and applies those
# it has handlers for; this is the slowest cell, a second or two.

# %%
# NBVAL_CHECK_OUTPUT
import duckdb

from esteach import AccountBalances

read_side = duckdb.connect()  # in memory: one database, two read models
sample_users = UserQueryModel(sample, database=read_side)
balances = AccountBalances(sample, database=read_side)
print("users model applied:   ", sample_users.catch_up())
print("balances model applied:", balances.catch_up())
print("users:", sample_users.count_users())
print(read_side.sql("SELECT * FROM projection_checkpoints ORDER BY name").fetchall())

# %% [markdown]
# `user-0541` signed up with the old release (it is the log's first event). The read model
# shows the name the old event called `full_name`:

# %%
# NBVAL_CHECK_OUTPUT
old_user = sample_users.get_user("user-0541")
print(old_user.id, "|", old_user.name, "|", old_user.email, "|", old_user.status)
print("created:", old_user.created_at)

# %% [markdown]
# The three newest users, the first page of a search, and the users per status: each answer is
# one small query on a table shaped for it.

# %%
# NBVAL_CHECK_OUTPUT
for user in sample_users.list_users(1, page_size=3):
    print(user.created_at, user.id, user.name)
print("search 'torvalds':", [user.id for user in sample_users.search_users("torvalds", 1, 5)])
print(
    read_side.sql(
        "SELECT status, count(*) AS users FROM users GROUP BY ALL ORDER BY ALL"
    ).fetchall()
)

# %% [markdown]
# `AccountBalances` answers in integer **cents**: `get_balance(id)`, `total_deposits()`, and
# `list_accounts(page, page_size)`, most recently opened first. Look at the check in the
# middle: the read model's total equals the sum of every `MoneyDeposited` in the log.

# %%
# NBVAL_CHECK_OUTPUT
print("balance of account-0538:", balances.get_balance("account-0538"), "cents")
print("balance of account-9999:", balances.get_balance("account-9999"))
total = balances.total_deposits()
print(f"total deposits: {total:,} cents = {total / 100:,.2f}")
from_log = sum(e.data["amount"] for e in log if e.event_type == "MoneyDeposited")
print("equals the sum over the log:", total == from_log)
for account in balances.list_accounts(1, page_size=3):
    print(account)

# %% [markdown]
# Both read models live in one database, so one SQL query can join them: the three largest
# balances with their owners' current names.

# %%
# NBVAL_CHECK_OUTPUT
read_side.sql(
    """
    SELECT a.account_id, u.name AS owner, a.balance AS balance_cents, a.status
    FROM accounts a JOIN users u ON u.id = a.owner
    ORDER BY a.balance DESC, a.account_id
    LIMIT 3
    """
).df()

# %% [markdown]
# ## 11. Optional: a set-based rebuild
#
# Applying events one by one costs a few statements per event. A rebuild starts from empty
# tables, so it can do better: `UserQueryModel.rebuild(set_based=True)` takes the user events
# as one table, `user_log` (position, stream, type, time, and the `email` and `name` each
# event carries), and folds them into the final rows with one SQL statement. Here it is:

# %%
print(esteach.readmodels.users.USERS_FROM_EVENTS)

# %% [markdown]
# `arg_max(email, position)` is "the email of the user's latest event that has one": the fold
# replays every user at once. Where do `email` and `name` come from? The loader asks the log
# for them by event type (`USER_COLUMNS_FROM_DATA`: `email` is `UserCreated`'s `email` and
# `UserEmailChanged`'s `new_email`), and a `DuckDBEventStore` reads them out of its JSON
# column in its own SQL (`data->>'new_email'`). The table crosses from the store's connection
# to the read model's as Arrow columns: the rows never become Python objects. Only events an
# upcaster must lift (the old `UserRegistered`) pass through Python on the way, just as they
# would on any other read. That is why it is so much faster on a large log.

# %% [markdown]
# It must give exactly the table the per-event path gave. Compare them on the sample:

# %%
# NBVAL_CHECK_OUTPUT
per_event = read_side.sql("SELECT * FROM users ORDER BY ALL").fetchall()
print("set-based rebuild applied:", sample_users.rebuild(set_based=True))
print("the same table:", read_side.sql("SELECT * FROM users ORDER BY ALL").fetchall() == per_event)
print("checkpoint:", sample_users.position)

# %% [markdown]
# How much faster is it? A larger log: `n_users` users, each created and given a new email,
# every tenth one deactivated. The size follows the notebook size knob: at full size (what you
# run) it is 5,000 users, about 10,500 events, and the per-event rebuild takes around 5 to 15
# seconds. (The copy in the repository was built at test size and shows no timings: they
# would differ on every run. Run the cell to see yours.)

# %%
import time

from esteach.notebook import size

n_users = size(small=100, full=5_000)
big = InMemoryEventStore(clock=StepClock(), ids=SeededIds(20))
writer = CommandProcessor(big, User, ids=SeededIds(21))
for i in range(n_users):
    user_id = f"user-{i:06d}"
    writer.process_command(CreateUser(user_id, f"{user_id}@example.com", f"User {i}"))
    writer.process_command(ChangeEmail(user_id, f"{user_id}@example.org"))
    if i % 10 == 0:
        writer.process_command(DeactivateUser(user_id))

big_model = UserQueryModel(big)
seconds = {}
started = time.perf_counter()
big_model.rebuild()
seconds["per event"] = time.perf_counter() - started
big_per_event = big_model.processor.query("SELECT * FROM users ORDER BY ALL")
started = time.perf_counter()
big_model.rebuild(set_based=True)
seconds["set-based"] = time.perf_counter() - started
big_set_based = big_model.processor.query("SELECT * FROM users ORDER BY ALL")

if size(small=True, full=False):  # how the stored copy was built: timings would differ each run
    print("Built at test size, without timings: run this cell to measure your machine.")
else:
    events = big.head_position()
    for how, took in seconds.items():
        print(f"{how:<10} {events:,} events in {took:6.2f} s = {events / took:>9,.0f} events/s")

# %% [markdown]
# Whatever the size, the two rebuilds must agree:

# %%
# NBVAL_CHECK_OUTPUT
print("the same table:", big_set_based == big_per_event)
print("one row per user:", big_model.count_users() == n_users)
print(
    "a tenth deactivated:",
    big_model.processor.query("SELECT count(*) FROM users WHERE status = 'deactivated'")[0][0] * 10
    == n_users,
)

# %% [markdown]
# The set-based path pays off only when the whole log is folded at once: a new read model, a
# changed handler, a model built from a copy of the log. Every day, `catch_up` applies the
# events since the last checkpoint, and that path has a faster form too.
#
# ## 12. Optional: catching up a page at a time
#
# A handler `handler(conn, event)` runs a statement or two per event, and each DuckDB
# statement costs a fraction of a millisecond whatever it does: a busy application can write
# events faster than such a read model applies them. A **page handler** `handler(conn,
# events)` gets all the events of its types in one page of the catch-up (in global order) and
# writes them with a few statements: it stages their fields as one table and lets SQL fold
# them, as the set-based rebuild does, but on top of the rows already there. It is registered
# with `processor.register_page_handler(event_types, handler)`, and it runs in the page's
# transaction with the checkpoint, exactly like the per-event handlers.
#
# `UserQueryModel` uses one, `on_user_events`, for its four event types. The events of one user
# may come together in a page (created, then renamed, then deactivated), so order matters:
# users created in the page get their whole row folded from their events; users only changed
# get the last value of each field on their existing row.

# %%
print(inspect.getsource(esteach.readmodels.users.on_user_events))
print(esteach.readmodels.users.USERS_CHANGED_IN_PAGE)

# %% [markdown]
# The per-event handlers are still there (`UserQueryModel.handlers`); a subclass without page
# handlers runs them. Catch up a new read model both ways on the larger log of section 11,
# and compare the tables and the time. (At test size, the stored copy shows only whether they
# agree and which is faster; run the cell at full size to see the factor on your machine.)

# %%
# NBVAL_CHECK_OUTPUT
from typing import ClassVar


class UsersEventByEvent(UserQueryModel):
    page_handlers: ClassVar = {}  # no page handlers: the per-event ones run


took, tables = {}, {}
for how, model_class in [("per event", UsersEventByEvent), ("by page", UserQueryModel)]:
    fresh = model_class(big)
    started = time.perf_counter()
    fresh.catch_up()
    took[how] = time.perf_counter() - started
    tables[how] = fresh.processor.query("SELECT * FROM users ORDER BY ALL")
    fresh.close()
print("the same table:", tables["per event"] == tables["by page"] == big_per_event)
print("by page is faster:", took["by page"] < took["per event"])

# %%
if not size(small=True, full=False):  # timings only where you run it: they differ each run
    events = big.head_position()
    for how, seconds_taken in took.items():
        print(f"{how:<10} {events:,} events: {events / seconds_taken:>9,.0f} events/s")
    print(f"by page: {took['per event'] / took['by page']:.0f}x the per-event rate")

# %% [markdown]
# The suite in `benchmarks/suite.py` measures both on a DuckDB file: its projection section
# catches up a million events by page, beside the per-event rate.
#
# ## Recap
#
# - **CQRS**: commands change the log through aggregates; queries read **read models**,
#   tables shaped for the questions. A read model is a copy: it can always be rebuilt.
# - A **projection** is a function of the log, applied event by event in global order. By hand
#   it is a fold; `EventProcessor` runs one into DuckDB, with **handlers registered by business
#   event type** (a type path is refused: flaw 1).
# - The **checkpoint** is the global position of the last event applied. It is written in the
#   **same transaction** as the read model, so a crash can neither apply an event twice nor
#   skip one. `catch_up()` continues from it, also after a restart.
# - **Idempotent**: an event at or below the checkpoint is skipped, an event ahead of the next
#   position is refused, and `rebuild()` gives the same table as the incremental path, every
#   time (flaw 7).
# - The read side is **eventually consistent**: `lag()` counts the events it is behind.
#   `wait_for_position(result.position)` lets a request **read its own writes**, and raises
#   `ProjectionTimeout` rather than wait forever.
# - A failing handler raises a `ProjectionError` naming the handler, the event and the cause;
#   the whole page is rolled back and the checkpoint stays. Fix the handler, catch up again.
# - `UserQueryModel`: `get_user`, `list_users` newest first with ties broken by position,
#   `search_users` case-insensitive with `%` and `_` taken literally (flaw 6), pages checked
#   (`page >= 1`, `page_size <= MAX_PAGE_SIZE`: flaw 5). `AccountBalances`: balances in cents.
# - Handlers see **upcast** events, so old-schema events in the log are projected like new ones.
# - A **page handler** applies a page of events in a few statements, in the same transaction
#   as the checkpoint: the same table as event by event, many times faster.
#
# ## Quiz
#
# 1. A projection commits its rows, and the process crashes before it saves its checkpoint in
#    a separate step. What happens at the restart, and why does `EventProcessor` not have the
#    problem?
#
# <details><summary>Answer</summary>
#
# The restart continues from the old checkpoint, so the events of that last page are applied
# a second time: an upsert survives that, but an increment (a deposit added to a balance)
# counts twice. `EventProcessor` writes the rows and the checkpoint in one transaction: after
# a crash either both are there or neither is, and every event is applied exactly once.
#
# </details>
#
# 2. A user changes their email and the next page they load still shows the old one. Is the
#    read model broken? What would you do?
#
# <details><summary>Answer</summary>
#
# No: the read side is eventually consistent, and the model had not yet caught up with the
# event (its `lag()` was above 0). The request that sent the command can call
# `wait_for_position(result.position)` before it reads, so that this user reads their own
# write; other readers see it once the projection catches up.
#
# </details>
#
# 3. You fix a bug in a handler of a read model that has been running for a month. Is
#    `catch_up()` enough to correct the rows it already wrote?
#
# <details><summary>Answer</summary>
#
# No. `catch_up()` only applies events after the checkpoint; the events the old handler
# already processed are not revisited. Call `rebuild()`: it drops the tables and replays the
# whole log through the fixed handler (set-based, where the model offers it, for speed).
#
# </details>
#
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells*; every cell should run
# without an error.
#
# **Exercises for this lesson:** [03_exercises_projections_learner](exercises/03_exercises_projections_learner.ipynb).
#
# Next: [04 · Time travel](04_time_travel.ipynb).
