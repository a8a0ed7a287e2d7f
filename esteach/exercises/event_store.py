"""Exercises for notebook 02, the event store.

* ``ex1`` (2.1): rebuild a user from a batch of events that arrived out of order.
* ``ex2`` (2.2): a deposit that survives a lost reply: retry with the same event id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from esteach.determinism import SeededIds
from esteach.domains.account import BankAccount, DepositMoney, MoneyDeposited
from esteach.domains.user import User
from esteach.errors import DuplicateEventId, EventsOutOfOrder, WrongExpectedVersion
from esteach.events import Event, NewEvent
from esteach.exercises.checking import call
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.fakes import LostReply, Runaway, SomeoneElseFirst
from esteach.exercises.stories import arrived_batch, bank, same_append_pairs, users_story
from esteach.processor import CommandProcessor
from esteach.store.base import ANY, EventStore

__all__ = ["arrived_batch", "bank", "deposit", "ex1", "ex2", "rebuild", "users_story"]


# --- reference solutions ----------------------------------------------------------------------


def rebuild(batch: list[Event], user_id: str) -> User:
    """Exercise 2.1: one user, rebuilt from a batch of many users' events in any order."""
    stream = sorted((e for e in batch if e.aggregate_id == user_id), key=lambda e: e.version)
    return User.load_from_events(stream, user_id)


def deposit(
    store: EventStore, account_id: str, amount: int, new_id: Callable[[], str]
) -> list[Event]:
    """Exercise 2.2: record a deposit once, even when the store's reply gets lost."""
    version = store.stream_version(account_id)
    event = NewEvent.from_domain(MoneyDeposited(amount), "BankAccount", id=new_id())
    for _ in range(2):
        try:
            return store.append_events(account_id, version, [event])
        except TimeoutError:
            pass  # the append may have happened: the same append again is safe
    return store.append_events(account_id, version, [event])


# --- 2.1 --------------------------------------------------------------------------------------


def _arrival_order_state(batch: list[Event], user_id: str) -> dict[str, Any]:
    user = User(user_id)
    for event in batch:
        if event.aggregate_id == user_id:
            user.apply_event(User.events.to_domain(event))
    return user.state()


def _right(learner: Callable[..., Any], batch: list[Event], user_id: str) -> bool:
    """Whether ``learner`` rebuilds ``user_id`` from ``batch`` as the store would."""
    try:
        user = learner(list(batch), user_id)
        events = [e for e in batch if e.aggregate_id == user_id]
        want = User.load_from_events(sorted(events, key=lambda e: e.version), user_id)
        # The order shows in the email; whether the version was counted is another question.
        return isinstance(user, User) and _without_version(user) == _without_version(want)
    except Exception:
        return False


def _without_version(user: User) -> dict[str, Any]:
    return {key: value for key, value in user.state().items() if key != "version"}


def _sorted_by_timestamp(learner: Callable[..., Any]) -> bool:
    """Whether ``learner`` puts events in order by their commit time and nothing else.

    Two batches of the same events tell it: in one, every append comes in order but the two
    events of each two-event append are swapped (they share a timestamp); in the other, the
    appends come newest first but each append's events in order. A rebuild that sorts by
    version (or position) gets both right; one that sorts by timestamp only the second.
    """
    log = users_story().read_all()
    ties_swapped = sorted(log, key=lambda e: (e.global_position, 0))
    for first, second in same_append_pairs(ties_swapped):
        i, j = ties_swapped.index(first), ties_swapped.index(second)
        ties_swapped[i], ties_swapped[j] = second, first
    newest_first = sorted(log, key=lambda e: (-e.timestamp.timestamp(), e.global_position))
    return _right(learner, newest_first, "ada") and not _right(learner, ties_swapped, "ada")


_BY_TIMESTAMP = NotYet(
    "events of one append share a timestamp: Ada's two email changes were recorded together, "
    "and sorting by timestamp left them in the order they arrived, so she ends on the older "
    "one. Sort by version, which is unique within a stream (rule 2)",
    mistake="sorted by timestamp",
    hint="sorted(events, key=lambda e: e.version); a timestamp says when an append happened, "
    "not in which order its events go.",
)


def _out_of_order(learner: Callable[..., Any], doing: str, detail: str) -> NotYet:
    if _sorted_by_timestamp(learner):
        return _BY_TIMESTAMP
    return NotYet(
        f"{doing} {detail} (rule 2)",
        mistake="events applied out of order",
        hint="sorted(events, key=lambda e: e.version) puts a stream's events in order; apply "
        "them after sorting.",
    )


