# %% [markdown]
# # 11 · Deciders and process managers
#
# **Time box:** 45 minutes · **You will:**
#
# - write an aggregate as three pure functions, the **decider**: `decide`, `evolve`,
#   `initial_state`, and run it through the same `CommandProcessor` and stores as a class;
# - see a class and a decider read and write the same streams, and check that they decide the
#   same for any sequence of commands;
# - follow a **process manager** that moves money between two accounts: withdraw, deposit, and
#   refund when the deposit is refused (compensation);
# - make a process safe to run again: **command ids** turn a redelivered step into a no-op, so
#   a process killed between two steps finishes after a restart and never pays twice;
# - test a process manager as you test an aggregate: given its history, when an event
#   arrives, then these commands.

# %% [markdown]
# ## 1. Theory: an aggregate is two functions
#
# Notebook 01 wrote `User` as a class: `handle_command` decides, `apply_event` changes state.
# Take away the class and two pure functions remain, plus a starting point:
#
# - `decide(command, state) -> events`: the rules; refuse with an error;
# - `evolve(state, event) -> state`: the next state, a *new* value, the old one untouched;
# - `initial_state`: the state before the first event.
#
# Loading is then a fold, `state = reduce(evolve, events, initial_state)`, and handling a command
# is `decide(command, state)`. This is the **decider** (named by Jérémie Chassaing, and the
# shape of Emmett's and many functional kits' aggregates). Nothing in it can do I/O or read the
# clock by accident, and a test needs no objects at all.

# %%
import inspect
from datetime import UTC, datetime, timedelta

from esteach import CommandProcessor, InMemoryEventStore, SeededIds, StepClock
from esteach.domains import deciders
from esteach.domains.account import BankAccount, CloseAccount, DepositMoney, OpenAccount
from esteach.domains.deciders import bank_account

clock = StepClock(datetime(2024, 1, 1, 9, 0, tzinfo=UTC), timedelta(minutes=1))

# %% [markdown]
# Here is `BankAccount` as a decider. Compare it with the class in `esteach/domains/account.py`:
# the same rules, and `evolve` returns a new `AccountState` instead of changing attributes.

# %%
print(inspect.getsource(deciders.evolve_account))

# %% [markdown]
# A `Decider` bundles the three parts with a name: the `aggregate_type` its streams carry.
# It goes wherever an aggregate class goes. Look at the state: a frozen dataclass.

# %%
# NBVAL_CHECK_OUTPUT
print(bank_account)
store = InMemoryEventStore(clock=clock, ids=SeededIds(0))
accounts = CommandProcessor(store, bank_account, ids=SeededIds(1))
accounts.process_command(OpenAccount("acc-ada", "Ada", overdraft_limit=50))
accounts.process_command(DepositMoney("acc-ada", 120))
print(accounts.load("acc-ada").current)

# %% [markdown]
# The decider is named `BankAccount`, like the class. So the class reads what the decider
# wrote, and the other way round: the stream does not know which style wrote it.

# %%
# NBVAL_CHECK_OUTPUT
as_class = CommandProcessor(store, BankAccount, ids=SeededIds(2))
as_class.process_command(DepositMoney("acc-ada", 30))
print("the class sees:  ", as_class.load("acc-ada").balance)
print("the decider sees:", accounts.load("acc-ada").current.balance)
print([(e.event_type, e.aggregate_type) for e in store.get_events("acc-ada")])

# %% [markdown]
# `evolve` never changes the state it was given. Evolving twice from one state gives two
# independent futures; that is what makes a state safe to keep, share or cache.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.account import MoneyWithdrawn

before = accounts.load("acc-ada").current
after = bank_account.evolve(before, MoneyWithdrawn(100))
print(
    "before:",
    before.balance,
    "| after:",
    after.balance,
    "| before unchanged:",
    before.balance == 150,
)

# %% [markdown]
# ## 2. The same tests for both styles
#
# `given / when / then` takes a decider where it takes a class: name it with `aggregate=`.

# %%
# NBVAL_CHECK_OUTPUT
from esteach import given
from esteach.domains.account import AccountClosed, AccountOpened, MoneyDeposited

