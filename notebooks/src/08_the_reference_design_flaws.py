# %% [markdown]
# # 08 · The reference design's 14 flaws
#
# **Time box:** 80 minutes · **You will:**
#
# - meet the 14 flaws of the design document esteach is built from, one at a time;
# - watch each one go wrong in a tiny imitation: a few lines of Python that do what the
#   reference design does;
# - run the same scenario through esteach and see it handled, with the message a user or a
#   developer would get;
# - finish with a table: each flaw, how esteach handles it, and where in the package to read
#   the fix.
#
# The reference design is a good design document: events, aggregates, a store with expected
# versions, CQRS with a query model, snapshots, a cache, locks. Its flaws are small slips in
# code that *looks* right, which is why they are worth studying. Each section below has the
# same shape: **the flaw** in one sentence, **the imitation** (it goes wrong), **esteach**
# (it does not), ending in a checked line `flaw N handled: True`.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## Set-up
#
# One clock and seeded ids, so every run prints the same, and a dict that collects each
# section's verdict for the summary table at the end.

# %%
import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd

from esteach import (
    AggregateCache,
    CommandProcessor,
    DuckDBEventStore,
    InMemoryEventStore,
    NewEvent,
    SeededIds,
    StepClock,
)
from esteach.domains.user import ChangeEmail, CreateUser, DeactivateUser, User

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))
handled = {}  # flaw number -> True when esteach handled the scenario

# %% [markdown]
# Flaws 2, 3 and 4 live in the reference design's `User`. Here it is, transcribed from the Rust
# original to a few lines of Python: an empty user starts `Inactive` with an empty id,
# `CreateUser` invents the id, and the other commands check only the status.


# %%
class RefError(Exception):
    """The reference design's UserError."""


ref_uuids = random.Random(2024)  # stands in for Uuid::new_v4(), seeded for this notebook


class RefUser:
    def __init__(self):
        self.id, self.email, self.name, self.status = "", "", "", "Inactive"

    def handle_command(self, command, **fields):
        if command == "CreateUser":
            if self.id:
                raise RefError("UserAlreadyExists")
            new_id = str(uuid.UUID(int=ref_uuids.getrandbits(128), version=4))
            return [("UserCreated", {"id": new_id, **fields})]
        if self.status != "Active":
            raise RefError(
                "UserAlreadyDeactivated" if command == "DeactivateUser" else "UserNotActive"
            )
        if command == "ChangeEmail":
            return [("UserEmailChanged", fields)]
        if command == "ChangeName":
            return [("UserNameChanged", fields)]
        return [("UserDeactivated", {})]

    def apply_event(self, event_type, data):
        if event_type == "UserCreated":
            self.id, self.email, self.name, self.status = (
                data["id"],
                data["email"],
                data["name"],
                "Active",
            )
        elif event_type == "UserEmailChanged":
            self.email = data["new_email"]
        elif event_type == "UserNameChanged":
            self.name = data["new_name"]
        elif event_type == "UserDeactivated":
            self.status = "Inactive"


# %% [markdown]
# ## Flaw 1 · Handlers never fire
#
# **The flaw:** events are stored with `event_type = type_name::<UserEvent>()`, the *type path*
# of the Rust enum, the same for every kind of user event, while projection handlers are
# registered under business names such as `"UserCreated"`.
#
# **The imitation.** Look at the stored type and the number of handler calls.


# %%
# NBVAL_CHECK_OUTPUT
class UserEvent:  # in the Rust original, an enum with one variant per event
    pass


def type_name(cls):  # like std::any::type_name: the language's path of the type
    return f"{cls.__module__}::{cls.__qualname__}"


ref_log = [{"event_type": type_name(UserEvent), "data": {"email": "ada@example.com"}}]
ref_calls = []
ref_handlers = {"UserCreated": lambda event: ref_calls.append(event)}
for event in ref_log:
    handler = ref_handlers.get(event["event_type"])
    if handler is not None:
        handler(event)
print("stored event_type:", ref_log[0]["event_type"])
print("handler calls:    ", len(ref_calls))

# %% [markdown]
# **esteach.** The event type is the domain event's class name, the past-tense business name,
# so a handler registered under `"UserCreated"` fires. A type path is refused at the door:
# `NewEvent` checks the name.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidEventData
from esteach.projections import EventProcessor

store = InMemoryEventStore(clock=clock, ids=SeededIds(1))
CommandProcessor(store, User, ids=SeededIds(2)).process_command(
    CreateUser("ada", "ada@example.com", "Ada")
)
signups = EventProcessor(store, name="signups")
calls = []
signups.register_event_handler("UserCreated", lambda conn, event: calls.append(event.aggregate_id))
signups.catch_up()
print("stored event_type:", store.read_all()[0].event_type)
print("handler calls:    ", len(calls))
try:
    NewEvent(type_name(UserEvent), {})
