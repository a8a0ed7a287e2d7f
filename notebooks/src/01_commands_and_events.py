# %% [markdown]
# # 01 · Commands and events
#
# **Time box:** 45 minutes · **You will:**
#
# - tell a **command** (a request, which may be rejected) from an **event** (a fact, which
#   already happened);
# - see an **aggregate** decide in `handle_command` without changing anything, and change
#   state only in `apply_event`;
# - walk one user through a life of commands, including the ones the rules reject;
# - rebuild the user from its events alone, and see what the store adds around each event;
# - state rules as **given / when / then** scenarios, and watch one catch a sloppy aggregate;
# - recognise the same pattern in a second domain, a bank account.
#
# Run the cells from top to bottom. The prose before each cell says what to look for.
#
# "Flaw N" below means one of the 14 flaws of the reference design esteach is built from:
# [docs/reference-design.md](../docs/reference-design.md) summarises the design and lists them.

# %% [markdown]
# ## 1. Two kinds of message
#
# An event-sourced system records *what happened* instead of *what is*. Two kinds of message
# flow through it:
#
# | | command | event |
# | --- | --- | --- |
# | grammar | imperative: `ChangeEmail` | past tense: `UserEmailChanged` |
# | meaning | a request: "please do this" | a fact: "this happened" |
# | can it fail? | yes, a business rule may reject it | no: it already happened |
# | kept? | no, it is handled and forgotten | yes, forever, in the event log |
#
# An **aggregate** is the thing that decides. Here it is a `User`. It does two separate jobs:
#
# 1. **decide** (`handle_command`): look at the current state and the command, and either
#    return the events that should happen or raise an error. It changes nothing.
# 2. **apply** (`apply_event`): change the state by one event. It decides nothing.
#
# Keeping the two apart is what makes the log the truth: state is only ever the result of
# applying events, so applying the same events again always rebuilds the same state.
#
# The `User` here is the one from the reference design this kit is built from (summarised in
# [docs/reference-design.md](../docs/reference-design.md)), with its flaws fixed. This notebook
# points out the first four of them.

# %% [markdown]
# ## 2. Commands
#
# Commands are small frozen dataclasses. Their field types are checked when you make one, so
# a malformed command fails at once, before any business rule runs. Look at the two messages:
# each names the field and what was wrong with it.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidCommand
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser

print(CreateUser("ada", "ada@example.com", "Ada Lovelace"))
for make in (
    lambda: CreateUser("", "ada@example.com", "Ada"),
    lambda: ChangeEmail("ada", new_email=42),
):
    try:
        make()
    except InvalidCommand as error:
        print(f"{type(error).__name__}: {error}")

# %% [markdown]
# Notice the first field, `user_id`: **the caller chooses the id**. In the reference design,
# `CreateUser` had no id; `handle_command` invented a fresh UUID inside, although the stream
# had already been chosen before that id existed, so the stream id and the user's id differed
# (flaw 2). Here the command names the user it is about, and that name is also its stream.

# %% [markdown]
# ## 3. Deciding changes nothing
#
# Make an empty `User` (version 0: it does not exist yet) and hand it a `CreateUser`. Look at
# what comes back: a list with one event. Then look at the user: still version 0, no email,
# no status. Deciding only *proposed* the event.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import User

user = User("ada")
decided = user.handle_command(CreateUser("ada", "ada@example.com", "Ada Lovelace"))
print("decided:", decided)
print("user:   ", user)

# %% [markdown]
# Here is the decision code itself, straight from the package. It reads state and raises or
# returns events; there is not a single assignment to `self` in it. Notice also the two
# `return [] if ... else [...]` lines: changing a value to what it already is decides nothing.

# %%
import inspect

print(inspect.getsource(User.handle_command))

# %% [markdown]
# ## 4. Events have business names
#
# An event's type is its class name: a past-tense name in the language of the business. Its
# data is a plain JSON object. That name is what the log stores, and what read models and
# handlers will later subscribe to.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import UserCreated