print(
    given(AccountOpened("acc-1", "Ada", 0), MoneyDeposited(40), aggregate=bank_account)
    .when(DepositMoney("acc-1", 10))
    .then(MoneyDeposited(10))
)
print(
    given(AccountOpened("acc-1", "Ada", 0), aggregate=bank_account)
    .when(CloseAccount("acc-1"))
    .then(AccountClosed())
)

# %% [markdown]
# Are the two styles really the same aggregate? Send both the same random commands (good ones
# and bad ones) and compare what each did: the events, or the error and its message. The
# test suite does this with Hypothesis for any sequence; here, 300 seeded sequences.

# %%
# NBVAL_CHECK_OUTPUT
import random

from esteach import DomainError, EsteachError
from esteach.domains.account import WithdrawMoney


def outcomes(model, commands):
    processor = CommandProcessor(InMemoryEventStore(), model)
    seen = []
    for command in commands:
        try:
            seen.append([(e.event_type, e.data) for e in processor.process_command(command).events])
        except DomainError as error:
            seen.append((type(error).__name__, str(error)))
        except EsteachError as error:
            seen.append(type(error).__name__)
    return seen


rng = random.Random(11)
makers = [
    lambda: OpenAccount("a", rng.choice(["Ada", " "]), rng.choice([0, 50, -1])),
    lambda: DepositMoney("a", rng.randint(-5, 80)),
    lambda: WithdrawMoney("a", rng.randint(-5, 120)),
    lambda: CloseAccount("a"),
]
agree = all(
    outcomes(bank_account, cs) == outcomes(BankAccount, cs)
    for cs in ([rng.choice(makers)() for _ in range(rng.randint(1, 8))] for _ in range(300))
)
print("class and decider decided the same in 300 sequences:", agree)

# %% [markdown]
# Which style to teach, and to use? The class reads naturally to most object-oriented
# programmers and keeps state and rules together. The decider makes purity a property of the
# code's shape, composes (two deciders can be run side by side as one), and its state is a value
# you can keep. esteach accepts both, so a team can choose per aggregate.

# %% [markdown]
# ## 3. Theory: a process that spans aggregates
#
# An aggregate is a consistency boundary: one stream, one expected version, one atomic append.
# A money transfer touches **two** accounts, and no append covers both. A distributed
# transaction would lock both accounts across the whole operation; event-sourced systems
# instead run the process **step by step**, each step one command to one aggregate:
#
# 1. `TransferStarted` → withdraw from the source (refused: the transfer *failed*, nothing moved);
# 2. the source's `MoneyWithdrawn` → record `TransferDebited`;
# 3. `TransferDebited` → deposit into the target;
# 4. the target's `MoneyDeposited` → record `TransferCompleted`;
# 5. the deposit refused (the target was closed) → record it, and **compensate**: deposit the
#    money back into the source, then record `TransferRefunded`.
#
# Something must remember how far each transfer got: the **process manager**'s own state, here
# a `Transfer` aggregate with its own stream. The decisions ("this event happened, so send this
# command") are pure functions of that state and the event, like an aggregate's. A
# `ProcessRunner` follows the log and sends the commands. (Some call this a saga; in the
# original meaning a saga is the sequence of steps with their compensations, and the process
# manager is the thing that runs it.)

# %%
from esteach.domains.transfer import StartTransfer, Transfer, TransferProcess
from esteach.processes import ProcessRunner

print(inspect.getsource(TransferProcess))

# %% [markdown]
# ## 4. A transfer, start to end
#
# Two accounts, Ada with 100, Grace with nothing. Start a transfer of 60 and let the runner
# follow the log until nothing new happens. Look at the log: each step is a command to one
# aggregate, and every event the transfer caused carries its id as correlation id.


# %%
# NBVAL_CHECK_OUTPUT
def open_bank(seed):
    store = InMemoryEventStore(
        clock=StepClock(datetime(2024, 1, 1, tzinfo=UTC)), ids=SeededIds(seed)
    )
    accounts = CommandProcessor(store, BankAccount, ids=SeededIds(seed + 1))
    transfers = CommandProcessor(store, Transfer, ids=SeededIds(seed + 2))
    for command in (
        OpenAccount("ada", "Ada"),
        OpenAccount("grace", "Grace"),
        DepositMoney("ada", 100),
    ):
        accounts.process_command(command)
    return store, accounts, transfers


