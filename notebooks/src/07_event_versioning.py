# %% [markdown]
# # 07 · Event versioning
#
# **Time box:** 55 minutes · **You will:**
#
# - explain why an event store keeps every shape of an event it ever recorded, and what the
#   `schema_version` in each event's metadata says;
# - read the sample log's old `UserRegistered` events as they are stored, and count the log
#   by event type and schema version;
# - read the **upcaster** that lets today's code see them as `UserCreated`, and load such a user;
# - compare the log as stored with the log as read;
# - write a chain of two upcasters for an event of your own and watch an old event climb it,
#   step by step;
# - see the clear error when no upcaster leads to the current version, and why an upcaster
#   must never change the data it is given;
# - watch a **stale snapshot** being ignored after the aggregate's state changes shape;
# - choose between upcasting, migrating the log and a new event type.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Theory: the log keeps old shapes forever
#
# An event is a fact about the past: "user 247 registered with this email". Facts do not
# change, so an event store never updates or deletes a stored event. Code, on the other hand,
# changes all the time. Fields are renamed, split, added; an event gets a better business name.
# After a year, the log holds events in every shape any release ever wrote, and today's code
# must still read all of them: a replay starts at the first event.
#
# Two numbers make this manageable:
#
# - each recorded event carries `metadata.schema_version`: the version of its data shape *when
#   it was written*;
# - each domain event class has a class attribute `schema_version`: the shape *today's code*
#   knows.
#
# When the two differ, an **upcaster** bridges them: a small pure function from the data of
# version `n` to the data of version `n + 1`. esteach runs the upcasters **on read**, every time
# an event is turned into a domain event: when an aggregate loads, when a projection replays,
# when you travel in time. The stored event stays as it was written.
#
# The reference design lists "a versioning strategy with upcasting/downcasting and backward
# compatibility" among its best practices, but shows no code for it. This notebook is that code.

# %%
import inspect
from datetime import UTC, datetime, timedelta

import pandas as pd

import esteach
from esteach import (
    CommandProcessor,
    InMemoryEventStore,
    InvalidEventData,
    SeededIds,
    StepClock,
    events_frame,
    load_sample,
    registry,
)
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, User

SAMPLE = "../data/sample_events.jsonl"  # relative to the notebooks/ folder

# %% [markdown]
# ## 2. The sample log, as stored
#
# The sample log (`data/sample_events.jsonl`, one event per line) covers twelve weeks of a
# small service. Its first release called a sign-up `UserRegistered`, with the fields `id`,
# `email` and `full_name`; three weeks in, the event became `UserCreated` with `user_id`,
# `email` and `name`. The 169 sign-ups of those first weeks are still in the log, in the old
# shape. Here are the first three, read with pandas straight from the file, with no esteach
# involved. Look at `event_type`, the keys of `data`, and `source`.

# %%
# NBVAL_CHECK_OUTPUT
raw = pd.read_json(SAMPLE, lines=True)
old = raw[raw["event_type"] == "UserRegistered"].head(3)
for line in old.itertuples():
    print(
        f"{line.aggregate_id}  {line.event_type}  {line.data}  "
        f"source={line.metadata['source']!r} schema_version={line.metadata['schema_version']}"
    )

# %% [markdown]
# DuckDB reads the same file with SQL. `read_ndjson_objects` gives each line as one JSON value
# and `->>` picks a field out of it. Count the whole log by event type and schema version:

# %%
# NBVAL_CHECK_OUTPUT
import duckdb

duckdb.sql(
    f"""
    SELECT json->>'event_type'                         AS event_type,
           (json->'metadata'->>'schema_version')::INT AS schema_version,
           count(*)                                    AS events
    FROM read_ndjson_objects('{SAMPLE}')
    GROUP BY ALL
    ORDER BY event_type
    """
).df()

# %% [markdown]
# Every event is at schema version 1: each event type has had one shape so far. The change
# here was bigger than a new version of one type: the event got a **new name**. `UserRegistered`
# version 1 is, in today's words, `UserCreated` version 1 with its fields renamed. Versions
# count per event type, so a rename starts the new type's count where its class is.

# %% [markdown]
# ## 3. The upcaster that reads `UserRegistered` as `UserCreated`
#
# It lives in `esteach/domains/user.py`, next to the `User` aggregate it serves. Note the
# decorator: it registers the function as the step from `UserRegistered` version 1 to
# `UserCreated` version 1. The function itself only maps one dict to another.