def check_rebuild(learner: object) -> str:
    if not callable(learner):
        raise NotYet("pass your function itself: ex1.check(rebuild)", mistake="not callable")
    for seed in (7, 11):
        batch = arrived_batch(seed)
        store = users_story()
        for user_id in ("ada", "grace", "nobody"):
            doing = f"rebuild(batch, {user_id!r})"
            try:
                user = learner(list(batch), user_id)
            except EventsOutOfOrder as error:
                if "belongs to stream" in str(error):
                    raise NotYet(
                        f"{doing} raised EventsOutOfOrder: the batch holds several users' "
                        f"events, and an event of another stream reached the user (rule 1)",
                        mistake="mixed streams",
                        hint="Keep only the events whose aggregate_id is user_id.",
                    ) from error
                raise _out_of_order(
                    learner, doing, f"applied the events out of order: {describe_error(error)}"
                ) from error
            except Exception as error:
                raise NotYet(
                    f"{doing} raised {describe_error(error)}",
                    mistake="raised",
                    hint="A user with no events in the batch is User.load_from_events([], "
                    "user_id): pass the id, since there is no event to take it from (rule 3)."
                    if user_id == "nobody"
                    else None,
                ) from error
            if not isinstance(user, User):
                raise NotYet(
                    f"{doing} returned {type(user).__name__}: return the User itself (rule 3)",
                    mistake="not a User",
                    hint="User.load_from_events(events, user_id) returns the User; return it "
                    "as it is, not its state() or its email.",
                )
            want = User.load_from_events(store.get_events(user_id), user_id).state()
            got = user.state()
            if got == want:
                continue
            if user_id != "nobody" and _sorted_by_timestamp(learner):
                raise _BY_TIMESTAMP
            if got["version"] != want["version"] and _without_version(user) == {
                k: v for k, v in want.items() if k != "version"
            }:
                raise NotYet(
                    f"{doing} gave the right state at version {got['version']}, but the user "
                    f"is at version {want['version']}: apply_event changes the state only; "
                    f"user.apply(event) also checks and counts the version (rule 2)",
                    mistake="version not counted",
                    hint="User.load_from_events(events, user_id), or user.apply(event) for "
                    "each event: both count versions and refuse an event out of order.",
                )
            if user_id != "nobody" and got == _arrival_order_state(batch, user_id):
                raise _out_of_order(
                    learner,
                    doing,
                    f"gave {got['email']!r} as the email, the last one to *arrive*; the user's "
                    f"email now is {want['email']!r}: events were applied out of order",
                )
            raise NotYet(f"{doing} gave {got!r}, expected {want!r}", mistake="wrong state")
    return (
        "rebuild picks the user's own events from a shuffled batch and applies them in version "
        "order, even the events of one append, which share a timestamp"
    )


ex1 = Exercise(
    "2.1",
    "Rebuild from a batch that arrived out of order",
    ["rebuild"],
    check_rebuild,
    [rebuild],
    [
        "Two steps: keep the events whose aggregate_id is user_id, then put them in version order.",
        "sorted(events, key=lambda e: e.version) sorts; User.load_from_events(events, user_id) "
        "applies them and checks the order for you.",
    ],
)


# --- 2.2 --------------------------------------------------------------------------------------


class _Ids:
    def __init__(self) -> None:
        self.made = 0
        self._ids = SeededIds(99)

    def __call__(self) -> str:
        self.made += 1
        return self._ids()


def _deposits(store: EventStore) -> list[Event]:
    """The events appended after the bank's opening two: the learner's deposits."""
    return store.get_events("acc-1", 3)