def balances(accounts):
    return {name: accounts.load(name).balance for name in ("ada", "grace")}


store, accounts, transfers = open_bank(20)
transfers.process_command(StartTransfer("t-1", "ada", "grace", 60))
runner = ProcessRunner(store, TransferProcess(), [accounts, transfers])
runner.run_until_idle()
for event in store.read_all(4):
    print(
        f"{event.global_position:>2} {event.aggregate_id:<6} {event.event_type:<18} correlation={event.metadata.correlation_id}"
    )
print(transfers.load("t-1").status, balances(accounts))

# %% [markdown]
# ## 5. Compensation: the deposit is refused
#
# Now Grace's account is closed before the money arrives. The withdrawal from Ada goes
# through; the deposit is refused with `AccountIsClosed`. A refusal is not an event, so the
# runner hands it to the process manager's `refused`, which records it; recording it makes the
# manager send the refund. Ada ends where she started.

# %%
# NBVAL_CHECK_OUTPUT
store, accounts, transfers = open_bank(30)
accounts.process_command(CloseAccount("grace"))
transfers.process_command(StartTransfer("t-2", "ada", "grace", 60))
runner = ProcessRunner(store, TransferProcess(), [accounts, transfers])
runner.run_until_idle()
for step, outcome in runner.sent:
    said = type(outcome).__name__ if isinstance(outcome, Exception) else "ok"
    print(f"{step.command_id:<18} {type(step.command).__name__:<20} {said}")
print(transfers.load("t-2").status, balances(accounts))

# %% [markdown]
# ## 6. Run it again: command ids make redelivery harmless
#
# A runner that restarts has lost its place, and a broker may deliver an event twice. Either
# way the same steps are sent again. Each `Step` carries a **command id** made from the
# transfer and the step (`t-1/debit`); `process_command(..., command_id=...)` gives the events
# the ids `t-1/debit/1`, ... and answers an id it has recorded with the events it recorded,
# deciding nothing. So reading the whole log again pays nobody twice.

# %%
# NBVAL_CHECK_OUTPUT
store, accounts, transfers = open_bank(40)
transfers.process_command(StartTransfer("t-3", "ada", "grace", 60))
ProcessRunner(store, TransferProcess(), [accounts, transfers]).run_until_idle()
head = store.head_position()
for _ in range(3):
    ProcessRunner(store, TransferProcess(), [accounts, transfers]).run_until_idle()
print("new events after three more runs:", store.head_position() - head)
print(balances(accounts))
print([e.id for e in store.get_events("ada")][-1])

# %% [markdown]
# ## 7. A crash between the two steps
#
# The dangerous moment: the money has left Ada, and the runner dies before the deposit. To
# make it happen every time, `Crashing` wraps the runner's command processors and dies instead
# of sending a deposit. (The test suite does the same with a real `os._exit` in a child
# process.) After the crash the transfer is `debited`: 60 cents are in flight. A new runner
# starts from the beginning of the log, finds the withdrawal already recorded under its
# command id, and carries on.


# %%
# NBVAL_CHECK_OUTPUT
class Crash(Exception):
    pass


class Crashing:
    """A command processor that dies instead of sending a command of one type."""

    def __init__(self, processor, crash_before):
        self.processor, self.crash_before = processor, crash_before
        self.aggregate_class = processor.aggregate_class

    def process_command(self, command, **kwargs):
        if isinstance(command, self.crash_before):
            raise Crash(f"died before {type(command).__name__}")
        return self.processor.process_command(command, **kwargs)

    def load(self, aggregate_id):
        return self.processor.load(aggregate_id)


store, accounts, transfers = open_bank(50)
transfers.process_command(StartTransfer("t-4", "ada", "grace", 60))
crashing = [Crashing(accounts, DepositMoney), Crashing(transfers, DepositMoney)]
try:
    ProcessRunner(store, TransferProcess(), crashing).run_until_idle()
