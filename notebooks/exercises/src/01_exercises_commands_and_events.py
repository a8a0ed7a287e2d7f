# %% [markdown]
# # 01 · Exercises: commands and events
#
# **Time box:** 50 minutes (10 + 15 + 10 + 15) · **You will:**
#
# - write `apply_event` for a shopping cart: state changes from events, and from nothing else;
# - enforce a business rule in `handle_command`: decide, raise, change nothing;
# - write the given / when / then test of a rule, and see it catch carts that break the rule;
# - model the events of a small process yourself, their names and their data, and rebuild its
#   state from them.
#
# These exercises follow notebook **01 · Commands and events**. Each one is a small scenario
# with numbered rules. Write your code where the `____` is, then run the check cell below it.
# A check answers in one line:
#
# - **not attempted**: there is still a `____` to fill in;
# - **not yet**: what is wrong, often a mistake it recognises by name;
# - **correct**.
#
# Under every check there is a cell with three commented lines. Uncomment one and run it:
# `ex1.hint()` gives a hint (first one for the mistake your last check found, then the
# general ones, one per run); `ex1.solution()` shows a reference solution, which you can paste
# into your cell and run; `ex1.catch_up()` loads the reference solution into this notebook, so
# that you can go on when you are stuck. `progress()`, at the end, lists which exercises are
# done.
#
# This notebook comes in two copies built from one source: the **learner** copy, where you
# work, and the **solved** copy, with the reference solutions filled in.

# %% [markdown]
# ## Setup
#
# The cart lives in `esteach.exercises.cart`: its commands, events and errors, and `CartBase`,
# which holds the state and decides every command except `AddItem`; exercise 1.4's library loan
# lives in `esteach.exercises.loan`. Run this cell first. It lists the four exercises and how to
# check each one.

# %%
# NBVAL_CHECK_OUTPUT
from dataclasses import dataclass

from esteach import DomainEvent, NewEvent, given
from esteach.exercises import ____, fresh_store, progress  # ____ is where your code goes
from esteach.exercises.cart import (
    AddItem,
    CartAlreadyCheckedOut,
    CartBase,
    CartCheckedOut,
    CartNotFound,
    CartOpened,
    InvalidQuantity,
    ItemAdded,
    ItemLimitReached,
    ItemRemoved,
)
from esteach.exercises.commands_and_events import ex1, ex2, ex3, ex4, loan_story
from esteach.exercises.loan import LoanBase

print(ex1, ex2, ex3, ex4, sep="\n")

# %% [markdown]
# A cart's state is three attributes, set up empty by `CartBase.__init__`:
#
# | attribute | meaning |
# | --- | --- |
# | `customer` | who the cart belongs to (`""` until opened) |
# | `items` | a dict, sku -> quantity, e.g. `{"tea": 3}` |
# | `status` | `None` until opened, then `"open"`, then `"checked_out"` |

# %%
import inspect

print(inspect.getsource(CartBase.__init__))

# %% [markdown]
# ## Exercise 1.1 · Apply the cart's events
#
# **Scenario.** A shop records what happens to each cart as events: `CartOpened(cart_id,
# customer)`, `ItemAdded(sku, quantity)`, `ItemRemoved(sku)` and `CartCheckedOut()`. To show
# a cart, it rebuilds it from its events. Write `apply_event`, the only place a cart's state
# changes.
#
# **Rules.**
#
# 1. `CartOpened`: the customer is the event's, and the status becomes `"open"`.
# 2. `ItemAdded`: add the quantity to the sku's count in `items`. A sku added twice counts both
#    times (`tea` 2, then `tea` 1, is `{"tea": 3}`).
# 3. `ItemRemoved`: the sku's line leaves `items` entirely. An event is a fact: if the cart
#    does not hold the sku (an old release allowed that), there is nothing to remove, and no
#    error.
# 4. `CartCheckedOut`: the status becomes `"checked_out"`.
# 5. Only assign state from the event: no checks, no clock, no I/O. A replay next year must
#    give the same cart, even of a history an older release recorded under looser rules.
#    The base class counts the version: leave `self.version` alone.


# %%
class Cart(CartBase):
    def apply_event(self, event):
        ____  # SOLUTION: Cart.apply_event


# %% [markdown]
# **Try it.** Record five events in a fresh store and rebuild the cart from them. Look at
# `items`: tea twice makes 3, and cake is gone. (Until you fill in `apply_event`, the cart
# stays empty; its version still counts the events, since the base class counts them.)

# %%
store = fresh_store()  # a new, empty store: run this cell again to start over
cart_events = [
    CartOpened("cart-1", "Ada"),
    ItemAdded("tea", 2),
    ItemAdded("cake", 1),
    ItemAdded("tea", 1),
    ItemRemoved("cake"),
]
store.append_events("cart-1", 0, [NewEvent.from_domain(e, "Cart") for e in cart_events])
Cart.load_from_events(store.get_events("cart-1"))