event = decided[0]
print(event.event_type)
print(event.to_data())
print(event.user_id == user.aggregate_id)  # the event's user is the stream's user (flaw 2)

# %% [markdown]
# The reference design stored `std::any::type_name` as the event type, a language type path
# such as `my_app::domain::UserEvent`, while its handlers listened for `"UserCreated"`, so no
# handler ever fired (flaw 1). esteach refuses a type path as an event type, and says why:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import InvalidEventData, NewEvent

try:
    NewEvent("esteach.domains.user.UserCreated", {"user_id": "ada"})
except InvalidEventData as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## 5. Applying: the only place state changes
#
# `apply_event` takes one event and changes the state. Read it: no business rules, just
# assignments. An event is a fact, so applying it must not fail (the last branch only guards
# against an event that belongs to another kind of aggregate).

# %%
print(inspect.getsource(User.apply_event))

# %% [markdown]
# To run commands by hand we need a place to keep the events. An `InMemoryEventStore` will do
# (notebook 02 looks inside it). The helper below does, for one command, what a command
# processor does for you:
#
# 1. **decide**: `handle_command`; a rejected command prints its error and records nothing;
# 2. **record**: wrap each domain event in a `NewEvent` and append it to the user's stream,
#    telling the store which version we decided on (`aggregate.version`);
# 3. **apply**: `aggregate.apply(recorded)`, the base class's method, checks that the
#    recorded event is the next one of this stream, calls your `apply_event`, and counts the
#    version. That is why we apply *recorded* events, not the domain events directly.
#
# The clock and the id factory are injected, so every run records the same times and ids.

# %%
from datetime import UTC, datetime, timedelta

from esteach import DomainError, EventMetadata, InMemoryEventStore, SeededIds, StepClock

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))
log = InMemoryEventStore(clock=clock, ids=SeededIds(0))


def handle(aggregate, command):
    """Decide, record, apply: one command, by hand."""
    try:
        decided = aggregate.handle_command(command)  # 1. decide (pure; may raise)
    except DomainError as error:
        print(f"rejected: {type(error).__name__}: {error}")
        return
    new_events = [  # 2. record: wrap and append
        NewEvent(
            event.event_type,
            event.to_data(),
            aggregate.aggregate_type,
            # the version of the event's data shape (notebook 07)
            metadata=EventMetadata(schema_version=event.schema_version),
        )
        for event in decided
    ]
    recorded = log.append_events(aggregate.aggregate_id, aggregate.version, new_events)
    for event in recorded:
        aggregate.apply(event)  # 3. apply: the only place state changes
    print(f"decided:  {decided}")
    print(f"state:    {aggregate}")


# %% [markdown]
# ## 6. A user's life
#
# Start again from an empty user and create it. This time the event is recorded and applied:
# the state shows the email, the name, `status='active'` and `version=1`.

# %%
# NBVAL_CHECK_OUTPUT
ada = User("ada")
handle(ada, CreateUser("ada", "ada@example.com", "Ada Lovelace"))

# %% [markdown]
# Change the email. One `UserEmailChanged` event, version 2.

# %%
# NBVAL_CHECK_OUTPUT
handle(ada, ChangeEmail("ada", "ada@lovelace.org"))

# %% [markdown]
# Now send the same email again. Look at `decided`: an empty list. Nothing happened, so
# nothing is recorded and the version stays 2. The reference design recorded an event for it
# anyway, and did not check emails at all (flaw 4).

# %%
# NBVAL_CHECK_OUTPUT
handle(ada, ChangeEmail("ada", "ada@lovelace.org"))

# %% [markdown]
# An email without the shape `name@domain.tld` is rejected by a business rule. The command
# itself was well formed (a `str`), so this is a `DomainError`, not an `InvalidCommand`.

