# %% [markdown]
# # 05 · Snapshots and caching
#
# **Time box:** 45 minutes · **You will:**
#
# - see that loading an aggregate by **full replay** reads every event of its stream, and read
#   that cost off a `LoadReport`;
# - take **snapshots** under the policy "at least N events since the last snapshot", and load
#   from the latest snapshot plus the **tail** of events after it;
# - watch a **stale snapshot** (taken by older code) be ignored, counted, and replaced by a
#   full replay;
# - keep loaded aggregates in an `AggregateCache` that never goes stale, even when another
#   processor writes;
# - measure load time against stream length for all three ways, on both stores, plot it, and
#   read the shape of the curves.
#
# Run the cells from top to bottom. The prose before each cell says what to look for.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Theory: what a load costs
#
# An event-sourced aggregate has no stored state. To decide a command, the processor
# **loads** it: it reads the aggregate's **stream** and applies every event, in order. That is
# a **full replay**, and its cost grows with the stream: 10 events are nothing, 100,000 events
# (a bank account after years, a sensor after a month) are felt on every command.
#
# Two remedies, and esteach has both:
#
# | | snapshot | cache |
# | --- | --- | --- |
# | what it keeps | the state at version V, saved in a `SnapshotStore` | the loaded aggregate, in this process's memory |
# | a load reads | the snapshot, then the events after V (the **tail**) | the cached copy, then the events after its version (usually none) |
# | shared by | every process that reads the snapshot store | one process only |
# | survives a restart | yes | no |
# | can go wrong when | the code changes the state's shape | another writer appends and nobody notices |
#
# Both are optimisations: the stream stays the truth, and either one can be thrown away and
# rebuilt from it. A `Repository` tries them in order (cache, then snapshot, then full replay)
# and returns a `LoadReport` that says where each load started and how many events it read.

# %%
from datetime import UTC, datetime, timedelta

from esteach import (
    AggregateCache,
    CommandProcessor,
    DuckDBEventStore,
    InMemoryEventStore,
    InMemorySnapshotStore,
    Repository,
    SeededIds,
    StepClock,
)
from esteach.domains.user import ChangeName, CreateUser, User, UserNameChanged

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))

# %% [markdown]
# ## 2. Full replay, counted
#
# Ada signs up and is renamed 29 times: a stream of 30 events. A `Repository` with neither
# snapshots nor cache loads her by full replay. Look at `source='replay'` and `events_read=30`.

# %%
# NBVAL_CHECK_OUTPUT
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
writer = CommandProcessor(store, User, ids=SeededIds(1))
writer.process_command(CreateUser("ada", "ada@example.com", "Ada"))
for n in range(2, 31):
    writer.process_command(ChangeName("ada", f"Ada {n}"))

plain = Repository(store, User)
ada, report = plain.load_with_report("ada")
print(report)
print("name:", ada.name)

# %% [markdown]
# Here is the load itself. Read it top to bottom: the cache first, then a snapshot, then the
# events after whatever copy it found (`aggregate.version + 1` onwards) from the store.

# %%
import inspect

print(inspect.getsource(Repository.load_with_report))

# %% [markdown]
# ## 3. Snapshots: the state at version V, plus the tail
#
# A **snapshot** is the aggregate's state after event V, saved with V. A load restores the
# state from the snapshot and applies only the events after V. When to take one is a
# **policy**; esteach's is "at least `interval` events since the last snapshot", checked after
# every append:

# %%
from esteach import SnapshotManager

print(inspect.getsource(SnapshotManager.due))

# %% [markdown]
# The reference design took a snapshot only when `version % interval == 0`. A command that
# appends several events at once can jump over that exact version, and then no snapshot is
# taken until the version happens to land on a multiple again (flaw 8; notebook 08 shows it
# with a playlist that adds three songs per command). A distance can be overshot, never
# skipped.
#
# Now Grace, with snapshots every 10 events. The processor takes them itself, after each
# append; `clock=` stamps them. After 25 events, snapshots were taken at 10 and 20, and the
# store keeps only the latest. Look at its version and at the state it holds.