def _lost_reply(learner: Callable[..., Any]) -> None:
    store = bank()
    flaky, ids = LostReply(store, times=1), _Ids()
    doing = "with the first reply lost, deposit(store, 'acc-1', 500, new_id)"
    try:
        result = learner(flaky, "acc-1", 500, ids)
    except Runaway:
        raise NotYet(
            f"{doing} kept appending",
            mistake="retries forever",
            hint="Three attempts in all, then let the TimeoutError through.",
        ) from None
    except TimeoutError:
        raise NotYet(
            f"{doing} raised the TimeoutError: the append may well have happened; try the same "
            f"append again (rule 2)",
            mistake="no retry",
            hint="Wrap the append in try/except TimeoutError and send the very same append again "
            "(same event, same expected version).",
        ) from None
    except (WrongExpectedVersion, DuplicateEventId) as error:
        if isinstance(error, DuplicateEventId):
            why = (
                "the retry sent the event's id with other content, and only the very same "
                "events (ids, types and data) are taken as a retry"
            )
            hint = "Build the NewEvent once, above the loop, and send that same object again."
        elif ids.made > 1:
            why = "you called new_id() on every attempt, so each retry was a new event"
            hint = "Call new_id() once, above the loop, and put the id in the NewEvent."
        else:
            why = "the event had no id of its own, so the store gave each attempt a new one"
            hint = "NewEvent.from_domain(MoneyDeposited(amount), 'BankAccount', id=new_id())."
        raise NotYet(
            f"{doing} raised {type(error).__name__}: {why}, so the store could not tell the "
            f"retry from a new append (rule 3)",
            mistake="new id on retry",
            hint=hint,
        ) from error
    deposits = _deposits(store)
    if len(deposits) != 1:
        raise NotYet(
            f"{doing} recorded {len(deposits)} deposits of 500: the retry was recorded as a "
            f"second deposit. Give the event one id, taken before the first attempt, and append "
            f"with the version you read (rules 1 and 3)",
            mistake="recorded twice",
            hint="Make the NewEvent with id=new_id() once, before the first attempt, and append "
            "with the version you read, not ANY.",
        )
    if result != deposits:
        raise NotYet(
            f"{doing} returned {result!r:.80}: return the recorded events, what append_events "
            f"returned",
            mistake="wrong return",
            hint="return store.append_events(...): what it returns are the recorded events.",
        )
    if deposits[0].event_type != "MoneyDeposited" or deposits[0].data != {"amount": 500}:
        raise NotYet(
            f"the deposit was recorded as {deposits[0].event_type} {dict(deposits[0].data)!r}; "
            f"expected MoneyDeposited {{'amount': 500}}",
            mistake="wrong event",
        )
    if any(expected == ANY for expected in flaky.expected_versions):
        raise NotYet(
            "you appended with ANY: pass the version you read (store.stream_version) as the "
            "expected version (rule 1)",
            mistake="ANY",
            hint="version = store.stream_version(account_id) before the first attempt; append with"
            " that version every time.",
        )


def _always_lost(learner: Callable[..., Any]) -> None:
    flaky = LostReply(bank(), times=None)
    doing = "with every reply lost, deposit(...)"
    try:
        learner(flaky, "acc-1", 500, _Ids())
    except Runaway:
        raise NotYet(
            f"{doing} retried more than 50 times: stop after 3 attempts and let the "
            f"TimeoutError through (rule 2)",
            mistake="retries forever",
            hint="for _ in range(2): try the append, except TimeoutError: pass; then one last "
            "append outside the loop, which lets its TimeoutError through.",
        ) from None
    except TimeoutError:
        if flaky.appends != 3:
            raise NotYet(
                f"{doing} made {flaky.appends} attempt(s); rule 2 asks for 3 in all",
                mistake="wrong number of attempts",
                hint="Three attempts in all: two in a loop that swallows the TimeoutError, then a "
                "last one that lets it through.",
            ) from None
        return
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    raise NotYet(
        f"{doing} returned normally after {flaky.appends} attempt(s), although no reply ever "
        f"came back: after the third, let the TimeoutError through (rule 2)",
        mistake="swallowed the timeout",
        hint="After the last attempt, let the TimeoutError through: do not catch it there, or "
        "raise it again.",
    )


def _someone_else_first(learner: Callable[..., Any]) -> None:
    store = bank()
    other = CommandProcessor(store, BankAccount, ids=SeededIds(5))
    racing = SomeoneElseFirst(store, lambda: other.process_command(DepositMoney("acc-1", 1)))
    try:
        call(learner, racing, "acc-1", 500, _Ids(), doing="deposit(...)")
    except NotYet as verdict:
        if isinstance(verdict.__cause__, WrongExpectedVersion):
            return
        raise
    raise NotYet(
        "another writer appended between your read of the version and your append, and your "
        "append still went through: append with the version you read, not ANY (rule 1)",
        mistake="ANY",
        hint="version = store.stream_version(account_id) before the first attempt; append with "
        "that version every time.",
    )


def check_deposit(learner: object) -> str:
    if not callable(learner):
        raise NotYet("pass your function itself: ex2.check(deposit)", mistake="not callable")
    _lost_reply(learner)
    _always_lost(learner)
    _someone_else_first(learner)
    return (
        "a lost reply is retried with the same event id, so the deposit is recorded exactly "
        "once; three lost replies give up loudly; and a real conflict is still refused"
    )


ex2 = Exercise(
    "2.2",
    "A deposit that survives a lost reply",
    ["deposit"],
    check_deposit,
    [deposit],
    [
        "Before any attempt: read the version (store.stream_version(account_id)) and make the "
        "event with its id: NewEvent.from_domain(MoneyDeposited(amount), 'BankAccount', "
        "id=new_id()).",
        "Then up to 3 times: try store.append_events(account_id, version, [event]) and return "
        "what it returns; on TimeoutError, go round again with the very same arguments.",
        "After the last attempt, let the TimeoutError through: for loop over the first two "
        "attempts with try/except TimeoutError: pass, then a final append outside the loop.",
    ],
)