# %%
# NBVAL_CHECK_OUTPUT
handle(ada, ChangeEmail("ada", "ada at lovelace dot org"))

# %% [markdown]
# Deactivate Ada (version 3), then try to rename her. A deactivated user cannot change, and
# the error says so.

# %%
# NBVAL_CHECK_OUTPUT
handle(ada, DeactivateUser("ada"))
handle(ada, ChangeName("ada", "Augusta Ada King"))

# %% [markdown]
# Last, a command for a user who never existed. The reference design answered `UserNotActive`
# here (or `UserAlreadyDeactivated` for a deactivation), which sends whoever reads it looking
# for a deactivation that never happened (flaw 3). esteach says what is true:

# %%
# NBVAL_CHECK_OUTPUT
handle(User("ghost"), ChangeEmail("ghost", "boo@example.com"))

# %% [markdown]
# ## 7. State is rebuilt from events
#
# Everything Ada is now is in her three events. Throw the object away and rebuild it with
# `User.load_from_events`: a fresh `User`, with each event applied in order. Look at
# `version=3`: the number of events applied, which is also the version the next append must
# expect.

# %%
# NBVAL_CHECK_OUTPUT
events = log.get_events("ada")
rebuilt = User.load_from_events(events)
print(rebuilt)
print("same state as before:", rebuilt.state() == ada.state())

# %% [markdown]
# Replay only a prefix of the log and you get the user as she was back then: here after two
# events, still active, already with her new email. (Notebook 04 turns this into time travel.)

# %%
# NBVAL_CHECK_OUTPUT
User.load_from_events(events[:2])

# %% [markdown]
# ## 8. The envelope around a domain event
#
# The aggregate decides small **domain events** (`UserEmailChanged(new_email=...)`). The store
# records each one inside an **envelope**, an `Event`, that says where and when it belongs.
# The table below lists the envelope of Ada's second event and who filled in each field.
# Look at which fields come from the store: the id (unless the caller gave one), the version,
# the commit timestamp and the global position.

# %%
# NBVAL_CHECK_OUTPUT
envelope = events[1]
set_by = {
    "id": "the store (its id factory), unless the caller chose one",
    "aggregate_id": "the caller: the stream appended to",
    "aggregate_type": "the caller (NewEvent)",
    "event_type": "the domain event: its class name",
    "version": "the store: 1, 2, 3, ... in this stream",
    "timestamp": "the store, at commit",
    "data": "the domain event: its fields",
    "global_position": "the store: 1, 2, 3, ... over all streams",
    "metadata": "the caller (NewEvent)",
}
for name, who in set_by.items():
    value = "(below)" if name == "metadata" else getattr(envelope, name)
    print(f"{name:<16} {value!s:<37} <- {who}")
for name, value in envelope.metadata.to_dict().items():
    print(f"  {name:<16} {value}")

# %% [markdown]
# The metadata is empty here because our helper did not fill it; in notebook 02 the
# `CommandProcessor` records who asked and why on every event, which the reference design
# never did (flaw 12).
#
# Going back is one call: the registry of event classes turns an envelope into its domain
# event. This is what `load_from_events` does for each event before `apply_event`.

# %%
# NBVAL_CHECK_OUTPUT
User.events.to_domain(envelope)

# %% [markdown]
# ## 9. Rules as given / when / then
#
# A business rule reads naturally as a scenario: *given* these past events, *when* this
# command arrives, *then* these events are decided (or this error is raised). `given` builds
# the aggregate from the past events, hands it the command, and checks the outcome. No store,
# no clock: the aggregate's rules alone. A scenario that holds returns itself, and prints as a
# one-line summary:

# %%
# NBVAL_CHECK_OUTPUT
from esteach import given
from esteach.domains.user import UserEmailChanged

created = UserCreated("u-1", "ada@example.com", "Ada")
given(created).when(ChangeEmail("u-1", "ada@lovelace.org")).then(
    UserEmailChanged("ada@lovelace.org")
)