# %%
from esteach.domains.user import user_registered_to_user_created

print(inspect.getsource(user_registered_to_user_created))

# %% [markdown]
# Load the sample into an in-memory store and take one of the old users, `user-0247`. First
# the stream exactly as stored: the first event is the old shape, the later ones are new.

# %%
# NBVAL_CHECK_OUTPUT
clock = StepClock(datetime(2024, 3, 25, 9, 0, tzinfo=UTC), timedelta(minutes=1))
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
print("events loaded:", load_sample(store))

for event in store.get_events("user-0247"):
    print(event.version, event.event_type, event.data, "| schema", event.metadata.schema_version)

# %% [markdown]
# `registry.upcast(event)` is what every reader calls: the envelope lifted to its current
# shape. Compare the stored first event with what the code sees. The id, stream, version and
# timestamp are untouched; `event_type` and `data` are today's, and so is
# `metadata.schema_version` (the version the lifting reached: `UserCreated` version 1).

# %%
# NBVAL_CHECK_OUTPUT
stored = store.get_events("user-0247")[0]
lifted = registry.upcast(stored)
print("stored: ", stored.event_type, stored.data)
print("as read:", lifted.event_type, lifted.data)
print(
    "same id, version and timestamp:",
    (stored.id, stored.version, stored.timestamp) == (lifted.id, lifted.version, lifted.timestamp),
)
print("the stored event is unchanged:", stored.event_type == "UserRegistered")

# %% [markdown]
# So the aggregate never meets the old shape: `User.apply_event` knows only `UserCreated`, and
# still loads this user.

# %%
# NBVAL_CHECK_OUTPUT
users = CommandProcessor(store, User, ids=SeededIds(1), source="notebook-07")
users.load("user-0247")

# %% [markdown]
# ## 4. The log as stored and the log as read
#
# `events_frame(store)` is the log as a pandas DataFrame, one row per event, **upcast**: its
# `event_type` and `data` are what today's code sees. `events_frame(store, upcast=False)` is
# the log exactly as stored. Count both by event type: 169 `UserRegistered` rows as stored,
# none as read; they reappear among the 600 `UserCreated`.

# %%
# NBVAL_CHECK_OUTPUT
as_read = events_frame(store)
as_stored = events_frame(store, upcast=False)
counts = pd.DataFrame(
    {
        "as stored": as_stored.groupby("event_type").size(),
        "as read": as_read.groupby("event_type").size(),
    }
)
counts.fillna(0).astype(int)

# %% [markdown]
# The upcast frame keeps one trace of the past: its `schema_version` column is the version the
# event was *stored* at, and `source` names the release that wrote it. So you can still ask
# "which of today's `UserCreated` rows were written by the first release?":

# %%
# NBVAL_CHECK_OUTPUT
created = as_read[as_read["event_type"] == "UserCreated"]
created.groupby(["source", "schema_version"]).size()

# %% [markdown]
# New writes use the new shape; the old event stays beside them. Rename `user-0247` and look
# at the stream as stored: one stream, two generations of events.

# %%
# NBVAL_CHECK_OUTPUT
users.process_command(ChangeName("user-0247", "Linus Lamport"), user_id="notebook")
for event in store.get_events("user-0247"):
    print(event.version, event.event_type, event.metadata.source, event.data)

# %% [markdown]
# Projections and time travel read through the same registry, so they see the same upcast
# events. One line each: the `users` read model (notebook 03) built from the whole sample, and
# the user as of version 1 (notebook 04). The read model's row exists only because its
# `UserCreated` handler received the lifted old event (it has no handler for
# `UserRegistered`), and it shows the new name; time travel to version 1 shows the name that
# the old event called `full_name`.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.readmodels.users import UserQueryModel

read_model = UserQueryModel(store)
read_model.catch_up()
print("read model, user-0247:", read_model.get_user("user-0247").name)
print("time travel, version 1:", esteach.state_at(store, User, "user-0247", version=1).name)

