"""Exercises for notebook 06, concurrency.

* ``ex1`` (6.1): handle a command with optimistic concurrency: load, decide, append with the
  expected version.
* ``ex2`` (6.2): resolve a conflict with a bounded retry that decides again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from esteach.determinism import SeededIds
from esteach.domains.account import (
    AccountCommand,
    BankAccount,
    DepositMoney,
    InsufficientFunds,
    WithdrawMoney,
)
from esteach.errors import InvalidInput, WrongExpectedVersion
from esteach.events import Event, NewEvent
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.fakes import Runaway, SomeoneElseFirst
from esteach.exercises.stories import bank
from esteach.processor import CommandProcessor
from esteach.store.base import EventStore

__all__ = ["bank", "ex1", "ex2", "execute", "execute_with_retry"]


# --- reference solutions ----------------------------------------------------------------------


def execute(store: EventStore, account_id: str, command: AccountCommand) -> list[Event]:
    """Exercise 6.1: load, decide, append with the version the decision was made on."""
    account = BankAccount.load_from_events(store.get_events(account_id), account_id)
    decided = account.handle_command(command)
    new_events = [NewEvent.from_domain(event, "BankAccount") for event in decided]
    return store.append_events(account_id, account.version, new_events)


def execute_with_retry(
    store: EventStore, account_id: str, command: AccountCommand, max_attempts: int = 3
) -> list[Event]:
    """Exercise 6.2: on a conflict, load and decide again, at most ``max_attempts`` times."""
    for attempt in range(1, max_attempts + 1):
        try:
            return execute(store, account_id, command)
        except WrongExpectedVersion:
            if attempt == max_attempts:
                raise
    raise InvalidInput(f"max_attempts must be at least 1, got {max_attempts}")


# --- shared -----------------------------------------------------------------------------------


def _other_teller(store: EventStore, command: AccountCommand) -> Callable[[], object]:
    other = CommandProcessor(store, BankAccount, ids=SeededIds(9))
    return lambda: other.process_command(command)


def _balance(store: EventStore) -> int:
    return BankAccount.load_from_events(store.get_events("acc-1"), "acc-1").balance


def _short(value: object) -> str:
    """A learner's return value, short: ``[]``, ``None``, ``a list of 1 event``."""
    if isinstance(value, list) and value:
        return f"a list of {len(value)} event(s)"
    return repr(value)[:40]


# --- 6.1 --------------------------------------------------------------------------------------