except InvalidEventData as error:
    print(f"{type(error).__name__}: {error}")

handled[1] = calls == ["ada"]
print("flaw 1 handled:", handled[1])

# %% [markdown]
# ## Flaw 2 · Stream id and user id differ
#
# **The flaw:** `CreateUser` invents a fresh UUID inside `handle_command`, but the command
# processor chose the stream to append to before that id existed.
#
# **The imitation.** The caller appends to the stream it knows (`"ada"`); the user inside
# calls itself something else. Loading by the user's own id finds nothing.

# %%
# NBVAL_CHECK_OUTPUT
ref_streams = {"ada": RefUser().handle_command("CreateUser", email="ada@example.com", name="Ada")}
user_id_in_event = ref_streams["ada"][0][1]["id"]
print("stream the events went to:", "ada")
print("the user's own id:        ", user_id_in_event)
print("events under the user's id:", len(ref_streams.get(user_id_in_event, [])))

# %% [markdown]
# **esteach.** The caller chooses the id: it is a field of `CreateUser`, the command names its
# stream with it (`target_id`), and the event carries the same id.

# %%
# NBVAL_CHECK_OUTPUT
command = CreateUser("grace", "grace@example.com", "Grace")
result = CommandProcessor(store, User, ids=SeededIds(3)).process_command(command)
created = result.events[0]
print("command's target stream:", command.target_id)
print("stream of the event:    ", created.aggregate_id)
print("user id in the event:   ", created.data["user_id"])

handled[2] = command.target_id == created.aggregate_id == created.data["user_id"] == "grace"
print("flaw 2 handled:", handled[2])

# %% [markdown]
# ## Flaw 3 · Misleading errors
#
# **The flaw:** a command for a user that never existed is answered `UserNotActive` or
# `UserAlreadyDeactivated`, as if the user existed.
#
# **The imitation.** Nobody called `"ghost"` was ever created.

# %%
# NBVAL_CHECK_OUTPUT
for command, fields in [("ChangeEmail", {"new_email": "g@example.com"}), ("DeactivateUser", {})]:
    try:
        RefUser().handle_command(command, **fields)
    except RefError as error:
        print(f"{command} on a user that never existed: {error}")

# %% [markdown]
# **esteach.** Both say the user does not exist, and what to do.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import UserNotFound

errors = []
for command in (ChangeEmail("ghost", "g@example.com"), DeactivateUser("ghost")):
    try:
        User("ghost").handle_command(command)
    except UserNotFound as error:
        errors.append(error)
        print(f"{type(command).__name__}: {type(error).__name__}: {error}")

handled[3] = len(errors) == 2
print("flaw 3 handled:", handled[3])

# %% [markdown]
# ## Flaw 4 · No validation, no-op events
#
# **The flaw:** any string is accepted as an email, and changing an email to the value it
# already has records an event anyway.
#
# **The imitation.** Both commands produce an event.

# %%
# NBVAL_CHECK_OUTPUT
ref_user = RefUser()
for event_type, data in ref_user.handle_command("CreateUser", email="ada@example.com", name="Ada"):
    ref_user.apply_event(event_type, data)
print(ref_user.handle_command("ChangeEmail", new_email="not an email"))
print(ref_user.handle_command("ChangeEmail", new_email="ada@example.com"))

# %% [markdown]
# **esteach.** A bad email is refused with `InvalidEmail`; the same email again decides no
# event, so the processor appends nothing and the version stays.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import InvalidEmail

users = CommandProcessor(store, User, ids=SeededIds(4))
try:
    users.process_command(ChangeEmail("ada", "not an email"))
except InvalidEmail as error:
    print(f"{type(error).__name__}: {error}")
same = users.process_command(ChangeEmail("ada", "ada@example.com"))
print("events for the same email:", same.events, "| ada still at version", same.version)

handled[4] = same.events == [] and store.stream_version("ada") == 1
print("flaw 4 handled:", handled[4])

# %% [markdown]
# ## The read side: a tiny users table
#
# Flaws 5, 6 and 7 are in the query model, the CQRS read side. For the imitations, a DuckDB
# table shaped like the reference design's `users` table, with three users. One of them has a
# `%` in her name and an `_` in her email: characters that mean something in SQL `LIKE`.

# %%
ref_db = duckdb.connect(":memory:")
ref_db.execute("CREATE TABLE users (id VARCHAR, email VARCHAR, name VARCHAR, created_at TIMESTAMP)")
_ = ref_db.execute(
    """INSERT INTO users VALUES
    ('ada',   'ada@example.com',   'Ada Lovelace', '2024-01-01 09:00'),
    ('grace', 'grace@example.com', 'Grace Hopper', '2024-01-01 09:01'),
    ('pat',   'pat_c@example.com', 'Pat 100% Cook', '2024-01-01 09:02')"""
)