# %% [markdown]
# ## 5. Your own chain of upcasters
#
# A parcel service records `ParcelShipped`. Its shape has changed twice:
#
# | version | data | why it changed |
# | --- | --- | --- |
# | 1 | `parcel_id`, `address` ("12 Main Street, Springfield") | the first release |
# | 2 | `parcel_id`, `street`, `city` | reports needed the city on its own: **split a field** |
# | 3 | `tracking_number`, `street`, `city`, `carrier` | a clearer name, and a new field: **rename, add with a default** |
#
# Today's class is version 3. The class attribute `schema_version = 3` (no type annotation, so
# it is not a dataclass field) is what `NewEvent.from_domain` writes into new events' metadata.
# The class name is the event type; pick one no other notebook or package module uses, so that
# running this cell again just registers the same class again.

# %%
from dataclasses import dataclass

from esteach import DomainEvent, EventMetadata, NewEvent


@dataclass(frozen=True)
class ParcelShipped(DomainEvent):
    schema_version = 3

    tracking_number: str
    street: str
    city: str
    carrier: str


# %% [markdown]
# One upcaster per step. Each one knows only its own two shapes, so a chain of small steps
# stays easy to read and to test, however many versions pile up. Neither changes the dict it
# is given: each builds and returns a new one.


# %%
@registry.upcaster("ParcelShipped", from_version=1)
def split_address(data):
    """v1 -> v2: "12 Main Street, Springfield" becomes street and city."""
    street, _, city = data["address"].partition(", ")
    return {"parcel_id": data["parcel_id"], "street": street, "city": city}


@registry.upcaster("ParcelShipped", from_version=2)
def name_tracking_number(data):
    """v2 -> v3: parcel_id is now tracking_number; carrier is new, unknown for old parcels."""
    return {
        "tracking_number": data["parcel_id"],
        "street": data["street"],
        "city": data["city"],
        "carrier": "unknown",
    }


# %% [markdown]
# A store with one parcel event from each release. The old releases wrote their own shapes
# and stamped them with their version; today's code writes `ParcelShipped` objects through
# `NewEvent.from_domain`, which stamps version 3.

# %%
# NBVAL_CHECK_OUTPUT
parcels = InMemoryEventStore(clock=clock, ids=SeededIds(2))
release_1 = NewEvent(
    "ParcelShipped",
    {"parcel_id": "P-1", "address": "12 Main Street, Springfield"},
    "Parcel",
    EventMetadata(source="release-1", schema_version=1),
)
release_2 = NewEvent(
    "ParcelShipped",
    {"parcel_id": "P-2", "street": "1 Elm Road", "city": "Shelbyville"},
    "Parcel",
    EventMetadata(source="release-2", schema_version=2),
)
today = NewEvent.from_domain(
    ParcelShipped("P-3", "7 Oak Lane", "Capital City", "Speedy"),
    "Parcel",
    metadata=EventMetadata(source="release-3"),
)
for parcel, new_event in zip(["P-1", "P-2", "P-3"], [release_1, release_2, today], strict=True):
    parcels.append_events(parcel, 0, [new_event])

for event in parcels.read_all():
    print(f"v{event.metadata.schema_version}  {event.data}")

# %% [markdown]
# Now lift the version 1 event by hand, one registered step at a time, to watch the data
# change. `registry.upcasters.steps()` lists the registered steps; `step.apply(event)` runs one.

# %%
# NBVAL_CHECK_OUTPUT
event = parcels.get_events("P-1")[0]
print(f"stored  v{event.metadata.schema_version}: {event.data}")
for step in registry.upcasters.steps():
    if step.event_type == "ParcelShipped" and step.from_version == event.metadata.schema_version:
        event = step.apply(event)
        print(f"{step.function.__name__:<20} -> v{event.metadata.schema_version}: {event.data}")

# %% [markdown]
# `registry.upcast` does exactly this loop: it applies steps until none applies, then checks
# that the event reached its class's version. Every reader calls it. Each of the three events,
# whatever version it starts at, comes out at version 3, and `registry.to_domain` turns it into
# a `ParcelShipped`:

# %%
# NBVAL_CHECK_OUTPUT
print(
    "registry.upcast gives the hand-lifted event:",
    registry.upcast(parcels.get_events("P-1")[0]) == event,
)
for stored in parcels.read_all():
    print(f"from v{stored.metadata.schema_version}:", registry.to_domain(stored))

