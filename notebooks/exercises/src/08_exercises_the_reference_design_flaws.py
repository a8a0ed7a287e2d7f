# %% [markdown]
# # 08 · Exercises: the reference design's flaws
#
# **Time box:** 15 minutes · **You will:**
#
# - read six short snippets of event-sourced code, each written the way the reference design of
#   notebook 08 wrote it;
# - name the flaw each one makes, by its number in notebook 08, and read why.
#
# These exercises follow notebook **08 · The reference design's flaws**. Write your answer
# where the `____` is, then run the check cell below it. A check answers in one line: **not
# attempted** (there is still a `____`), **not yet** (what is wrong, and where to look) or
# **correct**. Under the check, uncomment `ex1.hint()` for a hint, `ex1.solution()` for the
# answers, or `ex1.catch_up()` to load them. `progress()`, at the end, lists which exercises
# are done.

# %% [markdown]
# ## Setup
#
# Run this cell first: it prints the six snippets and the fourteen flaws of notebook 08.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.flaws import ex1, show

print(ex1)
print(show())

# %% [markdown]
# ## Exercise 8.1 · Spot the flaw
#
# **Scenario.** A code review: six snippets from a team that is new to event sourcing. Each
# would work in a demo and hurt in production, in one of the ways notebook 08 showed.
#
# **Rules.**
#
# 1. For each snippet, `A` to `F`, write the number of the flaw it makes (1 to 14, as listed
#    above); its title, as a string, is fine too.
# 2. Each snippet makes a different flaw.
# 3. Look for the one line that would hurt: a commit, a clock reading, a check-then-act, a
#    string a user typed, a cache, a `+=`.

# %%
# BEGIN SOLUTION: VERDICTS
verdicts = {"A": ____, "B": ____, "C": ____, "D": ____, "E": ____, "F": ____}
# END SOLUTION

# %% [markdown]
# **Check it.** The check reads your verdicts in order; for a wrong one it names the line of
# the snippet that gives the flaw away, and `ex1.hint()` says what goes wrong in production.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(verdicts)

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
# - Most flaws hide in one line: a commit inside a loop, a check-then-act without a lock, a
#   clock read too early, a user's text used as a pattern, a cache nobody invalidates, a
#   handler that adds without remembering what it handled.
# - Notebook 08 shows each one happening; the esteach package shows each one handled.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*.
#
# Next: **09 · Exercises: analytics**.