# %% [markdown]
# And the same three users in esteach, projected into its `UserQueryModel` (a DuckDB read
# model fed by an `EventProcessor`, notebook 03).

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidInput
from esteach.readmodels.users import UserQueryModel

users.process_command(CreateUser("pat", "pat_c@example.com", "Pat 100% Cook"))
model = UserQueryModel(store)
print("events applied:", model.catch_up())
print([user.id for user in model.list_users()])

# %% [markdown]
# ## Flaw 5 · Unsafe pagination
#
# **The flaw:** `offset = (page - 1) * page_size` with no checks: `page = 0` gives a negative
# offset, and `page_size` has no upper bound.
#
# **The imitation.** Page 0 sends a negative offset to the database, which answers with a raw
# SQL error; a huge page size hands out the whole table in one response.


# %%
# NBVAL_CHECK_OUTPUT
def ref_list_users(page, page_size):
    offset = (page - 1) * page_size
    return ref_db.execute(
        "SELECT id FROM users ORDER BY created_at DESC LIMIT ? OFFSET ?", [page_size, offset]
    ).fetchall()


try:
    ref_list_users(page=0, page_size=20)
except duckdb.Error as error:
    print("page 0 ->", type(error).__name__, str(error).splitlines()[0])
print(
    "page_size 1,000,000 ->", len(ref_list_users(page=1, page_size=1_000_000)), "rows, all of them"
)

# %% [markdown]
# **esteach.** Pages start at 1 and `page_size` is at most `MAX_PAGE_SIZE`; anything else is
# refused before any SQL runs, with a message that says the rule.

# %%
# NBVAL_CHECK_OUTPUT
refusals = []
for page, page_size in [(0, 20), (1, 1_000_000)]:
    try:
        model.list_users(page=page, page_size=page_size)
    except InvalidInput as error:
        refusals.append(error)
        print(f"page={page}, page_size={page_size}: {type(error).__name__}: {error}")

handled[5] = len(refusals) == 2 and [u.id for u in model.list_users(page=1, page_size=2)] == [
    "pat",
    "grace",
]
print("flaw 5 handled:", handled[5])

# %% [markdown]
# ## Flaw 6 · LIKE wildcards from users
#
# **The flaw:** `search_users` wraps the raw query in `%...%` and hands it to `ILIKE`, so a `%`
# or `_` typed by a user is a wildcard.
#
# **The imitation.** Someone searches for the literal text `%` (or `_`): everybody matches.


# %%
# NBVAL_CHECK_OUTPUT
def ref_search_users(query):
    pattern = f"%{query}%"
    return ref_db.execute(
        "SELECT id FROM users WHERE name ILIKE ? OR email ILIKE ? ORDER BY created_at DESC",
        [pattern, pattern],
    ).fetchall()


for query in ["%", "_", "ada"]:
    print(f"search {query!r:6} ->", [row[0] for row in ref_search_users(query)])

# %% [markdown]
# **esteach.** The query is plain text: `search_users` compares with `contains()` on lower-cased
# name and email, so `%` and `_` are just characters. Only Pat has them.

# %%
# NBVAL_CHECK_OUTPUT
for query in ["%", "_", "ADA"]:
    print(f"search {query!r:6} ->", [user.id for user in model.search_users(query)])

handled[6] = [u.id for u in model.search_users("%")] == ["pat"] and [
    u.id for u in model.search_users("_")
] == ["pat"]
print("flaw 6 handled:", handled[6])

# %% [markdown]
# ## Flaw 7 · Projections are not idempotent and have no checkpoint
#
# **The flaw:** a projection handler plainly `INSERT`s, nothing records how far the projection
# got, and `replay_events(from_timestamp)` picks events by wall-clock time, which is not a
# total order: several events can share one timestamp.
#
# **The imitation, part 1.** A restart replays the log, and every `UserCreated` is inserted
# again. (With a primary key on `id`, the replay would stop at the first duplicate instead.)


# %%
# NBVAL_CHECK_OUTPUT
def ref_on_user_created(event):
    ref_db.execute(
        "INSERT INTO users VALUES (?, ?, ?, ?)",
        [event.aggregate_id, event.data["email"], event.data["name"], event.timestamp],
    )


ref_db.execute("DELETE FROM users")
for _run in ("first run", "after a restart"):  # no checkpoint: start from the beginning again
    for event in store.read_all():
        if event.event_type == "UserCreated":
            ref_on_user_created(event)
print(ref_db.execute("SELECT id, count(*) FROM users GROUP BY id ORDER BY id").fetchall())

# %% [markdown]
# **The imitation, part 2.** Three events, the last two committed in the same second. The
# projection has handled the first two and remembers the time of the last one it saw. Resuming
# with `timestamp > last_seen` skips the third event; with `>=` it applies the second twice.