# %% [markdown]
# ## 6. When no path leads to the current version
#
# Upcasting fails loudly, never silently. Two ways it can fail:
#
# 1. **A missing step.** `ParcelDelivered` is at version 2 today, but nobody wrote the upcaster
#    from version 1. A version 1 event cannot become a version 2 event, and the error says
#    which step is missing and how to register it.
# 2. **An event from the future.** An event stored at version 4 was written by newer code
#    than this (say, after a deployment was rolled back). No upcaster lifts events *down*, and
#    guessing would be worse than stopping.
#
# Look at each message: it names the event, its version and the class's version.


# %%
@dataclass(frozen=True)
class ParcelDelivered(DomainEvent):
    schema_version = 2

    tracking_number: str
    signed_by: str


# %%
# NBVAL_CHECK_OUTPUT
parcels.append_events(
    "P-1", 1, [NewEvent("ParcelDelivered", {"parcel_id": "P-1", "signature": "Marge"}, "Parcel")]
)
parcels.append_events(
    "P-9",
    0,
    [
        NewEvent(
            "ParcelShipped",
            {"tracking_number": "P-9", "street": "?", "city": "?", "carrier": "?", "eta": "?"},
            "Parcel",
            EventMetadata(schema_version=4),
        )
    ],
)
for stream in ("P-1", "P-9"):
    try:
        [registry.upcast(event) for event in parcels.get_events(stream)]
    except InvalidEventData as error:
        print(f"{type(error).__name__}: {error}\n")

# %% [markdown]
# An aggregate load, a projection and `events_frame` all stop at such an event with the same
# error. `events_frame(store, upcast=False)` still shows every event as stored, so you can look
# at the data while you write the missing upcaster:

# %%
# NBVAL_CHECK_OUTPUT
try:
    events_frame(parcels)
except InvalidEventData:
    print("events_frame(parcels) raised InvalidEventData; as stored:")
stored_parcels = events_frame(parcels, upcast=False)
print(stored_parcels[["aggregate_id", "event_type", "schema_version", "data"]].to_string())

# %% [markdown]
# ## 7. An upcaster must not change what it is given
#
# An upcaster gets the stored event's data and must return *new* data. Here is a tempting
# version of `split_address` that edits the dict in place instead:


# %%
def split_address_in_place(data):
    """v1 -> v2, but WRONG: it changes the dict it was given."""
    street, _, city = data.pop("address").partition(", ")
    data["street"], data["city"] = street, city
    return data


# %% [markdown]
# Why does that matter? If a reader ran this function on a stored event's data, the first read
# would rewrite the log: a version 1 event would hold version 2 data, and the next read would
# crash. esteach guards the log twice. First, the data of a recorded event is read-only: an
# in-place edit fails at once, with a message that says why, and the log is untouched.

# %%
# NBVAL_CHECK_OUTPUT
scratch = InMemoryEventStore(clock=clock, ids=SeededIds(3))
scratch.append_events("P-1", 0, [release_1])
try:
    split_address_in_place(scratch.get_events("P-1")[0].data)
except TypeError as error:
    print(f"TypeError: {error}")
print("the log:", scratch.get_events("P-1")[0].data)

# %% [markdown]
# Second, a registered `Upcaster` step hands its function a deep copy of the data, so even the
# wrong function cannot reach the log. The same function, run as a registered step would run
# it, twice:

# %%
# NBVAL_CHECK_OUTPUT
from esteach.upcasting import Upcaster

step = Upcaster("ParcelShipped", 1, split_address_in_place)
stored = parcels.get_events("P-1")[0]
print("first read: ", step.apply(stored).data)
print("second read:", step.apply(stored).data)
print("the log:    ", stored.data)

# %% [markdown]
# Still, write upcasters as pure functions: the copy is a safety net, not a licence. A pure
# upcaster can be tested on its own with a plain dict, gives the same answer on every read, and
# can run in any order with any other reader.

# %% [markdown]
# ## 8. Stale snapshots
#
# Events are not the only stored shape. A **snapshot** (notebook 05) stores an aggregate's
# *state*, and state changes shape too: a new attribute, a renamed one. A snapshot taken by
# last month's code, restored into today's class, would give an object with missing or
# misnamed attributes, or worse, attributes that are present but mean something else.
#
# So every aggregate class has a `snapshot_version` (the version of its state's shape), and
# every snapshot records the version it was taken at. A load that finds a snapshot of another
# version ignores it, counts it, and falls back to a full replay. (The reference design stored
# snapshots without any version: flaw 8.)
#
# Release 1 uses `User` as it is, with a snapshot every 3 events. Ada signs up and changes her
# email three times.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InMemorySnapshotStore, Repository

