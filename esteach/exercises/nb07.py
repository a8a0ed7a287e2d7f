"""Exercises for notebook 07, event versioning.

* ``ex1`` (7.1): an upcaster that splits a field, without changing what it is given.
* ``ex2`` (7.2): an upcaster that renames an old event and converts its amount exactly, and its
  registration.
"""

from __future__ import annotations

import copy
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from esteach.domains.account import MoneyDeposited
from esteach.errors import InvalidEventData
from esteach.events import DomainEvent, Event, EventMetadata, EventRegistry
from esteach.events import registry as default_registry
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.upcasting import Upcaster

__all__ = [
    "GuestRegistered",
    "credited_to_deposited",
    "ex1",
    "ex2",
    "old_event",
    "register_credited",
    "upcast_guest_v1",
]


@dataclass(frozen=True)
class GuestRegistered(DomainEvent):
    """A hotel guest signed up. Version 1 held one ``name``; version 2 splits it."""

    schema_version = 2

    guest_id: str
    first_name: str
    last_name: str
    email: str


def old_event(
    event_type: str, data: dict[str, Any], *, version: int = 1, aggregate_id: str = "g-1"
) -> Event:
    """A recorded event as an old release wrote it: ``data`` in its old shape."""
    return Event(
        id=f"{aggregate_id}-v{version}-old",
        aggregate_id=aggregate_id,
        aggregate_type="Guest" if event_type == "GuestRegistered" else "BankAccount",
        event_type=event_type,
        version=version,
        timestamp=datetime(2023, 6, 1, 12, 0, tzinfo=UTC),
        data=data,
        metadata=EventMetadata(source="release-1", schema_version=1),
        global_position=version,
    )


# --- reference solutions ----------------------------------------------------------------------