# %% [markdown]
# The user's rules, one scenario each. A scenario that does not hold raises, so if this cell
# prints all its lines, every rule holds. Compare each line with the rules in
# `esteach/domains/user.py`'s docstring.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.user import (
    InvalidEmail,
    UserAlreadyDeactivated,
    UserAlreadyExists,
    UserDeactivated,
    UserNotActive,
    UserNotFound,
)

given().when(CreateUser("u-1", "ada@example.com", "Ada")).then(created)
print("ok  a new user can be created")
given(created).when(CreateUser("u-1", "x@example.com", "X")).then_raises(UserAlreadyExists)
print("ok  an id is created once")
given(created).when(ChangeEmail("u-1", "ada@example.com")).then()
print("ok  the same email again decides no event")
given(created).when(ChangeEmail("u-1", "nope")).then_raises(InvalidEmail, match="nope")
print("ok  a malformed email is rejected, and the message quotes it")
given(created, UserDeactivated()).when(ChangeName("u-1", "X")).then_raises(UserNotActive)
print("ok  a deactivated user cannot change")
given(created, UserDeactivated()).when(DeactivateUser("u-1")).then_raises(UserAlreadyDeactivated)
print("ok  a user is deactivated once")
given().when(DeactivateUser("u-1")).then_raises(UserNotFound)
print("ok  a user who never existed is not found")

# %% [markdown]
# When a rule does not hold, the scenario raises an `AssertionError` that says what was
# decided and what was expected. Here we (wrongly) expect a second `UserEmailChanged` for an
# email that has not changed. Read the message: it is what a failing test would show you.

# %%
# NBVAL_CHECK_OUTPUT
try:
    given(created).when(ChangeEmail("u-1", "ada@example.com")).then(
        UserEmailChanged("ada@example.com")
    )
except AssertionError as error:
    print(f"AssertionError: {error}")

# %% [markdown]
# ## 10. A decision that changes state is caught
#
# What if someone writes an aggregate that changes its state while deciding? Here is a tiny
# counter that does: its `handle_command` increments `count` itself, and its `apply_event`
# increments it again. Replaying its events would count each increment once, while the object
# that decided counted it twice: the log and the state would disagree.

# %%
from dataclasses import dataclass

from esteach import Aggregate, Command, DomainEvent


@dataclass(frozen=True)
class Increment(Command):
    aggregate_id: str


@dataclass(frozen=True)
class Incremented(DomainEvent):
    pass


class SloppyCounter(Aggregate):
    def __init__(self, aggregate_id):
        super().__init__(aggregate_id)
        self.count = 0

    def handle_command(self, command):
        self.count += 1  # wrong: deciding must not change state
        return [Incremented()]

    def apply_event(self, event):
        self.count += 1


# %% [markdown]
# Run it through a scenario. `given` copies the aggregate's state before `handle_command` and
# compares after; look at which attribute the message names.

# %%
# NBVAL_CHECK_OUTPUT
try:
    given(aggregate=SloppyCounter).when(Increment("c-1")).then(Incremented())
except AssertionError as error:
    print(f"AssertionError: {error}")

# %% [markdown]
# The fix is to delete one line: decide returns the event, and only apply counts. (`Counter`
# subclasses `SloppyCounter` just to keep the cell short.) The scenario holds: it returns
# itself.


# %%
# NBVAL_CHECK_OUTPUT
class Counter(SloppyCounter):
    def handle_command(self, command):
        return [Incremented()]


given(Incremented(), aggregate=Counter).when(Increment("c-1")).then(Incremented())