def check_execute(learner: object) -> str:
    if not callable(learner):
        raise NotYet("pass your function itself: ex1.check(execute)", mistake="not callable")
    store = bank(balance=10_000)  # acc-1: 100.00, no overdraft, version 2
    doing = "execute(store, 'acc-1', WithdrawMoney('acc-1', 7000)) with nobody else writing"
    try:
        recorded = learner(store, "acc-1", WithdrawMoney("acc-1", 7_000))
    except WrongExpectedVersion as error:
        raise NotYet(
            f"{doing} was refused: you expected version {error.expected}, and the stream is at "
            f"{error.actual}. Nobody else wrote: the expected version is the version you loaded "
            f"(account.version), not the next one (rule 3)",
            mistake="expected the next version",
            hint="store.append_events(account_id, account.version, new_events): the version you "
            "loaded; the store gives the new events the versions after it.",
        ) from error
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    if store.stream_version("acc-1") != 3 or _balance(store) != 3_000:
        raise NotYet(
            f"{doing} left the stream at version {store.stream_version('acc-1')} with balance "
            f"{_balance(store)}; expected version 3 and balance 3000",
            mistake="wrong append",
        )
    if recorded != store.get_events("acc-1", 3):
        raise NotYet(
            f"{doing} returned {type(recorded).__name__}: return the recorded events, what "
            f"append_events returns (rule 4)",
            mistake="wrong return",
            hint="return store.append_events(...): it returns the recorded events.",
        )

    store = bank(balance=10_000)
    racing = SomeoneElseFirst(
        store, _other_teller(store, WithdrawMoney("acc-1", 7_000)), after_load=True
    )
    doing = "execute(...) while another teller withdrew 7000 between your load and your append"
    try:
        recorded = learner(racing, "acc-1", WithdrawMoney("acc-1", 7_000))
    except WrongExpectedVersion:
        if racing.interfered != 1 or store.stream_version("acc-1") != 3:
            raise NotYet(
                f"{doing}: the stream should hold only the other teller's withdrawal",
                mistake="wrong append",
            ) from None
        return (
            "execute decides on what it loaded, appends expecting that version, and a "
            "conflicting writer makes it fail with WrongExpectedVersion instead of a lost update"
        )
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    if racing.interfered == 0:
        raise NotYet(
            "your execute never loaded the account with store.get_events before appending (rule 1)",
            mistake="no load",
        )
    if store.stream_version("acc-1") == 3:
        raise NotYet(
            f"{doing} returned {_short(recorded)} although the store refused your "
            f"append: the WrongExpectedVersion was caught and dropped, so the caller believes "
            f"the withdrawal happened. Let it through to the caller (rule 3), who can retry "
            f"(exercise 6.2)",
            mistake="swallowed the conflict",
            hint="No try/except around append_events in execute: the conflict is the answer.",
        )
    raise NotYet(
        f"{doing} went through: the balance is now {_balance(store)} cents, below zero on an "
        f"account without overdraft, a lost update. The expected version must be the version "
        f"you loaded and decided on, not ANY and not the version read again just before "
        f"appending (rule 3)",
        mistake="lost update",
        hint="store.append_events(account_id, account.version, new_events), with the account "
        "you loaded before deciding.",
    )


ex1 = Exercise(
    "6.1",
    "Decide, then append with the expected version",
    ["execute"],
    check_execute,
    [execute],
    [
        "Load: BankAccount.load_from_events(store.get_events(account_id), account_id). "
        "Decide: account.handle_command(command).",
        "Wrap each decided event: NewEvent.from_domain(event, 'BankAccount').",
        "Append with the version the decision was made on: "
        "store.append_events(account_id, account.version, new_events); return what it returns.",
    ],
)


# --- 6.2 --------------------------------------------------------------------------------------


@contextmanager
def _reference_execute(learner: Callable[..., Any]) -> Iterator[None]:
    """Run the learner's retry with the reference execute, so a slip in 6.1 does not count
    twice (their retry reaches ``execute`` through its module's globals)."""
    namespace: dict[str, Any] = getattr(learner, "__globals__", {})
    had, old = "execute" in namespace, namespace.get("execute")
    if had:
        namespace["execute"] = execute
    try:
        yield
    finally:
        if had:
            namespace["execute"] = old


def _run(
    learner: Callable[..., Any], store: EventStore, command: AccountCommand, **kwargs: Any
) -> Any:
    with _reference_execute(learner):
        return learner(store, "acc-1", command, **kwargs)