# %%
# NBVAL_CHECK_OUTPUT
nine = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
log = [("e1", nine), ("e2", nine + timedelta(seconds=1)), ("e3", nine + timedelta(seconds=1))]
last_seen = log[1][1]  # the projection handled e1 and e2
print("resume with >  :", [name for name, at in log if at > last_seen], "(e3 is lost)")
print("resume with >= :", [name for name, at in log if at >= last_seen], "(e2 again)")

# %% [markdown]
# **esteach.** Every event has a **global position**, a total order. The projection stores its
# **checkpoint** (the last position it applied) in the same DuckDB transaction as the rows, and
# resumes at checkpoint + 1. A second `catch_up` applies nothing, a redelivered event is
# skipped, `UserCreated` is an upsert, and `rebuild()` gives the same rows.

# %%
# NBVAL_CHECK_OUTPUT
before = [(u.id, u.email, u.name) for u in model.list_users()]
print("catch_up again applies:", model.catch_up())
print("redelivered event applied:", model.processor.process_event(store.read_all()[0]))
print(
    "rebuild applies:",
    model.rebuild(),
    "| checkpoint:",
    model.position,
    "of",
    store.head_position(),
)
after = [(u.id, u.email, u.name) for u in model.list_users()]

handled[7] = (
    before == after and model.count_users() == 3 and model.position == store.head_position()
)
print("flaw 7 handled:", handled[7])

# %% [markdown]
# ## Flaw 8 · Snapshots can be skipped, go stale, and are read off by one
#
# **The flaw:** a snapshot is taken only when `version % interval == 0`; a snapshot stores the
# aggregate as it is, with no version of its shape; and `from_version` means "from" in one
# place and "after" in another.
#
# Snapshots pay off on long streams, and a command that appends several events at once is
# where the first slip shows. A tiny aggregate for that: a playlist, where `AddSongs` adds one
# `SongAdded` event per song.

# %%
from dataclasses import dataclass

from esteach import Aggregate, Command, DomainEvent


@dataclass(frozen=True)
class AddSongs(Command):
    id_field = "playlist_id"
    playlist_id: str
    songs: tuple[str, ...]


@dataclass(frozen=True)
class SongAdded(DomainEvent):
    song: str


class Playlist(Aggregate):
    command_types = (AddSongs,)

    def __init__(self, aggregate_id):
        super().__init__(aggregate_id)
        self.songs = []

    def handle_command(self, command):
        self.check_target(command)
        return [SongAdded(song) for song in command.songs]

    def apply_event(self, event):
        self.songs.append(event.song)


albums = [("a1", "a2", "a3"), ("b1", "b2", "b3"), ("c1", "c2", "c3"), ("d1", "d2", "d3")]

# %% [markdown]
# **The imitation, part 1.** Interval 5, four commands of three songs each: the version goes
# 3, 6, 9, 12 and never lands on a multiple of 5.

# %%
# NBVAL_CHECK_OUTPUT
interval, version, versions, ref_snapshots = 5, 0, [], []
for album in albums:
    version += len(album)
    versions.append(version)
    if version % interval == 0:  # the reference design's rule
        ref_snapshots.append(version)
print("versions after each command:", versions)
print("snapshots taken:", ref_snapshots)

# %% [markdown]
# **esteach, part 1.** The rule is "at least `interval` events since the last snapshot",
# checked after every append, so it fires at 6 (6 - 0 >= 5) and at 12 (12 - 6 >= 5).

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InMemorySnapshotStore

songs_store = InMemoryEventStore(clock=clock, ids=SeededIds(5))
snapshot_store = InMemorySnapshotStore()
playlists = CommandProcessor(
    songs_store, Playlist, ids=SeededIds(6), snapshots=snapshot_store, snapshot_interval=5
)
for album in albums:
    playlists.process_command(AddSongs("mix", album))
print("snapshots taken:", playlists.repository.snapshots.taken)
print("latest snapshot at version:", snapshot_store.get_latest("mix").version)
snapshots_kept = playlists.repository.snapshots.taken == 2

# %% [markdown]
# **The imitation, part 2.** The reference design's snapshot holds the aggregate object as it
# was. Then the code changes: the playlist now also keeps a `count`. Restoring the old
# snapshot gives an object without it.

# %%
# NBVAL_CHECK_OUTPUT
old_state = {"songs": ["a1", "a2", "a3"]}  # what the old code saved


class NewPlaylistCode:
    def __init__(self):
        self.songs, self.count = [], 0


restored = NewPlaylistCode.__new__(NewPlaylistCode)  # deserialise without running __init__
restored.__dict__.update(old_state)
try:
    print(restored.count)
except AttributeError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# **esteach, part 2.** Every snapshot records the aggregate's `snapshot_version`, the version
# of its state's shape. The new code raises it to 2; the snapshot saved at shape 1 is ignored,
# and the playlist is rebuilt by a full replay. Look at the load report.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import Repository