# %% [markdown]
# ## 11. Optional: the same pattern, another domain
#
# Nothing above is special to users. `esteach.domains.account` has a `BankAccount` with the
# same two halves. Its money is counted in **integer cents** (`10_000` is 100.00), because
# floats cannot add money exactly. An account may go below zero down to its overdraft limit.
#
# Open an account with a 50.00 overdraft, deposit 100.00, withdraw 120.00. Look at the balance
# after each step: the last one is negative, and allowed.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount, WithdrawMoney

account = BankAccount("acc-1")
handle(account, OpenAccount("acc-1", "Ada", overdraft_limit=5_000))
handle(account, DepositMoney("acc-1", 10_000))
handle(account, WithdrawMoney("acc-1", 12_000))

# %% [markdown]
# Another 50.00 would take the balance to -70.00, beyond the overdraft. The rule rejects it,
# says how much could still be withdrawn, and nothing is recorded: the version stays 3.

# %%
# NBVAL_CHECK_OUTPUT
handle(account, WithdrawMoney("acc-1", 5_000))
print(account.version, account.balance)

# %% [markdown]
# The same rule as scenarios: one withdrawal inside the limit, one beyond it.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.account import AccountOpened, InsufficientFunds, MoneyDeposited, MoneyWithdrawn

opened = AccountOpened("acc-1", "Ada", overdraft_limit=5_000)
given(opened, MoneyDeposited(1_000)).when(WithdrawMoney("acc-1", 6_000)).then(MoneyWithdrawn(6_000))
print("ok  10.00 in the account and 50.00 overdraft: 60.00 can be withdrawn")
given(opened, MoneyDeposited(1_000)).when(WithdrawMoney("acc-1", 6_001)).then_raises(
    InsufficientFunds
)
print("ok  ... and not one cent more")

# %% [markdown]
# ## Recap
#
# - A **command** is a request in the imperative; it may be rejected. An **event** is a fact
#   in the past tense, named in business language, never a language type path (flaw 1).
# - An aggregate **decides** in `handle_command`: it reads state and returns events or raises;
#   it changes nothing. It **applies** in `apply_event`: the only place state changes.
# - The caller chooses the aggregate's id, so the stream and the aggregate agree (flaw 2).
# - Rejections say what is true: a user that never existed is `UserNotFound` (flaw 3); a bad
#   email is `InvalidEmail`; a change to the same value decides no event (flaw 4).
# - State is rebuilt by applying the stream's events in order (`load_from_events`); `version`
#   counts them.
# - The store wraps each domain event in an envelope and adds the id, version, commit
#   timestamp and global position; the caller adds the stream, type and metadata.
# - `given(...).when(...).then(...)` states a rule as a scenario, and also catches a decision
#   that changes state.
#
# ## Quiz
#
# 1. A `ChangeEmail` command arrives with the email the user already has. What does
#    `handle_command` return, and what does the log gain?
#
# <details><summary>Answer</summary>
#
# An empty list, and the log gains nothing: nothing happened, so there is no fact to record.
# The stream's version stays the same.
#
# </details>
#
# 2. Why must `handle_command` not change the aggregate's state, even if it is about to
#    return an event that would make the same change?
#
# <details><summary>Answer</summary>
#
# Because state must be exactly what applying the log gives. If deciding also changed state,
# the object that decided would differ from one rebuilt from the events (the counter counted
# twice); and if the append is then refused, the change would stay although no event was
# recorded.
#
# </details>
#
# 3. A stored event has `event_type = "my_app::domain::UserEvent"`. What goes wrong later?
#
# <details><summary>Answer</summary>
#
# Every kind of user event gets the same type, so nothing can tell a creation from an email
# change, and handlers registered under business names like `"UserCreated"` never fire (the
# reference design's flaw 1). Renaming or moving the class in code would also change the
# stored name.
#
# </details>
#
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells*; every cell should run
# without an error.
#
# **Exercises for this lesson:** [01_exercises_commands_and_events_learner](exercises/01_exercises_commands_and_events_learner.ipynb).
#
# Next: [02 · The event store](02_the_event_store.ipynb).
