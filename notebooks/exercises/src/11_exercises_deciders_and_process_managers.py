# %% [markdown]
# # 11 · Exercises: deciders and process managers
#
# **Time box:** 40 minutes (20 + 20) · **You will:**
#
# - write the shopping cart of exercises 1.1 and 1.2 again, as a decider: two pure functions,
#   `decide(command, state)` and `evolve(state, event)`, over a frozen state;
# - run the two through the same `CommandProcessor` as a class-based aggregate;
# - finish the money transfer's compensation: record a refused deposit and refund the source,
#   once, however often the runner reads the log again and wherever it crashes.
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
from esteach.domains.account import BankAccount, CloseAccount, DepositMoney, OpenAccount
from esteach.domains.transfer import RecordCreditRefused, StartTransfer, Transfer
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
from esteach.exercises.deciders import TransferProcessBase, ex1, ex2
from esteach.processes import ProcessRunner, Step

print(ex1, ex2, sep="\n")
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
# ## Exercise 11.2 · Finish the transfer's compensation
#
# **Scenario.** The transfer of notebook 11 moves money from a source account to a target
# account in steps, each a command with a command id. `TransferProcessBase` does all of it but
# the compensation: when the deposit into the target is refused (the target was closed), the
# money has already left the source, and nothing brings it back. Finish it.
#
# **Rules.**
#
# 1. `refused(state, step, error)`: when the refused step is the deposit (its command id is
#    `f"{t}/credit"`, with `t = state.aggregate_id`), record the refusal: return
#    `[Step(RecordCreditRefused(t, str(error)), f"{t}/credit-refused")]`. A refusal is not an
#    event; this turns it into a fact of the transfer's own stream.
# 2. `react(state, event)`: in answer to that fact, `TransferCreditRefused`, refund the
#    **source**: a `DepositMoney` of the transfer's amount into `state.source`.
# 3. Every step has a command id that names this transfer's step and is the same on every run
#    (`f"{t}/refund"`): a restarted runner reads the log from position 0 and sends every step
#    again, and only the command id stops it paying twice.
# 4. Only the refused deposit is compensated: a refused withdrawal moved nothing, and the base
#    class records it as `TransferFailed`. Pass everything else on to `super()`.
#
# `state` is the transfer (a `Transfer` aggregate): `state.source`, `state.target`,
# `state.amount`, `state.status`.


# %%
class CompensatingTransfer(TransferProcessBase):
    def react(self, state, event):
        # BEGIN SOLUTION: CompensatingTransfer.react
        t = state.aggregate_id
        if event.event_type == "TransferCreditRefused":
            ____  # your code here
        return super().react(state, event)
        # END SOLUTION

    def refused(self, state, step, error):
        # BEGIN SOLUTION: CompensatingTransfer.refused
        t = state.aggregate_id
        ____  # your code here
        return super().refused(state, step, error)
        # END SOLUTION


# %% [markdown]
# **Try it.** Ada has 100; Grace's account is closed. A transfer of 60 from Ada to Grace: the
# withdrawal goes through, the deposit is refused. Run the process, then run it twice more
# from the start of the log, as a restarted runner would. (Until you finish the class, the
# transfer stays `debited` and Ada's 60 are lost in flight.)

# %%
bank = InMemoryEventStore()
accounts = CommandProcessor(bank, BankAccount)
transfers = CommandProcessor(bank, Transfer)
for command in (OpenAccount("ada", "Ada"), OpenAccount("grace", "Grace"), DepositMoney("ada", 100)):
    accounts.process_command(command)
accounts.process_command(CloseAccount("grace"))
transfers.process_command(StartTransfer("t-1", "ada", "grace", 60))
for run in range(3):
    ProcessRunner(bank, CompensatingTransfer(), [accounts, transfers]).run_until_idle()
    print(
        f"run {run + 1}:", transfers.load("t-1").status, "· Ada has", accounts.load("ada").balance
    )

# %% [markdown]
# **Check it.** The check runs your class over fresh stores: the happy path, a refused
# withdrawal, the refused deposit, the same log read again from position 0 twice, a crash right
# after the refund is paid and before it is recorded (then a restart), and two refused
# transfers from the same account.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(CompensatingTransfer)

# %%
# ex2.hint()      # a hint; run again for the next one
# ex2.solution()  # a reference solution
# ex2.catch_up()  # stuck? load the reference solution and go on

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
# - A process manager turns a refusal into a fact of its own stream, and compensates in answer
#   to that fact. Every step's command id names the step, the same on every run, so reading
#   the log again, or restarting after a crash, pays nobody twice.
#
# **Start over:** *Kernel → Restart Kernel and Run All Cells*; the store here is made anew by
# the Try it cell each time it runs.
#
# Next: back to the lessons, or **01 · Exercises: commands and events** to compare the class
# style.
