# %% [markdown]
# # 00 · Setup check
#
# **Time box:** 10 minutes · **You will:** confirm that Python, the `esteach` package, DuckDB,
# pandas, matplotlib and ipywidgets all work in this JupyterLab, and run one command end to end.
#
# Run the cells from top to bottom (Shift+Enter, or *Run → Run All Cells*). Nothing below has
# printed anything yet: what you see after running is this machine's answer. Every check prints
# `ok`; if one does not, the cell stops with a message that says what to fix.
#
# (The first `python3 run.py lab` or `python3 run.py setup` installs everything into `.venv/`,
# which takes a minute or more; later starts take a second. If you opened JupyterLab with
# `python3 run.py lab`, this is your own working copy in `workspace/`, and `START_HERE.ipynb`
# beside it lists every lesson and exercise.)
#
# esteach is built from a design document, the *reference design*; the lessons point out its
# 14 flaws as they go. [docs/reference-design.md](../docs/reference-design.md) summarises it.

# %% [markdown]
# ## 1. The tools
#
# The kit needs Python 3.11 or newer and the DuckDB version it was tested with (a DuckDB file
# written by 2.0 cannot be opened by 1.x, so the version is pinned).

# %%
import sys

import duckdb
import ipywidgets
import matplotlib
import pandas as pd
import pyarrow

import esteach

checks = {
    "python >= 3.11": sys.version_info >= (3, 11),
    "duckdb 2.0.x": duckdb.__version__.startswith("2.0."),
    "pandas >= 2.2": tuple(int(p) for p in pd.__version__.split(".")[:2]) >= (2, 2),
    "pyarrow >= 15": int(pyarrow.__version__.split(".")[0]) >= 15,
    "ipywidgets 8": ipywidgets.__version__.startswith("8."),
    "matplotlib": bool(matplotlib.__version__),
    "esteach": esteach.__version__ == "0.1.0",
}
for name, ok in checks.items():
    print(f"{name:<16} {'ok' if ok else 'NOT OK'}")
if not all(checks.values()):
    raise RuntimeError("a check is NOT OK: delete .venv/ and run `python3 run.py setup` again")

# %% [markdown]
# ## 2. One command, end to end
#
# A `CommandProcessor` loads a `User` from its events, lets it decide, and appends what it
# decided to an event store. The clock and the id factory are injected, so this notebook
# prints the same timestamps and ids on every run. Look at the `version` column: the store
# numbers each user's events 1, 2, 3.

# %%
from datetime import UTC, datetime, timedelta

from esteach import CommandProcessor, InMemoryEventStore, SeededIds, StepClock
from esteach.domains.user import ChangeEmail, CreateUser, User

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=5))
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
users = CommandProcessor(store, User, ids=SeededIds(1))

users.process_command(CreateUser("ada", "ada@example.com", "Ada Lovelace"))
users.process_command(ChangeEmail("ada", "ada@analytical.engine"))

pd.DataFrame(
    [(e.aggregate_id, e.version, e.event_type, e.timestamp, e.data) for e in store.read_all()],
    columns=["aggregate_id", "version", "event_type", "timestamp", "data"],
)

# %% [markdown]
# Replaying those two events rebuilds the user's current state:

# %%
users.load("ada")

# %% [markdown]
# ## 3. DuckDB
#
# The same commands against the DuckDB store, in memory. SQL over the `events` table works
# straight away.

# %%
from esteach import DuckDBEventStore

duck = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(2))
duck_users = CommandProcessor(duck, User, ids=SeededIds(3))
duck_users.process_command(CreateUser("grace", "grace@example.com", "Grace Hopper"))
duck.sql("SELECT aggregate_id, version, event_type, data->>'email' AS email FROM events").fetchall()

# %% [markdown]
# ## 4. Plots and widgets
#
# You should see a small bar chart, then a slider you can drag. If the slider shows as text
# only, reload the browser page; if it still does, run `python3 run.py setup` again.

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4, 2))
ax.bar(["ada", "grace"], [store.stream_version("ada"), duck.stream_version("grace")])
ax.set_title("events per user")
ax.set_ylabel("events")
ax.yaxis.get_major_locator().set_params(integer=True)  # counts: no 0.5 events
plt.show()

# %%
ipywidgets.IntSlider(value=1, min=1, max=2, description="version")

# %% [markdown]
# ## You are ready
#
# Every check above printed `ok`, two users exist, the plot and the slider showed.
# Next: [01 · Commands and events](01_commands_and_events.ipynb).