def upcast_guest_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Exercise 7.1: GuestRegistered v1 {guest_id, name, email} -> v2 (name split in two)."""
    first_name, _, last_name = data["name"].partition(" ")
    return {
        "guest_id": data["guest_id"],
        "first_name": first_name,
        "last_name": last_name,
        "email": data["email"],
    }


def credited_to_deposited(data: dict[str, Any]) -> dict[str, Any]:
    """Exercise 7.2: AccountCredited v1 {amount_euros: "12.50"} -> MoneyDeposited v1 {amount}."""
    euros, _, cents = data["amount_euros"].partition(".")
    return {"amount": int(euros) * 100 + int(cents)}


def register_credited(registry: EventRegistry) -> None:
    """Exercise 7.2, rule 3: every reader sees AccountCredited v1 as MoneyDeposited v1."""
    registry.upcaster("AccountCredited", from_version=1, to_event_type="MoneyDeposited")(
        credited_to_deposited
    )


_REGISTRATION: Final = """\
registry.upcaster("AccountCredited", from_version=1, to_event_type="MoneyDeposited")(
    credited_to_deposited
)"""


# --- shared -----------------------------------------------------------------------------------


def _lift(
    function: Callable[[dict[str, Any]], Any], data: dict[str, Any], doing: str
) -> tuple[Any, dict[str, Any]]:
    """Run an upcaster on a plain dict; return what it returned and the dict afterwards."""
    given = copy.deepcopy(data)
    try:
        result = function(given)
    except Exception as error:
        raise NotYet(f"{doing} raised {describe_error(error)}", mistake="raised") from error
    if given != data:
        raise NotYet(
            f"the upcaster mutates its input: {doing} changed the dict it was given to "
            f"{given!r}. On a read, that dict is a stored fact; return a new dict instead",
            mistake="upcaster mutates its input",
            hint="Build the result as a new dict literal, {'key': data['old_key'], ...}; never "
            "assign to data, pop from it or del from it.",
        )
    return result, given


def _require_function(answer: object, name: str) -> Callable[[dict[str, Any]], Any]:
    if not callable(answer):
        raise NotYet(f"pass your function itself: ex.check({name})", mistake="not callable")
    return answer


# --- 7.1 --------------------------------------------------------------------------------------

_GUESTS: Final = [
    {"guest_id": "g-1", "name": "Ada Lovelace", "email": "ada@example.com"},
    {"guest_id": "g-2", "name": "Mary Ann Evans", "email": "george@eliot.org"},
    {"guest_id": "g-3", "name": "Cher", "email": "cher@example.com"},
]


def check_guest_upcaster(answer: object) -> str:
    function = _require_function(answer, "upcast_guest_v1")
    for data in _GUESTS:
        doing = f"upcasting {data['name']!r}"
        result, _ = _lift(function, data, doing)
        want = upcast_guest_v1(data)
        if result == want:
            continue
        if not isinstance(result, dict):
            raise NotYet(
                f"{doing} returned {type(result).__name__}: return the version 2 data, a dict",
                mistake="not a dict",
            )
        if "name" in result:
            raise NotYet(
                f"{doing} kept the old field 'name': version 2 has guest_id, first_name, "
                f"last_name and email only (rule 2)",
                mistake="old field kept",
            )
        if data["name"] == "Mary Ann Evans" and result.get("first_name") == "Mary Ann":
            raise NotYet(
                f"{doing} gave first_name 'Mary Ann' and last_name {result.get('last_name')!r}: "
                f"rule 1 splits at the first space",
                mistake="split at the last space",
                hint="data['name'].partition(' ') splits at the first space: (first, ' ', rest).",
            )
        raise NotYet(f"{doing} gave {result!r}, expected {want!r}", mistake="wrong")
    lifted = Upcaster("GuestRegistered", 1, function).apply(
        old_event("GuestRegistered", _GUESTS[0])
    )
    GuestRegistered.from_data(lifted.data)
    return (
        "every old name is split at its first space (none: an empty last name), and the "
        "stored data is left as it was"
    )


ex1 = Exercise(
    "7.1",
    "Upcast an old event shape",
    ["upcast_guest_v1"],
    check_guest_upcaster,
    [upcast_guest_v1],
    [
        "first_name, _, last_name = data['name'].partition(' ') splits at the first space; "
        "with no space, last_name is ''.",
        "Return a new dict with the four version 2 fields: {'guest_id': data['guest_id'], "
        "'first_name': ..., 'last_name': ..., 'email': data['email']}.",
    ],
)


# --- 7.2 --------------------------------------------------------------------------------------

_AMOUNTS: Final = {"12.50": 1250, "0.29": 29, "0.07": 7, "5.00": 500, "1000000.01": 100000001}


def _step_of(events: EventRegistry, function: Callable[..., Any]) -> None:
    """Rule 3: the registry holds this very function as AccountCredited v1 -> MoneyDeposited v1."""
    found = [step for step in events.upcasters.steps() if step.event_type == "AccountCredited"]
    if not found:
        raise NotYet(
            "no upcaster is registered for AccountCredited: register your function, "
            "registry.upcaster('AccountCredited', from_version=1, to_event_type="
            "'MoneyDeposited')(credited_to_deposited) (rule 3)",
            mistake="not registered",
        )
    step = found[0]
    if step.target != ("MoneyDeposited", 1):
        to_type, to_version = step.target
        raise NotYet(
            f"the registered step lifts AccountCredited v{step.from_version} to {to_type} "
            f"v{to_version}; the event was renamed: to_event_type='MoneyDeposited' (rule 3)",
            mistake="registered without the rename",
        )
    if step.function is not function:
        registered = getattr(step.function, "__name__", "another function")
        why = (
            "an older definition of your function: run the registration again after changing "
            "the function"
            if registered == getattr(function, "__name__", None)
            else f"{registered}, not your function: register yours"
        )
        raise NotYet(f"the registered upcaster is {why} (rule 3)", mistake="stale registration")


def check_credited_upcaster(answer: object, registry: EventRegistry = default_registry) -> str:
    function = _require_function(answer, "credited_to_deposited")
    for text, cents in _AMOUNTS.items():
        doing = f"upcasting {{'amount_euros': {text!r}}}"
        result, _ = _lift(function, {"amount_euros": text}, doing)
        if not isinstance(result, dict):
            raise NotYet(
                f"{doing} returned {type(result).__name__}: return the new data, a dict",
                mistake="not a dict",
            )
        if set(result) != {"amount"}:
            raise NotYet(
                f"{doing} gave the fields {sorted(result)}; MoneyDeposited has one field, "
                f"amount (rule 1)",
                mistake="wrong fields",
            )
        amount = result["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise NotYet(
                f"{doing} gave amount {amount!r}, a {type(amount).__name__}; it must be an int "
                f"of cents: {cents} (rule 1)",
                mistake="amount not an int",
            )
        if amount != cents:
            floaty = amount == int(float(text) * 100)
            raise NotYet(
                f"{doing} gave {amount} cents, expected {cents}"
                + (
                    f": float({text!r}) * 100 is {float(text) * 100!r}, and int() cuts it "
                    f"down. Money never goes through a float (rule 2)"
                    if floaty
                    else ""
                ),
                mistake="float rounding" if floaty else "wrong amount",
                hint="euros, _, cents = text.partition('.') and int(euros) * 100 + int(cents) "
                "is exact; so is int(decimal.Decimal(text) * 100).",
            )
    _step_of(registry, function)
    old = old_event("AccountCredited", {"amount_euros": "12.50"}, aggregate_id="acc-9")
    try:
        lifted = registry.upcast(old)
    except InvalidEventData as error:
        raise NotYet(
            f"reading an old event raised {describe_error(error)}", mistake="raised"
        ) from error
    if (lifted.event_type, lifted.data) != ("MoneyDeposited", {"amount": 1250}):
        raise NotYet(f"an old event reads as {lifted.event_type} {lifted.data!r}", mistake="wrong")
    MoneyDeposited.from_data(lifted.data)
    return (
        "old AccountCredited events read as MoneyDeposited with exact cents, and the stored "
        "data is left as it was"
    )


ex2 = Exercise(
    "7.2",
    "Rename an old event, and keep the money exact",
    ["credited_to_deposited"],
    check_credited_upcaster,
    [credited_to_deposited],
    [
        "'12.50'.partition('.') gives ('12', '.', '50'): whole euros and cents, as text.",
        "int(euros) * 100 + int(cents) is the amount in cents, with no float on the way.",
        "Register once the function is right: registry.upcaster('AccountCredited', "
        "from_version=1, to_event_type='MoneyDeposited')(credited_to_deposited).",
    ],
    solution_source=textwrap.dedent(inspect.getsource(credited_to_deposited)).strip()
    + "\n\n\n"
    + _REGISTRATION,
    on_catch_up=lambda: register_credited(default_registry),
)