# %%
# NBVAL_CHECK_OUTPUT
snapshots = InMemorySnapshotStore()
grace_writer = CommandProcessor(
    store, User, ids=SeededIds(2), snapshots=snapshots, snapshot_interval=10, clock=clock
)
grace_writer.process_command(CreateUser("grace", "grace@example.com", "Grace"))
for n in range(2, 26):
    grace_writer.process_command(ChangeName("grace", f"Grace {n}"))

print("snapshots taken:", grace_writer.repository.snapshots.taken)
latest = snapshots.get_latest("grace")
print("latest snapshot: version", latest.version, "| state", latest.state)

# %% [markdown]
# A load through the snapshot store starts from version 20 and reads the 5 events after it.
# Look at `source='snapshot'`, `events_read=5` and `snapshot_version=20`.

# %%
# NBVAL_CHECK_OUTPUT
with_snapshots = Repository(store, User, snapshots=snapshots, snapshot_interval=10)
grace, report = with_snapshots.load_with_report("grace")
print(report)
print("name:", grace.name)

# %% [markdown]
# The tail grows with every command and drops to 0 when the next snapshot is taken. Watch it
# over 7 more commands: the tail counts up to 9, a snapshot is taken at version 30, and the
# next load reads nothing after it. With interval N, a snapshot load never reads more than
# N - 1 events (when each command appends one event), however long the stream.

# %%
# NBVAL_CHECK_OUTPUT
for n in range(26, 33):
    grace_writer.process_command(ChangeName("grace", f"Grace {n}"))
    _, report = with_snapshots.load_with_report("grace")
    print(
        f"version {report.version}: snapshot at {report.snapshot_version}, "
        f"load read {report.events_read} events"
    )

# %% [markdown]
# Snapshots need not live in memory: `DuckDBSnapshotStore(path)` keeps them in a `snapshots`
# table, in the event store's file if you like, so every process that opens the file starts
# from them. The measurement in section 6 uses it beside the DuckDB event store.
#
# ## 4. Stale snapshots
#
# A snapshot stores state, and the shape of state changes with the code. Say the next release
# of `User` also counts renames. Its state has a new attribute, so the class raises
# `snapshot_version` (the version of its state's shape) from 1 to 2. Every snapshot records the
# `snapshot_version` it was taken at; a load that finds another one ignores the snapshot,
# counts it, and replays the whole stream instead. (Notebook 07 tells the whole versioning
# story, both ways.)


# %%
class UserCountingRenames(User):
    """User of the next release: also counts renames."""

    aggregate_type = "User"  # a new class, the same streams
    snapshot_version = 2  # the state's shape changed

    def __init__(self, aggregate_id):
        super().__init__(aggregate_id)
        self.renames = 0

    def apply_event(self, event):
        super().apply_event(event)
        if isinstance(event, UserNameChanged):
            self.renames += 1


# %% [markdown]
# Load Grace with the new class over the same snapshot store. Look at
# `stale_snapshot_ignored=True`, `source='replay'` and `events_read=32`: the snapshot at
# version 30 was in shape 1, so all 32 events were read. The count of renames is right, which
# a restored old snapshot could never have given. The manager counts what it ignored.

# %%
# NBVAL_CHECK_OUTPUT
new_release = Repository(store, UserCountingRenames, snapshots=snapshots, snapshot_interval=10)
grace, report = new_release.load_with_report("grace")
print(report)
print("renames:", grace.renames)
print("stale snapshots ignored so far:", new_release.snapshots.stale_ignored)

# %% [markdown]
# A stale snapshot costs speed, never correctness. It is replaced the next time a command is
# appended through the new code: with no valid snapshot the distance counts from 0, so on any
# stream of at least `interval` events a snapshot is due at once.
# Until then, every load pays a full replay: a stream that is only read after a release stays
# slow. Here one command brings the snapshot up to date, in shape 2, and the next load reads 0
# events.

# %%
# NBVAL_CHECK_OUTPUT
new_writer = CommandProcessor(
    store,
    UserCountingRenames,
    ids=SeededIds(3),
    snapshots=snapshots,
    snapshot_interval=10,
    clock=clock,
)
new_writer.process_command(ChangeName("grace", "Grace Hopper"))
latest = snapshots.get_latest("grace")
print("latest snapshot: version", latest.version, "| shape", latest.schema_version)
print(new_release.load_with_report("grace")[1])