def check_retry(learner: object) -> str:
    if not callable(learner):
        raise NotYet(
            "pass your function itself: ex2.check(execute_with_retry)", mistake="not callable"
        )
    # 1. One conflict, then success.
    store = bank(balance=10_000)
    racing = SomeoneElseFirst(store, _other_teller(store, DepositMoney("acc-1", 100)))
    doing = "after one conflict, execute_with_retry(store, 'acc-1', WithdrawMoney('acc-1', 500))"
    try:
        _run(learner, racing, WithdrawMoney("acc-1", 500))
    except WrongExpectedVersion as error:
        raise NotYet(
            f"{doing} gave up at the first conflict ({type(error).__name__}): load and decide "
            f"again (rule 1)",
            mistake="no retry",
            hint="for attempt in range(1, max_attempts + 1): try: return execute(...) except "
            "WrongExpectedVersion: (go round again, or raise on the last attempt)",
        ) from error
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    if _balance(store) != 9_600:
        raise NotYet(
            f"{doing} left balance {_balance(store)}, expected 9600 (10000 + 100 - 500)",
            mistake="wrong",
        )

    # 2. A conflict whose winner changes the decision: deciding again must say no.
    store = bank(balance=10_000)
    racing = SomeoneElseFirst(store, _other_teller(store, WithdrawMoney("acc-1", 7_000)))
    doing = "when another teller withdrew 7000 first, withdrawing 7000 more"
    try:
        _run(learner, racing, WithdrawMoney("acc-1", 7_000))
    except InsufficientFunds:
        pass
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    else:
        if _balance(store) < 0:
            raise NotYet(
                f"{doing} went through and the balance is {_balance(store)} cents: the retry "
                f"appended the old decision again. Load and decide again; this time the account "
                f"says InsufficientFunds (rule 1)",
                mistake="retried the old decision",
                hint="Retry by calling execute(...) again, which loads and decides afresh; "
                "never append the events decided before the conflict.",
            )
        raise NotYet(
            f"{doing} returned without an error: deciding again raises InsufficientFunds, and "
            f"the caller must see it (rule 3)",
            mistake="swallowed a domain error",
        )
    if racing.loads != 2:
        raise NotYet(
            f"{doing}: InsufficientFunds is an answer, not a conflict, but your code loaded "
            f"{racing.loads} times: let a DomainError through at once (rule 3)",
            mistake="retried a domain error",
            hint="Catch only WrongExpectedVersion; a DomainError is the aggregate's answer.",
        )

    # 3. Conflicts every time: give up after max_attempts, loudly.
    for max_attempts in (3, 5):
        store = bank(balance=10_000)
        racing = SomeoneElseFirst(store, _other_teller(store, DepositMoney("acc-1", 1)), times=None)
        doing = f"with a conflict on every attempt and max_attempts={max_attempts}"
        try:
            _run(learner, racing, WithdrawMoney("acc-1", 500), max_attempts=max_attempts)
        except Runaway:
            raise NotYet(
                f"{doing}, your code kept retrying: stop after max_attempts (rule 2)",
                mistake="retries forever",
                hint="Count the attempts: for attempt in range(1, max_attempts + 1), and raise on "
                "the last one.",
            ) from None
        except WrongExpectedVersion:
            if racing.appends != max_attempts:
                raise NotYet(
                    f"{doing}, your code made {racing.appends} attempt(s) (rule 2)",
                    mistake="wrong number of attempts",
                    hint="range(1, max_attempts + 1) makes max_attempts attempts; re-raise when "
                    "attempt == max_attempts.",
                ) from None
            continue
        except TypeError as error:
            raise NotYet(
                f"{doing} raised {describe_error(error)}: take max_attempts as a parameter",
                mistake="raised",
            ) from error
        except Exception as error:
            raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
        raise NotYet(
            f"{doing}, your code returned after {racing.appends} attempts as if the withdrawal "
            f"had gone through: after the last conflict, raise it (rule 2)",
            mistake="swallowed the last conflict",
            hint="In the except branch: if this was the last attempt, `raise` (alone) re-raises "
            "the WrongExpectedVersion.",
        )
    return (
        "a conflict leads to a fresh load and decision, a domain error goes straight to the "
        "caller, and after max_attempts conflicts the last one is raised"
    )


ex2 = Exercise(
    "6.2",
    "Resolve a conflict with a retry",
    ["execute_with_retry"],
    check_retry,
    [execute_with_retry],
    [
        "A for loop over the attempts, range(1, max_attempts + 1), with try: return "
        "execute(store, account_id, command) inside.",
        "except WrongExpectedVersion: go round again (execute loads and decides afresh); catch "
        "nothing else.",
        "On the last attempt, re-raise: if attempt == max_attempts: raise",
    ],
)
