"""Exercises for notebook 05, snapshots and caching.

* ``ex1`` (5.1): pick a snapshot interval for a limit on events read per load, and measure it.
* ``ex2`` (5.2): fix a cache that goes stale.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from esteach.determinism import SeededIds
from esteach.domains.account import BankAccount, DepositMoney
from esteach.domains.user import (
    CreateUser,
    User,
    UserCommand,
    UserNameChanged,
    UserNotFound,
)
from esteach.errors import EventsOutOfOrder, InvalidCommand
from esteach.events import DomainEvent
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.fakes import CountingStore
from esteach.exercises.sandbox import fresh_store
from esteach.exercises.stories import bank
from esteach.processor import CommandProcessor
from esteach.repository import LoadReport, Repository
from esteach.snapshots import InMemorySnapshotStore
from esteach.store.base import EventStore

__all__ = [
    "BATCH_SIZES",
    "INTERVAL",
    "MAX_EVENTS_PER_LOAD",
    "STREAM_LENGTH",
    "FreshCache",
    "ImportNames",
    "Profile",
    "StaleCache",
    "bank",
    "events_read",
    "ex1",
    "ex2",
    "write_stream",
]

STREAM_LENGTH: Final = 500
"""How long Ada's stream grows in exercise 5.1: created, then renamed by imports of 1 to 9
names at a time, 499 renames in all."""
MAX_EVENTS_PER_LOAD: Final = 40
"""Exercise 5.1's rule 1: no load may read more than this after its snapshot."""
BATCH_SIZES: Final = (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8)
"""How many names each import brings, in turn (the digits of pi): commands of varying size,
so that no formula of the interval alone tells where snapshots fall."""


@dataclass(frozen=True)
class ImportNames(UserCommand):
    """An import from an old system: the names a user had there, in order."""

    user_id: str
    names: tuple[str, ...]


class Profile(User):
    """A ``User`` that also takes ``ImportNames``: one command, one ``UserNameChanged`` per
    name, appended together. Its stream is a user's stream (``aggregate_type`` "User")."""

    def handle_command(self, command: UserCommand) -> list[DomainEvent]:
        if isinstance(command, ImportNames):
            self.check_target(command)
            if not self.exists:
                raise UserNotFound(f"user {self.aggregate_id!r} does not exist")
            return [UserNameChanged(name) for name in command.names]
        return super().handle_command(command)


def write_stream(writer: CommandProcessor[Profile], user_id: str, length: int) -> None:
    """Create ``user_id`` and import names until their stream holds ``length`` events, through
    ``writer``: each import appends as many events as it brings names (``BATCH_SIZES``)."""
    writer.process_command(CreateUser(user_id, f"{user_id}@example.com", user_id.title()))
    version, turn = 1, 0
    while version < length:
        size = min(BATCH_SIZES[turn % len(BATCH_SIZES)], length - version)
        names = tuple(f"{user_id.title()} {version + n}" for n in range(1, size + 1))
        writer.process_command(ImportNames(user_id, names))
        version, turn = version + size, turn + 1