user_store = InMemoryEventStore(clock=clock, ids=SeededIds(4))
snapshots = InMemorySnapshotStore()
release_1_users = CommandProcessor(
    user_store, User, ids=SeededIds(5), snapshots=snapshots, snapshot_interval=3, clock=clock
)
release_1_users.process_command(CreateUser("ada", "ada@example.com", "Ada"))
for email in ("ada@lovelace.org", "ada@analytical.engine", "countess@lovelace.org"):
    release_1_users.process_command(ChangeEmail("ada", email))

old_snapshot = snapshots.get_latest("ada")
print(
    "snapshot at version", old_snapshot.version, "| snapshot_version", old_snapshot.schema_version
)
print("state:", old_snapshot.state)

# %% [markdown]
# Release 2 also counts how often a user changed their email. The state has a new attribute,
# `email_changes`, so the class raises `snapshot_version` to 2. (`aggregate_type = "User"`
# keeps the stream's type name: the class is new, the stream is the same.)


# %%
class UserRelease2(User):
    """User as release 2 sees it: also counts email changes."""

    aggregate_type = "User"
    snapshot_version = 2  # the state's shape changed

    def __init__(self, aggregate_id):
        super().__init__(aggregate_id)
        self.email_changes = 0

    def apply_event(self, event):
        super().apply_event(event)
        if event.event_type == "UserEmailChanged":
            self.email_changes += 1


# %% [markdown]
# Load Ada with release 2's class through a `Repository` over the same snapshot store.
# `load_with_report` returns the aggregate and a `LoadReport`, which says how the load went.
# Look at it: the version 1 snapshot was ignored (`stale_snapshot_ignored=True`), so the
# load replayed all 4 events (`source='replay'`), and the count is right.

# %%
# NBVAL_CHECK_OUTPUT
release_2_repository = Repository(user_store, UserRelease2, snapshots=snapshots, clock=clock)


def show(report):
    """The LoadReport fields this section is about."""
    print(
        f"version={report.version} source={report.source!r} events_read={report.events_read} "
        f"stale_snapshot_ignored={report.stale_snapshot_ignored}"
    )


ada, report = release_2_repository.load_with_report("ada")
show(report)
print("email changes:", ada.email_changes)

# %% [markdown]
# Had the old snapshot been restored and only the event after it replayed, `email_changes`
# would have counted 1 change instead of 3, and nothing would have looked wrong.
#
# esteach has a second net: restoring a snapshot checks that its attributes are the class's.
# Here is the old state restored directly, bypassing the version check:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidInput

try:
    UserRelease2.from_snapshot("ada", old_snapshot.version, old_snapshot.state)
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# That net only catches attributes that appear or disappear. An attribute that keeps its name
# and changes its meaning (cents that become euros, say) passes it; only `snapshot_version`
# catches that. So raise it with *every* change of the state.
#
# The next command through release 2 takes a new snapshot, in the new shape, and loads start
# from it again: no stale snapshot, 0 events read.

# %%
# NBVAL_CHECK_OUTPUT
release_2_users = CommandProcessor(
    user_store,
    UserRelease2,
    ids=SeededIds(6),
    snapshots=snapshots,
    snapshot_interval=3,
    clock=clock,
)
release_2_users.process_command(ChangeName("ada", "Ada Lovelace"))
snapshot = snapshots.get_latest("ada")
print("snapshot at version", snapshot.version, "| snapshot_version", snapshot.schema_version)
print("state:", snapshot.state)
show(release_2_repository.load_with_report("ada")[1])

# %% [markdown]
# The check works in both directions. Roll back to release 1, and release 1's code ignores
# release 2's snapshot the same way:

# %%
# NBVAL_CHECK_OUTPUT
rolled_back = Repository(user_store, User, snapshots=snapshots, clock=clock)
show(rolled_back.load_with_report("ada")[1])

