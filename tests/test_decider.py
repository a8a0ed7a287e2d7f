"""Deciders: an aggregate as three pure functions, through the same processor, stores and tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given as property_given
from hypothesis import settings
from hypothesis import strategies as st

from esteach import (
    AggregateCache,
    CommandProcessor,
    DomainError,
    DuckDBEventStore,
    EsteachError,
    InMemoryEventStore,
    InMemorySnapshotStore,
    InvalidInput,
    SeededIds,
    StepClock,
    given,
    history,
    state_at,
)
from esteach.decider import Decider, aggregate_class_of
from esteach.domains import deciders
from esteach.domains.account import (
    BankAccount,
    CloseAccount,
    DepositMoney,
    InsufficientFunds,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
)
from esteach.domains.deciders import AccountState, UserState, bank_account
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserCreated,
    UserEmailChanged,
    UserNotFound,
)


def test_a_decider_handles_commands_through_the_command_processor() -> None:
    store = InMemoryEventStore(clock=StepClock(), ids=SeededIds(0))
    accounts = CommandProcessor(store, bank_account, ids=SeededIds(1))

    accounts.process_command(OpenAccount("acc-1", "Ada", overdraft_limit=100))
    accounts.process_command(DepositMoney("acc-1", 500))
    result = accounts.process_command(WithdrawMoney("acc-1", 550))

    assert result.version == 3
    assert [e.aggregate_type for e in store.read_all()] == ["BankAccount"] * 3
    assert accounts.load("acc-1").current == AccountState("Ada", -50, 100, "open")  # type: ignore[attr-defined]
    with pytest.raises(InsufficientFunds):
        accounts.process_command(WithdrawMoney("acc-1", 100))


def test_the_class_and_the_decider_read_and_write_the_same_streams() -> None:
    store = InMemoryEventStore()
    as_class = CommandProcessor(store, User)
    as_decider = CommandProcessor(store, deciders.user)

    as_class.process_command(CreateUser("ada", "ada@example.com", "Ada"))
    as_decider.process_command(ChangeEmail("ada", "ada@lovelace.org"))
    as_class.process_command(ChangeName("ada", "Ada Lovelace"))

    assert as_decider.load("ada").current == UserState(  # type: ignore[attr-defined]
        "ada@lovelace.org", "Ada Lovelace", "active"
    )
    assert as_class.load("ada").email == "ada@lovelace.org"


def test_evolve_returns_a_new_state_and_leaves_the_old_one_as_it_was() -> None:
    before = bank_account.initial_state

    after = bank_account.evolve(before, MoneyWithdrawn(30))

    assert before == AccountState() and after.balance == -30


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_a_decider_with_a_dataclass_state_is_snapshotted_and_restored(cache: bool) -> None:
    store = InMemoryEventStore()
    snapshots = InMemorySnapshotStore()
    accounts = CommandProcessor(
        store,
        bank_account,
        snapshots=snapshots,
        snapshot_interval=3,
        cache=AggregateCache() if cache else None,
    )
    accounts.process_command(OpenAccount("acc-1", "Ada"))
    for _ in range(4):
        accounts.process_command(DepositMoney("acc-1", 10))

    kept = snapshots.get_latest("acc-1")
    fresh = CommandProcessor(store, bank_account, snapshots=snapshots, snapshot_interval=3)
    loaded, report = fresh.repository.load_with_report("acc-1")

    assert kept is not None and kept.state == {
        "current": {"owner": "Ada", "balance": 20, "overdraft_limit": 0, "status": "open"}
    }
    assert report.source == "snapshot" and report.events_read == 2
    assert loaded.current == AccountState("Ada", 40, 0, "open")  # type: ignore[attr-defined]


def test_given_when_then_tests_a_decider_named_as_the_aggregate() -> None:
    given(UserCreated("u-1", "ada@example.com", "Ada"), aggregate=deciders.user).when(
        ChangeEmail("u-1", "ada@lovelace.org")
    ).then(UserEmailChanged("ada@lovelace.org"))
    given(aggregate=deciders.user).when(ChangeName("u-1", "Ada")).then_raises(UserNotFound)


def test_given_still_finds_the_class_for_a_command_once_a_decider_exists() -> None:
    assert deciders.user.aggregate_class is not User  # the decider's class exists now

    scenario = given(UserCreated("u-1", "ada@example.com", "Ada")).when(DeactivateUser("u-1"))
    assert scenario.aggregate_class is User


def test_time_travel_takes_a_decider() -> None:
    store = InMemoryEventStore(clock=StepClock(), ids=SeededIds(0))
    accounts = CommandProcessor(store, bank_account, ids=SeededIds(1))
    accounts.process_command(OpenAccount("acc-1", "Ada"))
    accounts.process_command(DepositMoney("acc-1", 500))

    then = state_at(store, bank_account, "acc-1", version=1)
    table = history(store, bank_account, "acc-1")

    assert then.current == AccountState("Ada", 0, 0, "open")  # type: ignore[attr-defined]
    assert list(table.index) == [1, 2]


def test_a_decider_on_duckdb_behaves_as_in_memory(tmp_path: Any) -> None:
    with DuckDBEventStore(tmp_path / "events.duckdb") as store:
        accounts = CommandProcessor(store, bank_account)
        accounts.process_command(OpenAccount("acc-1", "Ada"))
        accounts.process_command(DepositMoney("acc-1", 5))
        assert accounts.load("acc-1").current.balance == 5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("Bank Account", AccountState(), deciders.decide_account, deciders.evolve_account),
            "name",
        ),
        (("BankAccount", AccountState(), "decide", deciders.evolve_account), "decide"),
        (("BankAccount", AccountState(), deciders.decide_account, None), "evolve"),
    ],
)
def test_a_decider_that_is_not_three_functions_is_refused(
    arguments: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Decider(*arguments)


def test_a_processor_refuses_what_is_neither_an_aggregate_nor_a_decider() -> None:
    with pytest.raises(InvalidInput, match=r"an Aggregate subclass .* or a Decider"):
        CommandProcessor(InMemoryEventStore(), deciders.decide_account)  # type: ignore[arg-type]
    assert aggregate_class_of(BankAccount) is BankAccount


# --- the class and the decider agree on every rule ---------------------------------------------

ids = st.sampled_from(["u-1", "u-2"])
text = st.sampled_from(["Ada", "", " ", "Grace", "x" * 300])
emails = st.sampled_from(["ada@example.com", "grace@navy.mil", "not-an-email", ""])
user_commands = st.one_of(
    st.builds(CreateUser, ids, emails, text),
    st.builds(ChangeEmail, ids, emails),
    st.builds(ChangeName, ids, text),
    st.builds(DeactivateUser, ids),
)
amounts = st.integers(min_value=-5, max_value=300)
account_commands = st.one_of(
    st.builds(OpenAccount, st.just("a-1"), text, st.integers(min_value=-1, max_value=200)),
    st.builds(DepositMoney, st.just("a-1"), amounts),
    st.builds(WithdrawMoney, st.just("a-1"), amounts),
    st.builds(CloseAccount, st.just("a-1")),
)


def outcomes(model: Any, commands: list[Any]) -> list[Any]:
    """What each command did, command after command, in one store: events or the error."""
    processor = CommandProcessor(InMemoryEventStore(), model)
    seen: list[Any] = []
    for command in commands:
        try:
            result = processor.process_command(command)
        except DomainError as error:
            seen.append((type(error).__name__, str(error)))
        except EsteachError as error:  # refused before deciding: the same for both
            seen.append(type(error).__name__)
        else:
            seen.append([(e.event_type, e.data) for e in result.events])
    return seen


@settings(max_examples=60, deadline=None)
@property_given(st.lists(user_commands, max_size=8))
def test_the_user_decider_decides_what_the_user_class_decides(commands: list[Any]) -> None:
    assert outcomes(deciders.user, commands) == outcomes(User, commands)


@settings(max_examples=60, deadline=None)
@property_given(st.lists(account_commands, max_size=8))
def test_the_account_decider_decides_what_the_account_class_decides(commands: list[Any]) -> None:
    assert outcomes(bank_account, commands) == outcomes(BankAccount, commands)
