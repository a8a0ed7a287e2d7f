"""Exercises for notebook 07, event versioning.

* ``ex1`` (7.1): an upcaster that splits a field, without changing what it is given.
* ``ex2`` (7.2): an upcaster that renames an old event and converts its amount exactly, and its
  registration.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from esteach.domains.account import MoneyDeposited
from esteach.errors import InvalidEventData, InvalidInput
from esteach.events import DomainEvent, Event, EventMetadata, EventRegistry
from esteach.events import registry as default_registry
from esteach.exercises.core import Exercise, NotYet, describe_error
from esteach.exercises.solutions import body_source, plain_source
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
    cents = Decimal(data["amount_euros"]) * 100  # exact: "12.5" is 1250, "-0.29" is -29
    if cents != cents.to_integral_value():
        raise InvalidInput(f"{data['amount_euros']!r} is not a whole number of cents")
    return {"amount": int(cents)}


def register_credited(registry: EventRegistry) -> None:
    """Exercise 7.2, rule 3: every reader sees AccountCredited v1 as MoneyDeposited v1."""
    _ = registry.upcaster("AccountCredited", from_version=1, to_event_type="MoneyDeposited")(
        credited_to_deposited
    )  # `_ =` keeps a notebook cell from showing the function it returns


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
                hint="Return a dict literal: {'key': value, ...}.",
            )
        if "name" in result:
            raise NotYet(
                f"{doing} kept the old field 'name': version 2 has guest_id, first_name, "
                f"last_name and email only (rule 2)",
                mistake="old field kept",
                hint="Build the new dict from the four version 2 fields only, not from {**data, "
                "...}, which keeps 'name'.",
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

_AMOUNTS: Final = {
    "12.50": 1250,
    "0.29": 29,
    "0.07": 7,
    "5.00": 500,
    "12.5": 1250,
    "7": 700,
    "-0.29": -29,
    "-3.10": -310,
    "1000000.01": 100000001,
    "90071992547409.93": 9007199254740993,  # beyond what a float holds to the cent
}
_SUB_CENT: Final = ("1.005", "0.001")
"""Amounts that are no whole number of cents: an upcaster must refuse them (rule 2)."""


class _FloatWatch(type):
    """A stand-in for ``float`` that notes every call and otherwise is ``float``."""

    calls = 0

    def __call__(cls, *args: Any, **kwargs: Any) -> float:
        _FloatWatch.calls += 1
        return float(*args, **kwargs)

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, float)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, float)


class _WatchedFloat(metaclass=_FloatWatch):
    fromhex = staticmethod(float.fromhex)


def _floats_used(learner: object, action: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``action``; return what it returned and how often the learner's code called
    ``float`` meanwhile.

    As the purity watch sees the clock, this sees ``float(...)``: for the time of the call,
    the name ``float`` in the learner's module (the notebook) is a stand-in that counts, so
    helpers the learner wrote there are seen too. Money must never pass through a float,
    whatever the answer happens to be for the amounts tried.
    """
    namespace: dict[str, Any] = getattr(learner, "__globals__", {})
    had, old = "float" in namespace, namespace.get("float")
    namespace["float"] = _WatchedFloat
    _FloatWatch.calls = 0
    try:
        return action(), _FloatWatch.calls
    finally:
        if had:
            namespace["float"] = old
        else:
            namespace.pop("float", None)


def _naive_variants(text: str) -> dict[str, object]:
    """What typical wrong conversions give for ``text``, by mistake tag (``None``: they raise)."""

    def attempt(convert: Callable[[], object]) -> object:
        try:
            return convert()
        except Exception:
            return None

    euros, _, cents = text.partition(".")
    return {
        "decimal point stripped": attempt(lambda: int(text.replace(".", ""))),
        # Only a mistake when the cents are not written with two digits ("12.5", "0.5").
        "cents taken as written": attempt(
            lambda: (int(euros) * 100 + int(cents)) if cents and len(cents) != 2 else None
        ),
        "sign lost": attempt(lambda: abs(int(Decimal(text) * 100))),
    }


_MISTAKE_MESSAGES: Final = {
    "decimal point stripped": (
        "dropping the decimal point reads the digits as cents, which holds only when there are "
        "exactly two decimals: '12.5' is 12 euros 50 cents",
        "int(Decimal(text) * 100) reads '12.5', '7' and '0.29' alike.",
    ),
    "cents taken as written": (
        "the part after the point is not a count of cents unless it has two digits: '12.5' "
        "means 50 cents, not 5",
        "Let Decimal do the arithmetic: Decimal(text) * 100 is exact.",
    ),
    "sign lost": (
        "a negative amount (a correction) must stay negative: '-0.29' is -29 cents",
        "int('-0') is 0, and 0 * 100 + 29 is +29; Decimal('-0.29') * 100 keeps the sign.",
    ),
}