class PlaylistWithCount(Playlist):
    aggregate_type = "Playlist"  # the same aggregate, newer code
    snapshot_version = 2  # the state's shape changed

    def __init__(self, aggregate_id):
        super().__init__(aggregate_id)
        self.count = 0

    def apply_event(self, event):
        super().apply_event(event)
        self.count += 1


loaded, report = Repository(
    songs_store, PlaylistWithCount, snapshots=snapshot_store
).load_with_report("mix")
print(report)
print("count:", loaded.count)
stale_ignored = report.stale_snapshot_ignored and loaded.count == 12

# %% [markdown]
# **The imitation, part 3.** The loader asks for `get_events(id, snapshot.version + 1)`,
# meaning "from version 13 on"; a store that reads `from_version` as "after version 13" skips
# event 13, silently.

# %%
# NBVAL_CHECK_OUTPUT
songs_store.append_events("mix", 12, [NewEvent("SongAdded", {"song": "e1"})])
songs_store.append_events("mix", 13, [NewEvent("SongAdded", {"song": "e2"})])


def ref_get_events_after(aggregate_id, from_version):  # "from" read as "after"
    return [e for e in songs_store.get_events(aggregate_id) if e.version > from_version]


snapshot_version = 12
tail = ref_get_events_after("mix", snapshot_version + 1)
print(
    "events read after the snapshot:",
    [(e.version, e.data["song"]) for e in tail],
    "(13 is missing)",
)

# %% [markdown]
# **esteach, part 3.** `from_version` is inclusive in every store (one documented meaning),
# the repository asks for `version + 1`, and an aggregate refuses an event that is not the next
# one of its stream, so an off-by-one cannot pass silently.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import EventsOutOfOrder

print("get_events('mix', 13):", [e.version for e in songs_store.get_events("mix", 13)])
at_12 = Playlist.load_from_events(songs_store.get_events("mix")[:12])
try:
    at_12.apply(songs_store.get_events("mix", 14)[0])
except EventsOutOfOrder as error:
    print(f"{type(error).__name__}: {error}")
print("loaded through snapshots:", playlists.load("mix").songs[-2:])
read_off_by_one_refused = playlists.load("mix").version == 14

handled[8] = snapshots_kept and stale_ignored and read_off_by_one_refused
print("flaw 8 handled:", handled[8])

# %% [markdown]
# ## Flaw 9 · The cache goes stale
#
# **The flaw:** the LRU cache keeps the *events* read, under the key `aggregate_id:from_version`,
# and is never updated or invalidated when events are appended.
#
# **The imitation.** Read Ada's events through the cache, change her email, read again.

# %%
# NBVAL_CHECK_OUTPUT
ref_cache = {}


def ref_get_events_cached(aggregate_id, from_version):
    key = f"{aggregate_id}:{from_version}"
    if key not in ref_cache:
        ref_cache[key] = store.get_events(aggregate_id, from_version)
    return ref_cache[key]


print("before:", User.load_from_events(ref_get_events_cached("ada", 0)).email)
users.process_command(ChangeEmail("ada", "ada@lovelace.org"))
print("after: ", User.load_from_events(ref_get_events_cached("ada", 0)).email, "(stale)")

# %% [markdown]
# **esteach.** `AggregateCache` keeps a loaded *aggregate* with the version it was loaded at,
# and every load asks the store whether the stream has moved on; if it has, only the new events
# are applied. Another processor, with no cache, writes meanwhile; the cached processor still
# sees the write. The load report says the answer came from the cache and read one event.

# %%
# NBVAL_CHECK_OUTPUT
cached = CommandProcessor(store, User, ids=SeededIds(7), cache=AggregateCache(maxsize=100))
print("before:", cached.load("ada").email)
users.process_command(ChangeEmail("ada", "ada@analytical.engine"))  # the other processor
after, report = cached.repository.load_with_report("ada")
print("after: ", after.email)
print(report)

handled[9] = after.email == "ada@analytical.engine" and report.source == "cache"
print("flaw 9 handled:", handled[9])

# %% [markdown]
# ## Flaw 10 · Batched appends are not atomic
#
# **The flaw:** a large batch is split into chunks, and each chunk is written on its own; when
# one chunk fails, the chunks before it stay written.
#
# **The imitation.** Five events in chunks of two, into a table with unique event ids. The
# fourth event reuses an id that is already stored, so the second chunk fails.

# %%
# NBVAL_CHECK_OUTPUT
chunk_db = duckdb.connect(":memory:")
chunk_db.execute("CREATE TABLE events (id VARCHAR PRIMARY KEY, stream VARCHAR, version INTEGER)")
chunk_db.execute("INSERT INTO events VALUES ('e-0', 'other', 1)")
batch = [
    ("e-1", "mix", 1),
    ("e-2", "mix", 2),
    ("e-3", "mix", 3),
    ("e-0", "mix", 4),
    ("e-5", "mix", 5),
]