# %% [markdown]
# ## 5. A cache that is never stale
#
# An `AggregateCache` keeps loaded aggregates in memory, the least recently used dropped when
# it is full. The reference design cached the *events* it had read, under the key
# `aggregate_id:from_version`, and never updated or dropped an entry on append: after a write,
# readers kept getting the old events (flaw 9; notebook 08 replays it).
#
# esteach's cache keeps each aggregate with its version, and every load asks the store for
# the events after that version. When nothing is new, that is a version check and zero events;
# when someone else appended, it is exactly their events. Bob's processor has a cache:

# %%
# NBVAL_CHECK_OUTPUT
cache = AggregateCache(maxsize=100)
ours = CommandProcessor(store, User, ids=SeededIds(4), cache=cache)
ours.process_command(CreateUser("bob", "bob@example.com", "Bob"))
for n in range(2, 6):
    ours.process_command(ChangeName("bob", f"Bob {n}"))

bob, report = ours.repository.load_with_report("bob")
print(report)
print("name:", bob.name)

# %% [markdown]
# A second processor, with no cache of its own (think: another web worker), renames Bob twice.
# Our processor's cache knows nothing about it. Load Bob through our cached repository again
# and look at `source='cache'`, `events_read=2` and the name: the cache was brought up to date
# with exactly the two new events, instead of serving the old name.

# %%
# NBVAL_CHECK_OUTPUT
theirs = CommandProcessor(store, User, ids=SeededIds(5))
theirs.process_command(ChangeName("bob", "Robert"))
theirs.process_command(ChangeName("bob", "Bob Dylan"))

bob, report = ours.repository.load_with_report("bob")
print(report)
print("name:", bob.name)
print(f"cache: {len(cache)} aggregate(s), {cache.hits} hits, {cache.misses} misses")

# %% [markdown]
# Two more guarantees keep the cache honest. Entries are copied in and out, so code that
# changes a loaded aggregate cannot change the cached one. And when an append is refused
# because another writer got there first, the processor drops the entry before it retries,
# so it never decides twice on what it thought it knew (notebook 06).
#
# ## 6. The measurement: load time against stream length
#
# Now the numbers. For each stream length, `measure_loads` builds one `User` stream of that
# many events in a fresh store (with `bulk_import`, so even 100,000 events take a second, not
# 100,000 commands), then times loading it three ways:
#
# - **full replay**: a `Repository` with neither snapshots nor cache;
# - **snapshot**: with the snapshot the every-100-events policy would have taken by then (none
#   yet below 100 events, so the 10-event stream is a full replay there too). The lengths come
#   in pairs, 1,000 and 1,050 for instance: at a multiple of 100 the snapshot is at the last
#   event and the tail is empty, the best case; 50 events later the load reads a tail of 50,
#   a typical case (the worst is 99);
# - **cache hit**: with an `AggregateCache` filled by one load before the timing starts.
#
# Each is timed in a few rounds over all lengths, and the median kept; a load that takes
# microseconds is timed as a batch of loads lasting a few milliseconds, as `timeit` does, so
# the timer's own noise averages out. Each load's `LoadReport` gives the events read. Both
# stores take part: `InMemoryEventStore` with an `InMemorySnapshotStore`, and
# `DuckDBEventStore(":memory:")` with a `DuckDBSnapshotStore(":memory:")`. At full size
# (what you run) the longest stream has 100,050 events, and this cell takes about 15 to 60
# seconds (most of it building and replaying the longest streams); the tests run it at 10,
# 100, 150, 1,000, 1,050 and 10,000 events (1,000 times apart: on DuckDB a 10-event replay is
# mostly the cost of one query, so 100 times apart left too little room on a busy machine).
#
# One more knob, `live`. Seconds differ on every run, so a notebook that stores them can never
# be built twice with the same bytes, and the copy of this notebook in the repository must be.
# It was built at test size, where `live` is `False` and the cells below show only what is
# exact: the events read. When you run it, `live` is `True` and you see your own timings too.

# %%
from esteach.notebook import size
from esteach.notebook.measure import measure_loads, plot_loads, shape_summary

