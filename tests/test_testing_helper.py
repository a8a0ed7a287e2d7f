"""The given / when / then helper: it must pass right scenarios and fail wrong ones clearly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from esteach import Aggregate, Command, DomainError, DomainEvent, InvalidInput, given
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserCreated,
    UserDeactivated,
    UserEmailChanged,
    UserNameChanged,
    UserNotActive,
    UserNotFound,
)

CREATED = UserCreated("u-1", "ada@example.com", "Ada")

# --- a tiny test-only domain: well-behaved Probe and some badly behaved aggregates -------------


@dataclass(frozen=True)
class ProbeCommand(Command):
    id_field = "probe_id"


@dataclass(frozen=True)
class Tick(ProbeCommand):
    probe_id: str


@dataclass(frozen=True)
class ProbeTicked(DomainEvent):
    n: int


class ProbeFailure(Exception):
    """Raised by the badly behaved aggregates below, so no library error is mistaken for it."""


class Probe(Aggregate):
    """Well behaved: decides ``ProbeTicked(ticks + 1)``, counts only in ``apply_event``."""

    command_types = (ProbeCommand,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.ticks = 0
        self.seen: list[int] = []

    def handle_command(self, command: Any) -> list[DomainEvent]:
        return [ProbeTicked(self.ticks + 1)]

    def apply_event(self, event: Any) -> None:
        self.ticks = event.n
        self.seen.append(event.n)


class CountsWhileDeciding(Probe):
    """Bad: changes a counter in ``handle_command``."""

    command_types = ()

    def handle_command(self, command: Any) -> list[DomainEvent]:
        self.ticks += 1
        return [ProbeTicked(self.ticks)]


class AppendsWhileDeciding(Probe):
    """Bad: changes a list in place in ``handle_command`` (same attribute object, new content)."""

    command_types = ()

    def handle_command(self, command: Any) -> list[DomainEvent]:
        self.seen.append(-1)
        return []


class ChangesThenRejects(Probe):
    """Bad: changes state, then rejects the command."""

    command_types = ()

    def handle_command(self, command: Any) -> list[DomainEvent]:
        self.ticks = 99
        raise DomainError("rejected after changing state")


class CannotApply(Probe):
    """Bad: decides an event its own ``apply_event`` cannot apply."""

    command_types = ()

    def apply_event(self, event: Any) -> None:
        if event.n > 1:
            raise ProbeFailure(f"cannot apply tick {event.n}")
        super().apply_event(event)


# --- then ------------------------------------------------------------------------------------


def test_then_passes_when_the_decided_events_are_the_expected_ones() -> None:
    scenario = given(ProbeTicked(1)).when(Tick("p-1")).then(ProbeTicked(2))
    assert scenario.aggregate is not None
    assert scenario.aggregate.state()["seen"] == [1, 2]  # then() applied the decided event


def test_then_fails_when_the_events_differ() -> None:
    scenario = given(CREATED).when(ChangeName("u-1", "Ada Lovelace"))
    with pytest.raises(AssertionError) as failure:
        scenario.then(UserNameChanged("Countess"))
    message = str(failure.value)
    assert message.startswith("ChangeName decided [UserNameChanged(new_name='Ada Lovelace')]")
    assert "expected [UserNameChanged(new_name='Countess')]" in message


def test_then_fails_when_the_event_class_differs_even_with_equal_fields() -> None:
    scenario = given(CREATED).when(ChangeEmail("u-1", "ada@lovelace.org"))
    with pytest.raises(AssertionError, match="decided"):
        scenario.then(UserNameChanged("ada@lovelace.org"))


def test_then_fails_when_events_are_expected_but_nothing_was_decided() -> None:
    scenario = given(CREATED).when(ChangeName("u-1", "Ada"))
    with pytest.raises(AssertionError, match=r"decided \[\], expected \[UserNameChanged"):
        scenario.then(UserNameChanged("Ada"))


def test_then_with_no_events_fails_when_an_event_was_decided() -> None:
    scenario = given(CREATED).when(DeactivateUser("u-1"))
    with pytest.raises(AssertionError, match=r"decided \[UserDeactivated\(\)\], expected \[\]"):
        scenario.then()


def test_then_fails_when_there_is_one_event_too_many_expected() -> None:
    scenario = given(CREATED).when(DeactivateUser("u-1"))
    with pytest.raises(AssertionError, match="decided"):
        scenario.then(UserDeactivated(), UserDeactivated())


def test_then_fails_clearly_when_the_command_raised() -> None:
    scenario = given().when(ChangeName("u-1", "Ada"))
    with pytest.raises(AssertionError) as failure:
        scenario.then(UserNameChanged("Ada"))
    message = str(failure.value)
    assert "expected events [UserNameChanged(new_name='Ada')]" in message
    assert "but ChangeName raised UserNotFound: user 'u-1' does not exist" in message
    assert isinstance(failure.value.__cause__, UserNotFound)  # the traceback shows the cause


def test_then_before_when_is_a_clear_error() -> None:
    with pytest.raises(AssertionError, match=r"call \.when\(command\) before"):
        given(CREATED).then()


# --- then_raises -----------------------------------------------------------------------------


def test_then_raises_passes_for_the_error_or_a_base_class_of_it() -> None:
    scenario = given().when(DeactivateUser("u-1"))
    scenario.then_raises(UserNotFound, "does not exist")
    scenario.then_raises(DomainError)


def test_then_raises_fails_for_the_wrong_error() -> None:
    scenario = given().when(ChangeName("u-1", "Ada"))
    with pytest.raises(AssertionError) as failure:
        scenario.then_raises(UserNotActive)
    assert str(failure.value).startswith("expected UserNotActive, but got UserNotFound: user 'u-1'")
    assert isinstance(failure.value.__cause__, UserNotFound)


def test_then_raises_fails_when_no_error_was_raised() -> None:
    scenario = given(CREATED).when(ChangeName("u-1", "Countess"))
    with pytest.raises(AssertionError) as failure:
        scenario.then_raises(UserNotActive)
    assert str(failure.value) == (
        "expected UserNotActive, but ChangeName decided [UserNameChanged(new_name='Countess')]"
    )


def test_then_raises_fails_when_the_command_was_a_no_op() -> None:
    scenario = given(CREATED).when(ChangeEmail("u-1", "ada@example.com"))
    with pytest.raises(
        AssertionError, match=r"expected UserNotActive, but ChangeEmail decided \[\]"
    ):
        scenario.then_raises(UserNotActive)


def test_then_raises_fails_when_the_message_lacks_the_expected_text() -> None:
    scenario = given().when(DeactivateUser("u-1"))
    with pytest.raises(AssertionError, match=r"UserNotFound message .* lacks 'already'"):
        scenario.then_raises(UserNotFound, "already")


# --- the aggregate's manners -----------------------------------------------------------------


def test_a_state_change_in_handle_command_is_caught() -> None:
    with pytest.raises(AssertionError) as failure:
        given(ProbeTicked(1), aggregate=CountsWhileDeciding).when(Tick("p-1"))
    assert str(failure.value) == (
        "handle_command(Tick) changed the aggregate's state (ticks) without an event: decide "
        "in handle_command, change state only in apply_event"
    )


def test_an_in_place_change_of_a_list_in_handle_command_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"changed the aggregate's state \(seen\) without"):
        given(aggregate=AppendsWhileDeciding).when(Tick("p-1"))


def test_a_state_change_before_a_rejection_is_caught_too() -> None:
    with pytest.raises(AssertionError, match=r"changed the aggregate's state \(ticks\) without"):
        given(aggregate=ChangesThenRejects).when(Tick("p-1"))


def test_the_well_behaved_twin_passes() -> None:
    given(ProbeTicked(1), aggregate=Probe).when(Tick("p-1")).then(ProbeTicked(2))


def test_an_event_that_apply_event_cannot_apply_is_surfaced_by_then() -> None:
    scenario = given(ProbeTicked(1), aggregate=CannotApply).when(Tick("p-1"))
    with pytest.raises(AssertionError, match="apply_event cannot apply it") as caught:
        scenario.then(ProbeTicked(2))
    assert isinstance(caught.value.__cause__, ProbeFailure)
    assert "cannot apply tick 2" in str(caught.value)


def test_a_history_that_apply_event_cannot_apply_is_surfaced_by_when() -> None:
    with pytest.raises(ProbeFailure, match="cannot apply tick 2"):
        given(ProbeTicked(1), ProbeTicked(2), aggregate=CannotApply).when(Tick("p-1"))


# --- given -----------------------------------------------------------------------------------


def _state_after(scenario: Any) -> dict[str, Any]:
    assert scenario.aggregate is not None
    state: dict[str, Any] = scenario.aggregate.state()
    return state


def test_given_accepts_events_as_arguments_or_as_one_list() -> None:
    history = [CREATED, UserEmailChanged("a@b.co"), UserNameChanged("A")]
    command = ChangeName("u-1", "B")
    as_args = given(*history).when(command).then(UserNameChanged("B"))
    as_list = given(history).when(command).then(UserNameChanged("B"))
    as_tuple = given(tuple(history)).when(command).then(UserNameChanged("B"))
    as_generator = given(e for e in history).when(command).then(UserNameChanged("B"))
    assert as_args.history == as_list.history == as_tuple.history == as_generator.history == history
    assert _state_after(as_args) == _state_after(as_list) == _state_after(as_generator)
    assert _state_after(as_args)["version"] == 3


def test_given_mixes_single_events_and_lists_in_order() -> None:
    scenario = given(CREATED, [UserEmailChanged("a@b.co"), UserNameChanged("A")])
    assert scenario.history == [CREATED, UserEmailChanged("a@b.co"), UserNameChanged("A")]


def test_given_nothing_is_a_new_aggregate() -> None:
    scenario = given().when(CreateUser("u-1", "ada@example.com", "Ada"))
    assert _state_after(scenario)["version"] == 0
    assert given([]).history == []


def test_the_aggregate_is_found_from_the_command() -> None:
    assert given().when(Tick("p-1")).aggregate_class is Probe
    assert given().when(DeactivateUser("u-1")).aggregate_class is User


def test_a_command_no_aggregate_claims_is_a_clear_error() -> None:
    @dataclass(frozen=True)
    class Orphan(Command):
        aggregate_id: str

    with pytest.raises(InvalidInput, match=r"cannot tell which aggregate handles Orphan"):
        given().when(Orphan("x-1"))


def test_the_scenario_describes_itself() -> None:
    assert repr(given(CREATED).when(DeactivateUser("u-1")).then(UserDeactivated())) == (
        "Scenario(User 'u-1': given 1 event, when DeactivateUser, then 1 event)"
    )
    assert repr(given().when(DeactivateUser("u-1"))) == (
        "Scenario(User 'u-1': given 0 events, when DeactivateUser, then UserNotFound)"
    )