def ref_append_chunk(chunk):  # primary_store.append_events_batch(chunk): one INSERT
    rows = ", ".join(["(?, ?, ?)"] * len(chunk))
    chunk_db.execute(f"INSERT INTO events VALUES {rows}", [value for row in chunk for value in row])


try:
    for start in range(0, len(batch), 2):  # events.chunks(2), written one by one
        ref_append_chunk(batch[start : start + 2])
except duckdb.Error as error:
    print("failed:", type(error).__name__)
written = chunk_db.execute("SELECT count(*) FROM events WHERE stream = 'mix'").fetchone()[0]
print(f"events of the batch written: {written} of {len(batch)}")

# %% [markdown]
# **esteach.** `append_events` writes one batch in one statement, one transaction. The same
# batch on the DuckDB store: the reused id is refused, and nothing of the batch is written.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import DuplicateEventId

duck = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(8))
duck.append_events("other", 0, [NewEvent("SongAdded", {"song": "x"}, id="e-0")])
batch = [
    NewEvent("SongAdded", {"song": f"s{i}"}, id=event_id)
    for i, event_id in enumerate(["e-1", "e-2", "e-3", "e-0", "e-5"])
]
try:
    duck.append_events("mix", 0, batch)
except DuplicateEventId as error:
    print(f"{type(error).__name__}: {error}")
print("events of the batch written:", duck.stream_version("mix"), "of", len(batch))

handled[10] = duck.stream_version("mix") == 0 and duck.head_position() == 1
print("flaw 10 handled:", handled[10])
duck.close()

# %% [markdown]
# ## Flaw 11 · The lock map races
#
# **The flaw:** to find an aggregate's lock, the reference design looks in the map under a
# read lock, *drops the read lock*, then takes the write lock and inserts a new lock. Two tasks
# can both find nothing, both insert, and each get a different lock. Locks are never removed.
#
# **The imitation.** Real threads would make the race rare and random, so we replay it step by
# step. `ref_get_lock` is a generator: its `yield` marks the moment the read lock is dropped,
# where another task can run. We decide who runs when.

# %%
# NBVAL_CHECK_OUTPUT
ref_locks = {}


def ref_get_lock(aggregate_id):
    lock = ref_locks.get(aggregate_id)  # under the read lock
    if lock is not None:
        return lock
    yield  # drop(locks): the read lock is released here
    lock = threading.Lock()  # under the write lock
    ref_locks[aggregate_id] = lock
    return lock


def run_to_end(task):
    try:
        while True:
            next(task)
    except StopIteration as done:
        return done.value


task_a, task_b = ref_get_lock("ada"), ref_get_lock("ada")
next(task_a)  # A finds no lock and drops the read lock
next(task_b)  # B runs now: it finds no lock either
lock_a, lock_b = run_to_end(task_a), run_to_end(task_b)
print("A and B got the same lock:", lock_a is lock_b)
print(
    "both inside the critical section at once:",
    lock_a.acquire(blocking=False) and lock_b.acquire(blocking=False),
)
for n in range(1000):
    run_to_end(ref_get_lock(f"user-{n}"))
print("locks in the map after 1,000 users:", len(ref_locks))

# %% [markdown]
# **esteach.** `AggregateLocks` looks up and inserts under one mutex, counts who holds or
# waits for each lock, and removes a lock with its last user. Here A holds Ada's lock, and a
# thread B asks for it: B waits until A lets go. (The outcome is fixed: B cannot get in while A
# holds the lock, however the threads are scheduled.)

# %%
# NBVAL_CHECK_OUTPUT
from esteach import AggregateLocks

locks = AggregateLocks()
inside = []


def task_b_body():
    with locks.hold("ada"):
        inside.append("B")


with locks.hold("ada"):
    inside.append("A")
    thread_b = threading.Thread(target=task_b_body)
    thread_b.start()
    thread_b.join(timeout=0.2)
    print("B still waiting while A holds the lock:", thread_b.is_alive() and inside == ["A"])
thread_b.join()
print("B got in after A:", inside == ["A", "B"])
for n in range(1000):
    with locks.hold(f"user-{n}"):
        pass
print("locks in the map after 1,000 users:", len(locks))

handled[11] = inside == ["A", "B"] and len(locks) == 0
print("flaw 11 handled:", handled[11])

# %% [markdown]
# The other half of flaw 11: no in-process lock, however correct, protects against a second
# process. What does is the store's expected-version check, which every append passes through;
# notebook 06 (section 7) shows two processors with separate lock maps overlapping, and the
# store refusing the stale append.

# %% [markdown]
# ## Flaw 12 · Metadata is never filled
#
# **The flaw:** `convert_to_event` writes `correlation_id`, `causation_id` and `user_id` as
# `None`, always, so no event can be traced to the request or the person that caused it.
#
# **The imitation.**