lengths = size(
    small=[10, 100, 150, 1_000, 1_050, 10_000],
    full=[10, 100, 150, 1_000, 1_050, 10_000, 10_050, 100_000, 100_050],
)
stores = {
    "in-memory": InMemoryEventStore,
    "duckdb :memory:": lambda: DuckDBEventStore(":memory:"),
}
frame = measure_loads(stores, lengths, repeats=size(small=5, full=3), interval=100)
live = size(small=False, full=True)  # show measured seconds (not in the stored copy)

# %% [markdown]
# The table in milliseconds per load, one column per store and strategy. These are *your*
# machine's numbers: they differ from machine to machine and a little from run to run, which
# is why no checked cell prints them.

# %%
from IPython.display import display

milliseconds = frame.assign(ms=frame["seconds"] * 1000)
if live:
    display(milliseconds.pivot(index="length", columns=["store", "strategy"], values="ms").round(3))

# %% [markdown]
# The plot. Its bottom row (the only one in the stored copy) is the events read per load: full
# replay climbs along the diagonal, the snapshot load zigzags between 0 (at every multiple of
# 100) and 50 (its tail at 150, 1,050, ...), and a cache hit sits at 0. When you run it, the
# top row shows the measured seconds, log-log, one line per strategy, with one y-axis for
# both stores so that they compare at a glance. Full replay climbs with a slope near 1 (10
# times the events, about 10 times the time); the other two stay flat. Where the snapshot and
# cache lines lie on each other, the hollow squares (snapshot) frame the small triangles
# (cache hit).
#
# Before you run it, here is the same measurement made once on the machine that built this
# kit, at full size, with its date, processor and versions in the caption. **It is not your
# machine**: read the shapes and the ratios, not the numbers. (The script that made it is
# `tools/reference_figure.py`.)
#
# ![Load time against stream length, measured once on the machine that built esteach, not yours](../docs/figures/05-load-times-reference.png)

# %%
import matplotlib.pyplot as plt

plot_loads(frame, ["seconds", "events_read"] if live else ["events_read"])
plt.show()

# %% [markdown]
# What the plot shows, as facts that hold on any machine. The events-read facts are exact.
# The time facts are generous on purpose, so that a slow or busy machine passes them too:
# "grows" means more than 3 times slower at the longest stream than at the shortest, "flat"
# means less than 3 times, while the stream grows at least 100 times; and at the longest
# stream, snapshot and cache loads must beat full replay. Below the facts, the events read at the lengths every run measures. Look for `True`
# everywhere; for the 10 in the snapshot rows (below the interval there is no snapshot yet);
# and for the 50s: the tail after the latest snapshot, read on every load.

# %%
# NBVAL_CHECK_OUTPUT
print(shape_summary(frame, interval=100).to_string())
print()
shared = frame[frame["length"].isin([10, 100, 150, 1_000, 1_050])]
print(
    shared.pivot(index=["strategy", "length"], columns="store", values="events_read")
    .loc[["full replay", "snapshot", "cache hit"]]
    .to_string()
)

# %% [markdown]
# What the numbers mean on your machine:
#
# - **full replay, seconds divided by length**: the cost of one event, read from the store and
#   applied. For the in-memory store that is mostly `apply_event` and turning stored data back
#   into a domain event; DuckDB adds reading the row and parsing its JSON data. Multiply by
#   your longest stream to see what every command on it would cost without help.
# - **snapshot**: one snapshot read, then the tail (here 0 or 50 events, at most 99). With no
#   tail it is flat in the length of the stream; on DuckDB that is a couple of small queries,
#   about a millisecond. A tail costs its events, and on DuckDB a little more on a long
#   stream: in the reference figure, 50 events after a snapshot cost about 1.5 ms at 1,050
#   events and about 8 ms at 100,050. Compare the zigzag of the snapshot line on both
#   stores.
# - **cache hit**: a copy of the cached aggregate out of the cache and one back in (so nobody
#   can change the cached one behind its back), plus the check "is there anything after its
#   version?". On the in-memory store the check is a dictionary lookup and the two copies are
#   most of the cost, a few microseconds each: about what restoring a small snapshot costs, so
#   do not be surprised if those two lines cross. A DuckDB store needs no query for the check
#   either: it keeps the version of every stream of its file (read when it opens the file,
#   then kept up to date by each append and `bulk_import`), so its hits cost what the
#   in-memory store's do.
#
# The next cell prints, when `live`, the per-event replay cost and the two flat costs at the
# longest stream, rounded. Your numbers will differ from a neighbour's; the ratios between the
# rows are what carries over.

