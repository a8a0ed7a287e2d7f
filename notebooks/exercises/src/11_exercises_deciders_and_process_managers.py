# %% [markdown]
# # 11 · Exercises: deciders and process managers
#
# **Time box:** 20 minutes · **You will:**
#
# - write the shopping cart of exercises 1.1 and 1.2 again, as a decider: two pure functions,
#   `decide(command, state)` and `evolve(state, event)`, over a frozen state;
# - run the two through the same `CommandProcessor` as a class-based aggregate.
#
# These exercises follow notebook **11 · Deciders and process managers**. Write your code where
# the `____` is, then run the check cell below it. A check answers in one line: **not
# attempted** (there is still a `____`), **not yet** (what is wrong, often a mistake it
# recognises by name) or **correct**.
#
# Under every check there is a cell with three commented lines: `ex1.hint()` gives a hint
# (first one for the mistake your last check found), `ex1.solution()` shows a reference
# solution, `ex1.catch_up()` loads it into this notebook. `progress()`, at the end, lists which
# exercises are done.

# %% [markdown]
# ## Setup
#
# The cart's commands, events and errors are those of notebook 01's exercises
# (`esteach.exercises.cart`). `CartState` is its state as a value, and
# `decide_other_commands(command, state)` decides every command but `AddItem`. Run this cell
# first.

# %%
# NBVAL_CHECK_OUTPUT
import dataclasses

from esteach import CommandProcessor, Decider, InMemoryEventStore
from esteach.exercises import ____, progress  # ____ is where your code goes
from esteach.exercises.cart import (
    AddItem,
    CartAlreadyCheckedOut,
    CartCheckedOut,
    CartCommand,
    CartNotFound,
    CartOpened,
    CartState,
    CheckOut,
    InvalidQuantity,
    ItemAdded,
    ItemLimitReached,
    ItemRemoved,
    OpenCart,
    decide_other_commands,
)
from esteach.exercises.deciders import ex1

print(ex1)
print(CartState())

# %% [markdown]
# ## Exercise 11.1 · The cart as a decider
#
# **Scenario.** The shop's team likes the decider style of notebook 11 and rewrites the cart in
# it. The state is a frozen `CartState(customer, items, status)`: `items` maps a sku to its
# quantity, and `status` is `None` until the cart is opened, then `"open"`, then
# `"checked_out"`. Write `evolve` for the four events and `decide` for `AddItem`;
# `decide_other_commands` decides the rest (that line is written for you).
#
# **Rules.**
#
# 1. `CartOpened`: the customer is the event's, and the status becomes `"open"`.
# 2. `ItemAdded`: add the quantity to the sku's count (`tea` 2, then `tea` 1, is
#    `{"tea": 3}`).
# 3. `ItemRemoved`: the sku's line leaves `items` entirely; a sku the cart does not hold (an
#    old release allowed that) is no error.
# 4. `CartCheckedOut`: the status becomes `"checked_out"`.
# 5. `decide` checks the rules of `AddItem` in the order of exercise 1.2: the cart exists
#    (`CartNotFound`), is not checked out (`CartAlreadyCheckedOut`), the quantity is 1 to 10
#    (`InvalidQuantity`), at most 10 of one sku counting what the cart holds
#    (`ItemLimitReached`); then it returns `[ItemAdded(sku, quantity)]`. It changes nothing;
#    `evolve` checks no rules: an event is a fact.
# 6. `evolve` returns a **new** state and leaves the one it was given as it was: no clock, no
#    I/O, and no change to `state.items` in place (the old state may still be in use, by a
#    snapshot or a time-travel view). `dataclasses.replace(state, ...)` makes a new state;
#    `dict(state.items)` a new dict.


# %%
def evolve(state, event):
    ____  # SOLUTION: evolve


def decide(command, state):
    # BEGIN SOLUTION: decide
    if isinstance(command, AddItem):
        ____  # your code here
    return decide_other_commands(command, state)
    # END SOLUTION


# %% [markdown]
# **Try it.** Make a `Decider` of your two functions and run it through a `CommandProcessor`,
# exactly as notebook 11 runs `bank_account`. The cart's state is `load(...).current`.
# (Until you fill in the functions, `AddItem` is refused and the state is `None`: `evolve`
# returns nothing yet.)

# %%
cart = Decider("Cart", CartState(), decide, evolve, command_types=(CartCommand,))
carts = CommandProcessor(InMemoryEventStore(), cart)
for command in (
    OpenCart("cart-1", "Ada"),
    AddItem("cart-1", "tea", 2),
    AddItem("cart-1", "tea", 1),
    CheckOut("cart-1"),
):
    try:
        carts.process_command(command)
    except Exception as error:
        print(f"{type(command).__name__}: {type(error).__name__}: {error}")
carts.load("cart-1").current

# %% [markdown]
# **Check it.** The check plays the history of exercise 1.1 and the old release's through
# `evolve`, one event at a time, and compares each new state with the reference; it keeps a
# copy of the state it passed in and compares it afterwards. Then it runs the twelve
# scenarios of exercise 1.2 through `decide`, again comparing the state before and after, and
# watching both functions for the clock, I/O and random numbers. Last, it runs your two
# functions as a `Decider` through a `CommandProcessor`.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(decide, evolve)

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
# - A decider is the aggregate's two functions with the state passed in: `decide` returns
#   events or raises, `evolve` returns the next state. Neither changes what it was given.
# - The rules are the same in both styles, and so are the mistakes: a rule in `evolve`, a state
#   changed while deciding, a clock read while applying.
# - Both styles run through the same `CommandProcessor`, stores and `given / when / then`.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; the store here is made anew by
# the Try it cell each time it runs.
#
# Next: back to the lessons, or **01 · Exercises: commands and events** to compare the class
# style.