# %%
# NBVAL_CHECK_OUTPUT
def ref_metadata():
    return {
        "correlation_id": None,
        "causation_id": None,
        "user_id": None,
        "source": "command_processor",
    }


print(ref_metadata())

# %% [markdown]
# **esteach.** The processor fills them: `user_id` is who asked; `correlation_id` and
# `causation_id` default to a fresh id per command, or take the ids you pass, so a follow-up
# command can share its cause's correlation id.

# %%
# NBVAL_CHECK_OUTPUT
first = users.process_command(CreateUser("lin", "lin@example.com", "Lin"), user_id="admin")
meta = first.events[0].metadata
print(meta)
follow_up = users.process_command(
    ChangeEmail("lin", "lin@work.example.com"),
    user_id="lin",
    correlation_id=meta.correlation_id,
    causation_id=first.events[0].id,
)
print("same correlation:", follow_up.events[0].metadata.correlation_id == meta.correlation_id)

handled[12] = (
    meta.user_id == "admin" and meta.correlation_id is not None and meta.causation_id is not None
)
print("flaw 12 handled:", handled[12])

# %% [markdown]
# ## Flaw 13 · Timestamps are taken too early
#
# **The flaw:** each event is stamped with `Utc::now()` when it is *converted*, before the
# append; whoever commits first is not necessarily whoever was stamped first.
#
# **The imitation.** Writer A converts its event, then is delayed; writer B converts and
# commits; then A commits. In commit order, time runs backwards.

# %%
# NBVAL_CHECK_OUTPUT
ref_clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))
event_a = {"writer": "A", "timestamp": ref_clock()}  # converted first, then delayed
event_b = {"writer": "B", "timestamp": ref_clock()}
ref_committed = [event_b, event_a]  # B commits first
for position, event in enumerate(ref_committed, start=1):
    print(position, event["writer"], event["timestamp"].time())
stamps = [event["timestamp"] for event in ref_committed]
print("timestamps follow commit order:", stamps == sorted(stamps))

# %% [markdown]
# **esteach.** A `NewEvent` has no timestamp at all; the store stamps each append when it
# commits, under the same lock that assigns positions, so timestamps never decrease with
# position. The same interleaving:

# %%
# NBVAL_CHECK_OUTPUT
print("NewEvent has a timestamp field:", "timestamp" in NewEvent.__dataclass_fields__)
race_store = InMemoryEventStore(clock=clock, ids=SeededIds(9))
new_a = [NewEvent("SongAdded", {"song": "from A"})]  # decided first, then delayed
new_b = [NewEvent("SongAdded", {"song": "from B"})]
race_store.append_events("b", 0, new_b)  # B commits first
race_store.append_events("a", 0, new_a)
for event in race_store.read_all():
    print(event.global_position, event.data["song"], event.timestamp.time())
stamps = [event.timestamp for event in race_store.read_all()]

handled[13] = stamps == sorted(stamps) and "timestamp" not in NewEvent.__dataclass_fields__
print("flaw 13 handled:", handled[13])

# %% [markdown]
# ## Flaw 14 · Panics on bad data
#
# **The flaw:** serialising event data ends in `.unwrap()`; data that cannot be serialised
# makes the program panic (crash) instead of answering with an error.
#
# **The imitation.** A set is not JSON. Here we catch the exception to show it; the reference
# design does not catch it, so the process stops.

# %%
# NBVAL_CHECK_OUTPUT
try:
    json.dumps({"tags": {"vip"}})  # serde_json::to_value(...).unwrap()
except TypeError as error:
    print(f"uncaught in the reference design: {type(error).__name__}: {error}")

# %% [markdown]
# **esteach.** Data is checked when the envelope is made, with a message that says which field
# is wrong and what would work; an append whose batch holds anything else than `NewEvent`s is
# refused as a whole. The store is unchanged.

# %%
# NBVAL_CHECK_OUTPUT
head_before = store.head_position()
try:
    NewEvent("UserTagged", {"tags": {"vip"}})
except InvalidEventData as error:
    print(f"{type(error).__name__}: {error}")
try:
    good = NewEvent("UserDeactivated", {})
    store.append_events("ada", store.stream_version("ada"), [good, {"event_type": "UserTagged"}])
except InvalidInput as error:
    print(f"{type(error).__name__}: {error}")
print("events written:", store.head_position() - head_before)

handled[14] = store.head_position() == head_before
print("flaw 14 handled:", handled[14])

# %% [markdown]
# ## Summary
#
# Each row: the flaw, whether this notebook's esteach scenario handled it (from the checks
# above), how, and where to read the fix in the package.

# %%
# NBVAL_CHECK_OUTPUT
from IPython.display import display