# %% [markdown]
# **Check it.** The check replays this history and one an older release recorded (it let
# customers remove what they never added, hold 12 of one sku, and add to a checked-out cart),
# one event at a time, and compares the state after each event with the reference. It also
# watches `apply_event` for a reading of the clock, I/O or random numbers.

# %%
# NBVAL_CHECK_OUTPUT
ex1.check(Cart)

# %%
# ex1.hint()      # a hint; run again for the next one
# ex1.solution()  # a reference solution
# ex1.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 1.2 · Enforce the rules of `AddItem`
#
# **Scenario.** `CartBase` decides `OpenCart`, `RemoveItem` and `CheckOut`, and leaves
# `AddItem(cart_id, sku, quantity)` to you. Decide it in `handle_command`; pass every other
# command on to `super().handle_command(command)` (that line is written for you).
#
# **Rules**, checked in this order (the first one broken names the error):
#
# 1. The cart must exist: else raise `CartNotFound`.
# 2. A checked-out cart takes no more items: raise `CartAlreadyCheckedOut`.
# 3. The quantity is 1 to 10: else raise `InvalidQuantity`.
# 4. A cart holds at most 10 of one sku, counting what it holds already: else raise
#    `ItemLimitReached`. (7 tea plus 3 more is fine; plus 4 is not.)
# 5. Otherwise decide `[ItemAdded(sku, quantity)]`, and change nothing: state changes only in
#    `apply_event`, once the event is recorded.
#
# `self.exists` tells whether the cart was opened. `CartWithRules` builds on your `Cart`, so
# finish exercise 1.1 first (or run `ex1.catch_up()`, then this cell again). The check runs
# your `handle_command` with the reference `apply_event`, so a slip in 1.1 does not count
# twice.


# %%
class CartWithRules(Cart):
    def handle_command(self, command):
        # BEGIN SOLUTION: CartWithRules.handle_command
        if isinstance(command, AddItem):
            ____  # your code here
        return super().handle_command(command)
        # END SOLUTION


# %% [markdown]
# **Try it.** A cart with 7 tea: decide 3 more, then 4 more. Look at the first answer (one
# event) and the second (an error), and at `items` afterwards: deciding changed nothing.

# %%
tea_cart = CartWithRules("cart-2")
for event in [CartOpened("cart-2", "Grace"), ItemAdded("tea", 7)]:
    tea_cart.apply_event(event)
for quantity in (3, 4):
    try:
        print(f"{quantity} more tea:", tea_cart.handle_command(AddItem("cart-2", "tea", quantity)))
    except Exception as error:
        print(f"{quantity} more tea: {type(error).__name__}: {error}")
print("items:", tea_cart.items)

# %% [markdown]
# **Check it.** Thirteen scenarios, one or more per rule. Before each decision the check
# copies the cart's state, and compares after: a decision that changed state is named.

# %%
# NBVAL_CHECK_OUTPUT
ex2.check(CartWithRules)

# %%
# ex2.hint()      # a hint; run again for the next one
# ex2.solution()  # a reference solution
# ex2.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 1.3 · Write the test of a rule
#
# **Scenario.** Rule 2 of exercise 1.2 deserves a test of its own, so that nobody breaks it
# later. Write it as a given / when / then scenario (notebook 01, section 9).
#
# **Rules.**
#
# 1. The test takes one argument, the cart class to test, and passes it on:
#    `given(..., aggregate=cart_class)`.
# 2. Given a cart that was opened, got an item and was checked out; when `AddItem` arrives;
#    then `CartAlreadyCheckedOut` is raised.
# 3. The test passes against a correct cart, and fails against a cart that breaks the rule:
#    one that lets the item in, and one that raises another error. A test fails by raising:
#    `then_raises(...)` does it for you, and so do `pytest.raises(...)` and a plain `assert`
#    in a `try`/`except`; all three are fine.


# %%
def test_checked_out_cart_takes_no_items(cart_class):
    ____  # SOLUTION: test_checked_out_cart_takes_no_items


# %% [markdown]
# **Check it.** The check runs your test three times: against the reference cart (it must
# pass), against a cart that forgot the rule, and against one that raises `CartNotFound`
# instead (it must fail against both: any error your test raises counts as failing). A test
# that passes against a broken cart tests nothing.

# %%
# NBVAL_CHECK_OUTPUT
ex3.check(test_checked_out_cart_takes_no_items)

# %%
# ex3.hint()      # a hint; run again for the next one
# ex3.solution()  # a reference solution
# ex3.catch_up()  # stuck? load the reference solution and go on