# %%
longest = frame[frame["length"] == frame["length"].max()]
if live:
    for row in longest.itertuples():
        if row.strategy == "full replay":
            per_event = row.seconds / row.length * 1e6
            print(f"{row.store:<16} full replay: {per_event:.1f} µs per event")
        else:
            print(f"{row.store:<16} {row.strategy}: {row.seconds * 1000:.3f} ms per load")

# %% [markdown]
# So when is a snapshot worth it? When full replay of your longest streams costs more than you
# want to pay per command. The interval trades snapshot writes (one every N events) against
# the longest tail (N - 1 events). A cache is cheaper still, but lives in one process, costs
# memory, and is cold after every restart; snapshots are what makes that first load fast.
#
# ## Recap
#
# - A **full replay** reads every event of the stream: its cost grows with the stream's
#   length, as the measurement shows.
# - A **snapshot** is the state at version V; a load is the snapshot plus the **tail** after
#   V. The policy "at least N events since the last snapshot" bounds the tail at N - 1 events
#   (with one event per command) and cannot be jumped over, unlike `version % N == 0`.
# - Every snapshot records the class's `snapshot_version`. A **stale snapshot** is ignored,
#   counted (`stale_snapshot_ignored`), and the aggregate rebuilt by full replay; the next
#   command through the new code takes a fresh one.
# - An `AggregateCache` keeps loaded aggregates, and every load asks the store for what came
#   after the cached version, so it is **never stale**: another writer's events are applied,
#   exactly those.
# - `LoadReport` says where a load started (`cache`, `snapshot`, `replay`) and how many events
#   it read: an exact measure of the saving, the same on every machine. Seconds are real too,
#   but yours.
#
# ## Quiz
#
# 1. A stream has 1,234 events; snapshots are taken every 100 events (at least 100 since the
#    last), and every command appends one event. How many events does a snapshot load read?
#    And a full replay?
#
# <details><summary>Answer</summary>
#
# The latest snapshot is at version 1,200, so a snapshot load reads the 34 events after it
# (versions 1,201 to 1,234). A full replay reads all 1,234.
#
# </details>
#
# 2. You add an attribute to an aggregate and forget to raise its `snapshot_version`. What can
#    happen, and what does raising it cost you?
#
# <details><summary>Answer</summary>
#
# Old snapshots would be restored into the new class. esteach notices an attribute that
# appears or disappears: `from_snapshot` refuses such a state, with a message that tells you
# to raise `snapshot_version`. But an attribute that keeps its name and changes its meaning
# (cents that become euros) would be restored silently wrong. Raising the version costs a full
# replay on **every load** of a stream until a command is appended to it through the new code
# (section 4): each old snapshot is ignored, and only the next command on that stream takes a
# new one. A stream that is written often pays once; a stream that is only read after the
# release pays on every load, until you write a new snapshot for it (for example with a small
# job that loads each stream and saves its snapshot).
#
# </details>
#
# 3. One program has two `CommandProcessor`s on the same event store, A and B, each with its
#    own `AggregateCache`. A renames a user; then B loads the user, who is in B's cache.
#    Does B see the new name? How many events does that load read?
#
# <details><summary>Answer</summary>
#
# Yes. B's cache holds the user at some version, and every load asks the store for the events
# after it: the rename is one such event, so the load reads exactly 1 event (`source='cache'`)
# and B sees the new name. Had B decided a command on the old state in between, its append
# would have been refused by the expected-version check, and B would have reloaded.
#
# </details>
#
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors, and every fact in section 6 says `True`.
#
# **Exercises for this lesson:** [05_exercises_snapshots_and_caching_learner](exercises/05_exercises_snapshots_and_caching_learner.ipynb).
#
# Next: [06 · Concurrency](06_concurrency.ipynb).