# %% [markdown]
# ## 9. Optional: versioning strategies
#
# Upcasting is one of several answers to "the event's shape changed". Choose per change:
#
# - **Upcast on read** (this notebook). The log stays as written; one small function per step
#   lifts old data. Cheap to add, and the aggregate's code knows only today's shapes. The cost:
#   every read pays for the lifting, and the upcasters stay as long as old events do. Best
#   for renames, splits and new fields with a sensible default: the *meaning* stays the same.
# - **A new event type.** When the meaning changes, it is a new fact, not a new shape of the old
#   one. If "user registered" had meant "signed up, email not yet verified" while "user
#   created" meant "verified", no upcaster could invent the verification. Add the new event and
#   keep handling the old one in `apply_event`.
# - **Weak schema (tolerant reading).** Add a field *with a default* and old data still fits:
#   esteach's `DomainEvent.from_data` fills in defaults for missing fields, so no version bump
#   is needed. Renaming or removing a field, or a field without a default, needs an upcaster:
#   `from_data` refuses unknown and missing fields, naming them.
# - **Migrate the log (copy and transform).** Write a *new* log with every event in today's
#   shape, check it, and switch readers over, keeping the old log as the record. It removes
#   the upcasters, at the price of a big, careful operation, and every consumer that remembers
#   event ids or positions must move too. Rarely worth it; never done in place.
# - **Never change history.** No `UPDATE events`, no fixing an old event's data. A wrong fact
#   is corrected by a new event (a correction, a reversal), so the log still tells what the
#   system believed and when.
#
# The reference design also names **downcasting**: newer events read by older consumers.
# esteach does not do it; section 6 showed that it refuses events from the future instead.

# %% [markdown]
# ## Recap
#
# - Stored events never change; the log keeps every shape any release wrote.
# - `metadata.schema_version` is the shape an event was written in; a domain event class's
#   `schema_version` is the shape today's code knows.
# - An **upcaster** is a pure function from one version's data to the next (or to another
#   event type, for a rename). `registry.upcast` applies them step by step on every read: in
#   aggregate loads, projections, time travel and `events_frame`.
# - SQL and `events_frame(store, upcast=False)` see the log as stored; `events_frame(store)`
#   sees it as today's code does.
# - No path to the current version, or an event newer than its class, is a clear
#   `InvalidEventData`, never a guess.
# - Upcasters must not change their input; esteach hands them a copy because the in-memory
#   store's events share their data.
# - Snapshots carry the state's `snapshot_version`; a stale one is ignored, the aggregate is
#   rebuilt by full replay (`LoadReport.stale_snapshot_ignored`), and the next snapshot has
#   the new shape.

# %% [markdown]
# ## Quiz
#
# 1. Your `UserCreated` gains a field `locale`. Old events have no locale; `"en"` is a fine
#    guess for them. What are your two options, and which needs no upcaster?
#
# <details><summary>Answer</summary>
#
# Declare `locale: str = "en"` with a default and keep `schema_version` as it is: `from_data`
# fills the default for old events (weak schema), no upcaster needed. Or raise the class's
# `schema_version` to 2 and register `@registry.upcaster("UserCreated", from_version=1)`
# returning the data plus `"locale": "en"`; that is the explicit route, and it is what you need
# if the field must have no default in the class.
#
# </details>
#
# 2. Why does `registry.upcast` raise `InvalidEventData` for a `ParcelShipped` stored at
#    version 4, when the class is at version 3, instead of passing it through?
#
# <details><summary>Answer</summary>
#
# Newer code wrote it, in a shape this code does not know (it may have new fields, or fields
# with a new meaning). Passing it through would give `from_data` data it cannot trust, or
# silently drop what it does not understand. The right fix is to run the newer code, not to
# guess.
#
# </details>
#
# 3. Release 2 renames the `User` attribute `name` to `display_name` but forgets to raise
#    `snapshot_version`. What happens on the next load from an old snapshot?
#
# <details><summary>Answer</summary>
#
# The snapshot says version 1 and so does the class, so the version check lets it through.
# The second net catches this case: the snapshot's attributes (`name`) differ from the class's
# (`display_name`), so `from_snapshot` refuses the state, naming both lists and telling you to
# raise `snapshot_version`, as in section 8. Had only the *meaning* of an attribute changed,
# nothing would catch it: raise `snapshot_version` with every change of the state.
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors.
#
# **Exercises for this lesson:** [07_exercises_event_versioning_learner](exercises/07_exercises_event_versioning_learner.ipynb).
#
# Next: [08 · The reference design's 14 flaws](08_the_reference_design_flaws.ipynb).