except Crash as crash:
    print("crash:", crash)
print("after the crash:", transfers.load("t-4").status, balances(accounts))
ProcessRunner(store, TransferProcess(), [accounts, transfers]).run_until_idle()
print("after a restart:", transfers.load("t-4").status, balances(accounts))
print(
    "withdrawals from Ada:", [e.event_type for e in store.get_events("ada")].count("MoneyWithdrawn")
)

# %% [markdown]
# ## 8. Testing a process manager
#
# The manager's decisions are pure, so they are tested without a store: **given** the
# process's own history, **when** an event arrives (of its own stream, or of an account,
# caused by the process), **then** these steps. `when_refused` covers refusals.

# %%
# NBVAL_CHECK_OUTPUT
from esteach.domains.account import AccountIsClosed
from esteach.domains.transfer import RecordCreditRefused, TransferDebited, TransferStarted
from esteach.processes import Step
from esteach.testing import given_process

started = TransferStarted("ada", "grace", 60)
print(
    given_process(TransferProcess(), started, process_id="t-9")
    .when(TransferDebited())
    .then(Step(DepositMoney("grace", 60), "t-9/credit"))
)
print(
    given_process(TransferProcess(), started, TransferDebited(), process_id="t-9")
    .when_refused(Step(DepositMoney("grace", 60), "t-9/credit"), AccountIsClosed("closed"))
    .then(Step(RecordCreditRefused("t-9", "closed"), "t-9/credit-refused"))
)

# %% [markdown]
# ## Recap
#
# - A **decider** is an aggregate as `decide(command, state)`, `evolve(state, event)` and an
#   `initial_state`. esteach runs it through the same processor, repository, snapshots, time
#   travel and tests as a class; a class and a decider of one name share streams.
# - A **process manager** coordinates aggregates step by step; each step is one command to one
#   aggregate. Its state has its own stream, and its decisions are pure and testable.
# - A refused step is answered by **compensation** (the refund), not by rolling back: the
#   withdrawal happened and stays in the log; a second event undoes its effect.
# - **Command ids** make steps idempotent, so redelivery and restarts are safe: the process
#   resumes from its log and never pays twice.

# %% [markdown]
# ## Quiz
#
# 1. Why can't the transfer be one command on one aggregate that changes both balances?
#
# <details><summary>Answer</summary>
#
# Each account is its own aggregate: its own stream, its own expected version, its own
# consistency boundary. An append covers one stream, so no single append can change two
# accounts atomically. Making "both accounts" one aggregate would serialise every payment of
# every pair of accounts through one stream. The process manager accepts that the two changes
# happen at different moments, and makes sure the process always finishes or compensates.
#
# </details>
#
# 2. The runner crashed right after the withdrawal was recorded and before `TransferDebited`.
#    On restart it sends `WithdrawMoney` again. Why is Ada not charged twice, even though her
#    balance is now too low for a second withdrawal?
#
# <details><summary>Answer</summary>
#
# The step carries the command id `t-…/debit`. Before deciding, the processor looks for events
# with ids `t-…/debit/…` in Ada's stream, finds the first withdrawal and returns it: the command
# is not decided again, so neither a second withdrawal nor an `InsufficientFunds` refusal can
# happen. The runner then sees the withdrawal and records the debit.
#
# </details>
#
# 3. `decide` raised `InsufficientFunds`. Where does that refusal appear in the event log?
#
# <details><summary>Answer</summary>
#
# Nowhere in the account's stream: a refused command records nothing. The process manager turns
# it into a fact of *its* process (`TransferFailed` with the reason), so the transfer's stream
# says what happened and why.
#
# </details>

# %% [markdown]
# **Before you move on:** *Kernel → Restart Kernel and Run All Cells* runs this notebook top to
# bottom without errors, and every checked line above prints what the text says.
#
# The design this kit started from, and what it got wrong: [docs/reference-design.md](../docs/reference-design.md).
#
# **Exercises for this lesson:** [11_exercises_deciders_and_process_managers_learner](exercises/11_exercises_deciders_and_process_managers_learner.ipynb).