summary = [
    (
        1,
        "handlers never fire",
        "event type is the past-tense business name; type paths refused",
        "events.py: DomainEvent; checks.py: check_event_type",
    ),
    (
        2,
        "stream id and user id differ",
        "the caller chooses the id; the command names its stream",
        "domains/user.py: CreateUser; commands.py: Command.target_id",
    ),
    (
        3,
        "misleading errors",
        "UserNotFound for a user that never existed",
        "domains/user.py: User._require_existing",
    ),
    (
        4,
        "no validation, no-op events",
        "InvalidEmail / InvalidName; same value decides no event",
        "domains/user.py: User.handle_command",
    ),
    (
        5,
        "unsafe pagination",
        "page >= 1, 1 <= page_size <= MAX_PAGE_SIZE, checked before SQL",
        "checks.py: check_page",
    ),
    (
        6,
        "LIKE wildcards from users",
        "literal contains() on lower-cased text, no LIKE pattern",
        "readmodels/users.py: SEARCH_USERS",
    ),
    (
        7,
        "projections not idempotent, no checkpoint",
        "global positions; checkpoint in the same transaction; upserts; rebuild()",
        "projections.py: EventProcessor",
    ),
    (
        8,
        "snapshots skipped, stale, off by one",
        "'at least N since the last'; snapshot_version; inclusive from_version",
        "snapshots.py: SnapshotManager; repository.py: Repository.save",
    ),
    (
        9,
        "the cache goes stale",
        "caches aggregates with their version; every load catches up",
        "caching.py: AggregateCache; repository.py",
    ),
    (
        10,
        "batched appends not atomic",
        "one batch = one INSERT = one transaction",
        "store/duckdb.py, store/memory.py: append_events",
    ),
    (
        11,
        "the lock map races; locks never freed",
        "one mutex for the map, counted users, freed at last; the store's check protects",
        "processor.py: AggregateLocks",
    ),
    (
        12,
        "metadata never filled",
        "correlation, causation and user ids on every event",
        "processor.py: CommandProcessor.process_command",
    ),
    (
        13,
        "timestamps taken too early",
        "the store stamps at commit; never decreasing with position",
        "store/rules.py: next_timestamp",
    ),
    (
        14,
        "panics on bad data",
        "InvalidEventData / InvalidInput before anything is written",
        "jsondata.py: ensure_json_data; store/rules.py: ensure_new_events",
    ),
]
table = pd.DataFrame(
    summary, columns=["flaw", "name", "how esteach handles it", "where (esteach/...)"]
)
table.insert(2, "handled", [handled.get(n, False) for n, *_ in summary])
with pd.option_context("display.max_colwidth", None, "display.width", 250):
    display(table.set_index("flaw"))

# %% [markdown]
# ## Recap
#
# - Event types are business names, not language type paths; ids are chosen by the caller.
# - Errors say what is really wrong; commands are validated; nothing happening records nothing.
# - Inputs that reach SQL are bounded (pages) or literal (search text).
# - Projections follow a total order (global position) and keep a checkpoint with their rows;
#   replay is harmless.
# - Snapshots are due by distance, not by divisibility; they carry a shape version; versions are
#   read with one meaning and checked on apply.
# - Caches hold state with its version and catch up on every read.
# - A batch is one transaction. Locks are per process and freed; the store's check is the guard.
# - Events carry who and why; the store stamps the time at commit; bad data is an error, never a
#   crash.

# %% [markdown]
# ## Quiz
#
# 1. A colleague proposes `if version % 100 == 0: take_snapshot()` "because it is simpler".
#    Which command breaks it, and what rule would you suggest instead?
#
# <details><summary>Answer</summary>
#
# Any command that appends more than one event can jump over the multiple of 100 (99 -> 101),
# and then no snapshot is taken until the version happens to land on one. Use "at least 100
# events since the last snapshot" (`version - last_snapshot_version >= 100`), checked after
# every append, as `SnapshotManager.due` does.
#
# </details>
#
# 2. Why does esteach's projection store its checkpoint in the *same* transaction as the read
#    model's rows?
#
# <details><summary>Answer</summary>
#
# So both change together or not at all. If the rows were committed and the process crashed
# before the checkpoint was saved, a restart would apply those events again (rows doubled, or
# counters counted twice); if the checkpoint were saved first, a crash would skip events for
# good. In one transaction, neither can happen.
#
# </details>
#
# 3. Searching for `50%` in the reference design finds a user called "500 Ada". Why?
#
# <details><summary>Answer</summary>
#
# The pattern becomes `%50%%`; the `%` the user typed is a wildcard, so it matches any name
# containing "50" followed by anything, "500 Ada" included. esteach compares the text
# literally, so `50%` only finds names or emails that contain the three characters `50%`.
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors, and every `flaw N handled` line says `True`.
#
# **Exercises for this lesson:** [08_exercises_the_reference_design_flaws_learner](exercises/08_exercises_the_reference_design_flaws_learner.ipynb).
#
# Next: [09 · Analytics](09_analytics.ipynb), SQL questions over the event log in DuckDB.