class StaleCache:
    """Keeps each loaded account in ``self.entries`` and never asks the store again: after
    another writer appends, it serves the old account for ever (the reference design's cache
    does this; notebook 08 shows it going wrong)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.entries: dict[str, BankAccount] = {}

    def load(self, account_id: str) -> BankAccount:
        if account_id not in self.entries:
            events = self.store.get_events(account_id)
            self.entries[account_id] = BankAccount.load_from_events(events, account_id)
        return self.entries[account_id]


# --- reference solutions ----------------------------------------------------------------------

INTERVAL: Final = 41
"""Exercise 5.1: the largest interval whose loads read at most 40 events (interval - 1)."""


def events_read(interval: int) -> int:
    """Exercise 5.1: how many events the last load of a 500-event stream reads, with a
    snapshot every ``interval`` events."""
    store = fresh_store()
    snapshots = InMemorySnapshotStore()
    writer = CommandProcessor(
        store, Profile, ids=SeededIds(1), snapshots=snapshots, snapshot_interval=interval
    )
    write_stream(writer, "ada", STREAM_LENGTH)
    loader = Repository(store, Profile, snapshots=snapshots, snapshot_interval=interval)
    return loader.load_with_report("ada")[1].events_read


class FreshCache(StaleCache):
    """Exercise 5.2: a cache that is never stale, and reads only what is new."""

    def load(self, account_id: str) -> BankAccount:
        kept = self.entries.get(account_id)
        if kept is None:
            kept = BankAccount(account_id)
        for event in self.store.get_events(account_id, kept.version + 1):
            kept.apply(event)
        self.entries[account_id] = kept
        return copy.deepcopy(kept)  # the caller's copy: their changes stay theirs


# --- 5.1 --------------------------------------------------------------------------------------


def _reports(measure: Callable[[int], Any], interval: int) -> tuple[Any, list[LoadReport]]:
    """``measure(interval)``, and the ``LoadReport`` of every load it made on the way.

    A profiler hook sees each ``Repository.load_with_report`` return, however the learner
    named or reached it; so the checker knows what was measured, not only what came back.
    """
    seen: list[LoadReport] = []
    code = Repository.load_with_report.__code__
    previous = sys.getprofile()

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "return" and frame.f_code is code and isinstance(arg, tuple) and arg:
            report = arg[-1]
            if isinstance(report, LoadReport):
                seen.append(report)

    sys.setprofile(profile)
    try:
        result = measure(interval)
    finally:
        sys.setprofile(previous)
    return result, seen


def _field_holding(report: LoadReport, value: object) -> str | None:
    for field in dataclasses.fields(report):
        if field.name != "events_read" and getattr(report, field.name) == value:
            return field.name
    return None


def _check_measure(measure: Callable[[int], Any], tried: int) -> None:
    want = events_read(tried)
    doing = f"events_read({tried})"
    try:
        got, reports = _reports(measure, tried)
    except InvalidCommand as error:
        if "ImportNames" not in str(error):
            raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
        raise NotYet(
            f"{doing} raised {describe_error(error)}: the stream is written by ImportNames "
            f"commands, which only a Profile takes; write (and load) with Profile, a User that "
            f"takes them",
            mistake="writer is not a Profile",
            hint="CommandProcessor(store, Profile, ...): Profile is a User that also takes "
            "ImportNames, one event per name.",
        ) from error
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    if got == want and not isinstance(got, bool):
        return
    last = reports[-1] if reports else None
    if last is not None and last.events_read == want:
        field = _field_holding(last, got)
        raise NotYet(
            f"{doing} returned {got!r}, but its load read {want} events: the LoadReport's "
            + (f"{field} is {got!r}, and " if field else "")
            + "events_read is the number rule 3 asks for",
            mistake="wrong field",
            hint="repository.load_with_report('ada') returns (user, report); return "
            "report.events_read.",
        )
    if got == STREAM_LENGTH or (last is not None and last.source == "replay"):
        raise NotYet(
            f"{doing}: the load read all {STREAM_LENGTH} events, no snapshot was used. "
            f"The CommandProcessor that writes takes the snapshots: give it snapshots=... "
            f"and snapshot_interval=...; then load through a Repository over the same "
            f"snapshot store (rule 3)",
            mistake="no snapshot taken",
            hint="CommandProcessor(store, Profile, ids=SeededIds(1), snapshots=snapshots, "
            "snapshot_interval=interval), then Repository(store, Profile, snapshots=snapshots, "
            "snapshot_interval=interval).load_with_report('ada')[1].events_read",
        )
    if got == STREAM_LENGTH % tried:
        raise NotYet(
            f"{doing} gave {got} = {STREAM_LENGTH} % {tried}, as if snapshots fell on every "
            f"multiple of {tried} (the reference design's `version % N == 0` rule). Imports "
            f"append several events at once, so a multiple is often jumped over; a snapshot "
            f"is taken when at least {tried} events came since the last, and this load really "
            f"reads {want}. Measure it: write the stream and load it (rule 3)",
            mistake="multiples rule",
            hint="No arithmetic: write the stream with write_stream(writer, 'ada', "
            "STREAM_LENGTH) through a writer that takes snapshots, then load it and read "
            "events_read from the load's report.",
        )
    raise NotYet(
        f"{doing} gave {got!r}; with a snapshot whenever at least {tried} events came since "
        f"the last, the last load reads {want} (rule 3: write and load with the interval you "
        f"are given)",
        mistake="wrong measurement",
        hint="Write the stream through a writer with snapshots=... and snapshot_interval=interval "
        "(the one you are given), load it through a Repository over the same snapshot store, "
        "and return the report's events_read.",
    )


def check_interval(interval: object, measure: object) -> str:
    limit, best = MAX_EVENTS_PER_LOAD, MAX_EVENTS_PER_LOAD + 1
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise NotYet(
            f"INTERVAL must be a whole number of events, at least 1, got {interval!r}",
            mistake="not an int",
            hint="An int, such as 10: not 10.0 and not '10'.",
        )
    if interval > best:
        raise NotYet(
            f"with a snapshot every {interval} events, the load just before the next snapshot "
            f"can read {interval - 1} events after the last one, more than {limit} (rule 1)",
            mistake="interval too large",
            hint="A snapshot is taken once at least `interval` events came since the last, so "
            "a load finds at most interval - 1 after it.",
        )
    if interval < best:
        raise NotYet(
            f"with a snapshot every {interval} events no load reads more than {interval - 1}, "
            f"within the limit, but every snapshot is a write: {best} would take fewer and "
            f"still read at most {limit} (rule 2)",
            mistake="interval too small",
            hint="The most a load reads after its snapshot is interval - 1. Which interval makes "
            f"that exactly {limit}?",
        )
    if not callable(measure):
        raise NotYet("pass your events_read function as the second answer", mistake="no measure")
    for tried in (interval, 100, 7, 13):
        _check_measure(measure, tried)
    read = events_read(interval)
    return (
        f"a snapshot every {interval} events keeps every load within {limit} events, with as "
        f"few snapshots as that allows; the last load reads {read} events instead of "
        f"{STREAM_LENGTH} ({STREAM_LENGTH - read} saved)"
    )


ex1 = Exercise(
    "5.1",
    "Pick a snapshot interval, and show what it saves",
    ["INTERVAL", "events_read"],
    check_interval,
    [INTERVAL, events_read],
    [
        "Snapshots are taken when at least `interval` events were appended since the last one. "
        "How many events can a load find after the latest snapshot, at most?",
        "At most interval - 1: so the largest interval with interval - 1 <= 40 is the answer.",
        "events_read: the writing CommandProcessor needs snapshots= and snapshot_interval=; "
        "load with Repository(..., snapshots=snapshots, snapshot_interval=interval) and read "
        "events_read from the LoadReport that load_with_report returns.",
    ],
)


# --- 5.2 --------------------------------------------------------------------------------------


def check_fresh_cache(cache_class: object) -> str:
    if not (isinstance(cache_class, type) and issubclass(cache_class, StaleCache)):
        raise NotYet(
            "pass your class itself, a subclass of StaleCache: ex2.check(FreshCache)",
            mistake="wrong answer type",
        )
    store = bank()  # acc-1: opened, 10.00 deposited
    counting = CountingStore(store)
    cache: Any = cache_class(counting)
    other = CommandProcessor(store, BankAccount, ids=SeededIds(7))

    def load(doing: str, version: int) -> BankAccount:
        """One load through the learner's cache, which holds the account at ``version``."""
        asked = len(counting.from_versions)
        try:
            account = cache.load("acc-1")
        except EventsOutOfOrder as error:
            froms = counting.from_versions[asked:]
            if froms and froms[-1] > version + 1:
                raise NotYet(
                    f"{doing} asked the store for the events from version {froms[-1]}, but the "
                    f"cached account is at version {version}: version {version + 1} was "
                    f"skipped. Ask from the version after the cached one (rule 2)",
                    mistake="skipped an event",
                    hint="self.store.get_events(account_id, kept.version + 1): exactly one "
                    "more than the kept version.",
                ) from error
            raise NotYet(
                f"{doing} applied an event the cached account had already applied: "
                f"get_events(id, from_version) includes from_version, so ask from "
                f"version + 1 (rule 2)",
                mistake="events applied out of order",
                hint="self.store.get_events(account_id, kept.version + 1)",
            ) from error
        except Exception as error:
            raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
        if not isinstance(account, BankAccount):
            raise NotYet(
                f"{doing} returned {type(account).__name__}: return the BankAccount",
                mistake="not an account",
            )
        return account

    first = load("the first load", 0)
    kept = cache.entries.get("acc-1") if isinstance(cache.entries, dict) else None
    if first.balance != 1_000 and getattr(kept, "balance", None) == 1_000:
        raise NotYet(
            f"the first load returned balance {first.balance}, while the account kept in "
            f"entries holds 1000: the copy you returned was taken before the events were "
            f"applied. Apply first, then copy (rule 3)",
            mistake="copy taken before applying",
            hint="Apply the new events to the kept account, store it, and only then return "
            "copy.deepcopy(kept).",
        )
    if first.balance != 1_000 or kept is None:
        raise NotYet(
            f"the first load gave balance {first.balance} and kept "
            f"{sorted(cache.entries)!r} in entries: replay the stream and keep the account in "
            f"self.entries (rule 1)",
            mistake="first load",
            hint="kept = self.entries.get(account_id) or BankAccount(account_id); apply the events"
            " after kept.version; self.entries[account_id] = kept.",
        )
    for amount in (200, 30):
        other.process_command(DepositMoney("acc-1", amount))
    counting.events_read = 0
    second = load("a load after another writer's two deposits", 2)
    if second.balance != 1_230:
        raise NotYet(
            f"after another writer deposited twice, load gave balance {second.balance}, but the "
            f"store says 1230: the cache is stale. Ask the store for the events after the cached "
            f"version on every load (rule 2)",
            mistake="stale cache",
            hint="self.store.get_events(account_id, kept.version + 1) returns only what is new "
            "(nothing, when nothing is); apply those to the kept account.",
        )
    if counting.events_read != 2:
        raise NotYet(
            f"the load after two new deposits read {counting.events_read} events from the store; "
            f"a cache reads only the 2 new ones (rule 2)",
            mistake="reads the whole stream",
            hint="get_events(account_id, kept.version + 1): from the version after the cached "
            "one, not from the start.",
        )
    second.balance = -999  # a caller's mistake must not reach the cache
    counting.events_read = 0
    third = load("a load with nothing new", 4)
    if third.balance != 1_230:
        raise NotYet(
            f"a caller changed the account it got, and the next load gave balance "
            f"{third.balance}: the cache handed out its own copy. Return a copy (rule 3)",
            mistake="hands out the cached object",
            hint="return copy.deepcopy(kept)",
        )
    if counting.events_read != 0:
        raise NotYet(
            f"a load with nothing new read {counting.events_read} events (rule 2)",
            mistake="reads the whole stream",
        )
    return "the cache follows other writers, reads only what is new, and hands out copies"


ex2 = Exercise(
    "5.2",
    "Fix a cache that goes stale",
    ["FreshCache"],
    check_fresh_cache,
    [FreshCache],
    [
        "On every load: start from the kept account (or a new BankAccount(account_id) the "
        "first time), then apply the events after its version.",
        "self.store.get_events(account_id, kept.version + 1) gives just those events; "
        "kept.apply(event) applies one and checks its version.",
        "Keep the updated account in self.entries, and return copy.deepcopy(kept).",
    ],
)