def _step_of(events: EventRegistry, function: Callable[..., Any]) -> None:
    """Rule 3: the registry holds this very function as AccountCredited v1 -> MoneyDeposited v1."""
    found = [step for step in events.upcasters.steps() if step.event_type == "AccountCredited"]
    if not found:
        raise NotYet(
            "no upcaster is registered for AccountCredited: register your function, "
            "registry.upcaster('AccountCredited', from_version=1, to_event_type="
            "'MoneyDeposited')(credited_to_deposited) (rule 3)",
            mistake="not registered",
            hint="Run the registration cell: registry.upcaster('AccountCredited', from_version=1, "
            "to_event_type='MoneyDeposited')(credited_to_deposited).",
        )
    step = found[0]
    if step.target != ("MoneyDeposited", 1):
        to_type, to_version = step.target
        raise NotYet(
            f"the registered step lifts AccountCredited v{step.from_version} to {to_type} "
            f"v{to_version}; the event was renamed: to_event_type='MoneyDeposited' (rule 3)",
            mistake="registered without the rename",
            hint="Pass to_event_type='MoneyDeposited' to registry.upcaster(...), and run the cell "
            "again: a new registration replaces the old one.",
        )
    if step.function is not function:
        registered = getattr(step.function, "__name__", "another function")
        why = (
            "an older definition of your function: run the registration again after changing "
            "the function"
            if registered == getattr(function, "__name__", None)
            else f"{registered}, not your function: register yours"
        )
        raise NotYet(
            f"the registered upcaster is {why} (rule 3)",
            mistake="stale registration",
            hint="Run the registration cell again after every change to the function: a new "
            "registration replaces the old one.",
        )


def _convert(function: Callable[[dict[str, Any]], Any], text: str) -> Any:
    """What ``function`` makes of ``{"amount_euros": text}``, its input left alone, no float."""
    doing = f"upcasting {{'amount_euros': {text!r}}}"
    result, floats = _floats_used(
        function, lambda: _lift(function, {"amount_euros": text}, doing)[0]
    )
    if floats:
        raise NotYet(
            f"{doing} called float(): money never goes through a float, which holds most "
            f"amounts only approximately (float('0.29') * 100 is {float('0.29') * 100!r}), "
            f"whatever the rounding after it (rule 2)",
            mistake="float on the way",
            hint="from decimal import Decimal; Decimal(text) * 100 is exact, and int() of it "
            "is the cents.",
        )
    return result


def check_credited_upcaster(answer: object, registry: EventRegistry = default_registry) -> str:
    function = _require_function(answer, "credited_to_deposited")
    for text, cents in _AMOUNTS.items():
        doing = f"upcasting {{'amount_euros': {text!r}}}"
        result = _convert(function, text)
        if not isinstance(result, dict):
            raise NotYet(
                f"{doing} returned {type(result).__name__}: return the new data, a dict",
                mistake="not a dict",
                hint="Return a dict literal: {'key': value, ...}.",
            )
        if set(result) != {"amount"}:
            raise NotYet(
                f"{doing} gave the fields {sorted(map(str, result))}; MoneyDeposited has one "
                f"field, amount (rule 1)",
                mistake="wrong fields",
            )
        amount = result["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise NotYet(
                f"{doing} gave amount {amount!r}, a {type(amount).__name__}; it must be an int "
                f"of cents: {cents} (rule 1)",
                mistake="amount not an int",
                hint="int(Decimal(text) * 100) is an int of cents; a Decimal or a float is not.",
            )
        if amount == cents:
            continue
        for mistake, value in _naive_variants(text).items():
            if value == amount:
                why, hint = _MISTAKE_MESSAGES[mistake]
                raise NotYet(
                    f"{doing} gave {amount} cents, expected {cents}: {why} (rule 2)",
                    mistake=mistake,
                    hint=hint,
                )
        raise NotYet(
            f"{doing} gave {amount} cents, expected {cents} (rule 2)",
            mistake="wrong amount",
            hint="int(Decimal(text) * 100) is exact for any amount with at most two decimals.",
        )
    for text in _SUB_CENT:
        doing = f"upcasting {{'amount_euros': {text!r}}}"
        try:
            result = _convert(function, text)
        except NotYet as verdict:
            if verdict.mistake != "raised":
                raise
            continue  # refused: right
        raise NotYet(
            f"{doing} gave {result!r}, but {text} euros is no whole number of cents: refuse it "
            f"(raise an error) rather than round; a silent rounding changes a recorded fact "
            f"(rule 2)",
            mistake="sub-cent amount accepted",
            hint="cents = Decimal(text) * 100; if cents != cents.to_integral_value(): raise "
            "InvalidInput(...)",
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
        "old AccountCredited events read as MoneyDeposited with exact cents, signs kept and "
        "sub-cent amounts refused, and the stored data is left as it was"
    )


ex2 = Exercise(
    "7.2",
    "Rename an old event, and keep the money exact",
    ["credited_to_deposited"],
    check_credited_upcaster,
    [credited_to_deposited],
    [
        "Decimal(text) holds the amount exactly as written, sign included; Decimal(text) * 100 "
        "is the cents: Decimal('12.5') * 100 is 1250.",
        "int(cents) once it is a whole number; when cents != cents.to_integral_value() (more "
        "than two decimals), raise InvalidInput instead of rounding.",
        "Register once the function is right: registry.upcaster('AccountCredited', "
        "from_version=1, to_event_type='MoneyDeposited')(credited_to_deposited).",
    ],
    solution_source=plain_source(credited_to_deposited) + "\n\n\n" + body_source(register_credited),
    on_catch_up=lambda: register_credited(default_registry),
)