# %% [markdown]
# ## Exercise 1.4 · Model the events yourself
#
# **Scenario.** A library lends books. In the librarian's words: *a member borrows a book,
# due back in three weeks; the member may extend the loan, to a new due date; the member
# returns the book, on some day; if that day is after the due date, the library charges a
# fine.* Nobody has written these events yet: name them, give each its data, and write the
# `apply_event` that rebuilds a loan from them.
#
# `LoanBase` (in `esteach.exercises.loan`) holds a loan's state, which your `apply_event`
# sets, and works out what follows from it:
#
# | attribute | meaning |
# | --- | --- |
# | `member_id`, `book_id` | who borrowed which book (`""` until borrowed) |
# | `due_on` | when the book is due back, an ISO date such as `"2025-03-24"` (`None` until borrowed) |
# | `returned_on` | the day the book came back (`None` while it is out) |
# | `fines_cents` | the total of every fine charged, in whole cents (`0` at first) |
# | `is_returned`, `days_late`, `returned_late` | worked out by `LoanBase` from `due_on` and `returned_on`: read them, never set them |
#
# **Rules.**
#
# 1. Each step of the story (`"borrow"`, `"extend"`, `"return"`, `"fine"`) is its own event:
#    a frozen dataclass that subclasses `DomainEvent`. Put the four classes in `events`, a
#    dict from step to class.
# 2. An event is a fact: its name says what happened, in the past tense, the verb last
#    (`CartOpened`, not `OpenCart`, which is a command).
# 3. Name the business fact, not a database change: `...Updated` or `...Changed` says nothing.
# 4. Each event carries what the fact says and nothing that can be worked out from the events:
#    who, which book and when it is due when borrowing; not whether a return was late
#    (`LoanBase` works that out from the return day and the due date), not a running total,
#    not the old due date. The loan's id is the stream's, so it need not be a field. Name each
#    field with a word of the story (`member`, `book`, `due`, `returned`, `amount` or `cents`,
#    ...): the check fills your fields with the story's values by those words. Dates are ISO
#    text (`str`), amounts whole cents (`int`): event data is JSON.
# 5. `apply_event` only assigns state from the event, as in exercise 1.1: an extension
#    replaces the due date, a fine adds to the total, and nothing changes the event.
#
# First, what `LoanBase` works out. Nobody records that a return was late:

# %%
late = LoanBase("loan-0")
late.due_on, late.returned_on = "2025-03-24", "2025-03-27"
print("returned:", late.is_returned, "· late:", late.returned_late, "· days late:", late.days_late)


# %% [markdown]
# An event class is a frozen dataclass that subclasses `DomainEvent`, as the cart's are:

# %%
print(inspect.getsource(ItemAdded))

# %% [markdown]
# Your events: one class per step, in that shape, named and with fields of your choice; then
# `events`, which says which class is which step.

# %%
# BEGIN SOLUTION: LOAN_EVENTS
# Your four event classes here, each with its decorator, as ItemAdded above.

events = {"borrow": ____, "extend": ____, "return": ____, "fine": ____}
# END SOLUTION


# %% [markdown]
# Your loan: `apply_event`, one branch per event of yours.


# %%
class Loan(LoanBase):
    def apply_event(self, event):
        ____  # SOLUTION: Loan.apply_event


# %% [markdown]
# **Try it.** `loan_story(events)` tells the story (borrowed, extended, returned late, fined)
# with your events, filling each field by its name as the check will. Replay it and watch the
# state after each event. (Until `events` is written, the story has no events.)

# %%
loan = Loan("loan-1")
for event in loan_story(events):
    loan.apply_event(event)
    print(f"{event!r:60} due_on={loan.due_on} fines_cents={loan.fines_cents}")
print("returned late:", loan.returned_late, "· days late:", loan.days_late)

# %% [markdown]
# **Check it.** The check reads each step's event first: the name's tense and words, then its
# fields, for data a replay needs and data that can be worked out. Then it plays three loans
# through your `apply_event` (this story; one extended twice and fined twice; one returned on
# time) and compares the state after each event with the reference. It stops at the first
# thing to fix.

# %%
# NBVAL_CHECK_OUTPUT
ex4.check(events, Loan)

# %%
# ex4.hint()      # a hint; run again for the next one
# ex4.solution()  # a reference solution
# ex4.catch_up()  # stuck? load the reference solution and go on

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
# - `apply_event` only assigns state from the event: no rules, no clock, no I/O; and it never
#   refuses an event, because an event already happened.
# - `handle_command` reads state and the command and returns events or raises; it changes
#   nothing. The checks name both mistakes when they see them.
# - A rule's test is a scenario: given past events, when a command, then events or an error.
#   A good test fails when the rule is broken; try it against a broken version.
# - Events are named for what happened, in the past tense, and carry what the fact says,
#   nothing that can be worked out from the other events: the aggregate (here `LoanBase`)
#   works out the rest, such as whether a return was late, from the state its events set.
#
# **Ran a cell twice, or want to start over?** *Kernel → Restart Kernel and Run All Cells*.
# Cells that append events can be run again after `store.reset()` (or after the cell with
# `fresh_store()`), which empties the store and rewinds its clock and ids.
#
# Next: **02 · Exercises: the event store**.
