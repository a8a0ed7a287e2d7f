"""Every rule of the ``BankAccount`` aggregate, stated as given / when / then."""

from __future__ import annotations

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from esteach import (
    AggregateNotFound,
    CommandProcessor,
    DomainError,
    InMemoryEventStore,
    InvalidCommand,
    given,
)
from esteach.domains.account import (
    CLOSED,
    MAX_AMOUNT,
    OPEN,
    AccountAlreadyOpen,
    AccountClosed,
    AccountIsClosed,
    AccountNotFound,
    AccountOpened,
    BalanceNotZero,
    BankAccount,
    CloseAccount,
    DepositMoney,
    InsufficientFunds,
    InvalidAmount,
    InvalidOwner,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
)
from esteach.domains.user import UserDeactivated

OPENED = AccountOpened("acc-1", "Ada", 0)
WITH_OVERDRAFT = AccountOpened("acc-1", "Ada", 5_000)
CLOSED_HISTORY = [OPENED, AccountClosed()]


def state_after(*history: object) -> dict[str, object]:
    account = BankAccount("acc-1")
    for event in history:
        account.apply_event(event)  # type: ignore[arg-type]
    return account.state()


# --- state -----------------------------------------------------------------------------------


def test_the_balance_is_the_sum_of_deposits_minus_withdrawals() -> None:
    state = state_after(
        WITH_OVERDRAFT, MoneyDeposited(1_000), MoneyWithdrawn(3_000), MoneyDeposited(250)
    )
    assert state["balance"] == -1_750
    assert (state["owner"], state["overdraft_limit"], state["status"]) == ("Ada", 5_000, OPEN)


def test_a_new_account_has_no_owner_balance_or_status() -> None:
    assert state_after() == {
        "aggregate_id": "acc-1",
        "version": 0,
        "owner": "",
        "balance": 0,
        "overdraft_limit": 0,
        "status": None,
    }


def test_apply_event_refuses_an_event_of_another_domain() -> None:
    with pytest.raises(DomainError, match="BankAccount cannot apply UserDeactivated"):
        BankAccount("acc-1").apply_event(UserDeactivated())


# --- rule 1: the command is for this account --------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        OpenAccount("acc-2", "Bob"),
        DepositMoney("acc-2", 100),
        WithdrawMoney("acc-2", 100),
        CloseAccount("acc-2"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_command_for_another_account_is_rejected(command: object) -> None:
    account = BankAccount("acc-1")
    account.apply_event(OPENED)
    with pytest.raises(InvalidCommand, match="is for 'acc-2', but this BankAccount is 'acc-1'"):
        account.handle_command(command)  # type: ignore[arg-type]


# --- rule 2: OpenAccount ---------------------------------------------------------------------


def test_an_account_is_opened_with_no_overdraft_by_default() -> None:
    given().when(OpenAccount("acc-1", "Ada")).then(OPENED)


def test_an_account_is_opened_with_an_overdraft_limit() -> None:
    scenario = given().when(OpenAccount("acc-1", "Ada", overdraft_limit=5_000))
    scenario.then(WITH_OVERDRAFT)
    assert scenario.aggregate is not None
    assert scenario.aggregate.state()["status"] == OPEN


@pytest.mark.parametrize("limit", [0, 1, MAX_AMOUNT])
def test_the_overdraft_limit_may_be_anything_from_zero_to_the_maximum(limit: int) -> None:
    given().when(OpenAccount("acc-1", "Ada", limit)).then(AccountOpened("acc-1", "Ada", limit))


def test_opening_an_open_account_again_is_rejected() -> None:
    given(OPENED, MoneyDeposited(100)).when(OpenAccount("acc-1", "Bob")).then_raises(
        AccountAlreadyOpen, "'acc-1' is already open"
    )


def test_a_closed_account_is_not_reopened() -> None:
    given(CLOSED_HISTORY).when(OpenAccount("acc-1", "Ada")).then_raises(
        AccountIsClosed, "open a new account with a new id"
    )


@pytest.mark.parametrize("owner", ["", " ", "\t\n"])
def test_an_account_needs_an_owner(owner: str) -> None:
    given().when(OpenAccount("acc-1", owner)).then_raises(InvalidOwner, "must not be blank")


@pytest.mark.parametrize("limit", [-1, -5_000, MAX_AMOUNT + 1])
def test_an_overdraft_limit_out_of_range_is_rejected(limit: int) -> None:
    given().when(OpenAccount("acc-1", "Ada", limit)).then_raises(
        InvalidAmount, f"between 0 and {MAX_AMOUNT} cents, got {limit}"
    )


def test_an_open_account_is_rejected_before_its_owner_is_checked() -> None:
    given(OPENED).when(OpenAccount("acc-1", "")).then_raises(AccountAlreadyOpen)


# --- rule 3: the account must exist and be open -----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [DepositMoney("acc-1", 100), WithdrawMoney("acc-1", 100), CloseAccount("acc-1")],
    ids=lambda c: type(c).__name__,
)
def test_a_command_for_an_account_never_opened_says_not_found(command: object) -> None:
    scenario = given().when(command)  # type: ignore[arg-type]
    scenario.then_raises(AccountNotFound, "'acc-1' does not exist; open it with OpenAccount")
    scenario.then_raises(AggregateNotFound)


@pytest.mark.parametrize(
    "command",
    [DepositMoney("acc-1", 100), WithdrawMoney("acc-1", 100), CloseAccount("acc-1")],
    ids=lambda c: type(c).__name__,
)
def test_a_closed_account_takes_no_commands(command: object) -> None:
    given(CLOSED_HISTORY).when(command).then_raises(AccountIsClosed, "is closed")  # type: ignore[arg-type]


def test_existence_is_checked_before_the_amount() -> None:
    given().when(DepositMoney("acc-1", -5)).then_raises(AccountNotFound)
    given(CLOSED_HISTORY).when(WithdrawMoney("acc-1", 0)).then_raises(AccountIsClosed)


# --- rule 4: amounts -------------------------------------------------------------------------


def test_money_is_deposited() -> None:
    given(OPENED).when(DepositMoney("acc-1", 1_050)).then(MoneyDeposited(1_050))


def test_the_largest_amount_is_accepted() -> None:
    given(OPENED).when(DepositMoney("acc-1", MAX_AMOUNT)).then(MoneyDeposited(MAX_AMOUNT))


@pytest.mark.parametrize("amount", [0, -1, -1_000, MAX_AMOUNT + 1])
@pytest.mark.parametrize("command_class", [DepositMoney, WithdrawMoney], ids=lambda c: c.__name__)
def test_a_non_positive_or_too_large_amount_is_rejected(command_class: type, amount: int) -> None:
    history = [OPENED, MoneyDeposited(MAX_AMOUNT)]  # so a withdrawal fails on the amount alone
    given(history).when(command_class("acc-1", amount)).then_raises(InvalidAmount, str(amount))


# --- rule 5: withdrawals ---------------------------------------------------------------------


def test_money_is_withdrawn_from_the_balance() -> None:
    given(OPENED, MoneyDeposited(500)).when(WithdrawMoney("acc-1", 200)).then(MoneyWithdrawn(200))


def test_the_whole_balance_can_be_withdrawn() -> None:
    given(OPENED, MoneyDeposited(500)).when(WithdrawMoney("acc-1", 500)).then(MoneyWithdrawn(500))


def test_one_cent_more_than_the_balance_is_refused_without_an_overdraft() -> None:
    given(OPENED, MoneyDeposited(500)).when(WithdrawMoney("acc-1", 501)).then_raises(
        InsufficientFunds
    )


def test_the_insufficient_funds_message_says_balance_limit_and_amount() -> None:
    scenario = given(WITH_OVERDRAFT, MoneyDeposited(1_000), MoneyWithdrawn(3_000)).when(
        WithdrawMoney("acc-1", 4_000)
    )
    scenario.then_raises(InsufficientFunds, "cannot pay out 4000 cents")
    scenario.then_raises(InsufficientFunds, "the balance is -2000 cents")
    scenario.then_raises(InsufficientFunds, "the overdraft limit 5000 cents")
    scenario.then_raises(InsufficientFunds, "at most 3000 cents can be withdrawn")


def test_an_overdraft_lets_the_balance_go_down_to_minus_the_limit() -> None:
    given(WITH_OVERDRAFT, MoneyDeposited(1_000)).when(WithdrawMoney("acc-1", 6_000)).then(
        MoneyWithdrawn(6_000)
    )


def test_an_overdraft_is_refused_one_cent_past_the_limit() -> None:
    given(WITH_OVERDRAFT, MoneyDeposited(1_000)).when(WithdrawMoney("acc-1", 6_001)).then_raises(
        InsufficientFunds
    )


def test_an_overdrawn_account_can_withdraw_what_is_left_of_its_limit() -> None:
    history = [WITH_OVERDRAFT, MoneyWithdrawn(4_000)]
    given(history).when(WithdrawMoney("acc-1", 1_000)).then(MoneyWithdrawn(1_000))
    given(history).when(WithdrawMoney("acc-1", 1_001)).then_raises(InsufficientFunds)


def test_a_deposit_into_an_overdrawn_account_is_accepted() -> None:
    given(WITH_OVERDRAFT, MoneyWithdrawn(5_000)).when(DepositMoney("acc-1", 1)).then(
        MoneyDeposited(1)
    )


# --- rule 6: closing -------------------------------------------------------------------------


def test_an_account_with_balance_zero_is_closed() -> None:
    scenario = given(OPENED, MoneyDeposited(500), MoneyWithdrawn(500)).when(CloseAccount("acc-1"))
    scenario.then(AccountClosed())
    assert scenario.aggregate is not None
    assert scenario.aggregate.state()["status"] == CLOSED


def test_a_freshly_opened_account_can_be_closed() -> None:
    given(OPENED).when(CloseAccount("acc-1")).then(AccountClosed())


@pytest.mark.parametrize(
    ("history", "balance"),
    [
        ([OPENED, MoneyDeposited(1)], 1),
        ([WITH_OVERDRAFT, MoneyWithdrawn(250)], -250),
    ],
    ids=["money-left", "overdrawn"],
)
def test_an_account_with_money_left_or_owed_is_not_closed(
    history: list[object], balance: int
) -> None:
    given(history).when(CloseAccount("acc-1")).then_raises(
        BalanceNotZero, f"has a balance of {balance} cents"
    )


def test_closing_twice_is_rejected() -> None:
    given(CLOSED_HISTORY).when(CloseAccount("acc-1")).then_raises(AccountIsClosed)


# --- malformed commands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DepositMoney("acc-1", 10.5), r"^DepositMoney\.amount must be int, got float"),
        (lambda: WithdrawMoney("acc-1", "100"), r"^WithdrawMoney\.amount must be int, got str"),
        (lambda: DepositMoney("acc-1", True), r"^DepositMoney\.amount must be int, got bool"),
        (lambda: OpenAccount("acc-1", "Ada", 0.0), r"^OpenAccount\.overdraft_limit must be int"),
        (lambda: OpenAccount("acc-1", None), r"^OpenAccount\.owner must be str, got NoneType"),
        (lambda: OpenAccount(1, "Ada"), r"^OpenAccount\.account_id must be str, got int"),
        (lambda: CloseAccount(""), r"^CloseAccount\.account_id: .*empty"),
        (lambda: DepositMoney("  ", 100), r"^DepositMoney\.account_id: .*blank"),
    ],
)
def test_a_malformed_command_is_an_invalid_command_naming_the_field(
    make: object, message: str
) -> None:
    with pytest.raises(InvalidCommand, match=message):
        make()  # type: ignore[operator]


# --- through a CommandProcessor --------------------------------------------------------------


def test_an_account_lives_through_a_command_processor() -> None:
    store = InMemoryEventStore()
    processor = CommandProcessor(store, BankAccount)
    processor.process_command(OpenAccount("acc-1", "Ada", overdraft_limit=2_000))
    processor.process_command(DepositMoney("acc-1", 1_000))
    processor.process_command(WithdrawMoney("acc-1", 2_500), user_id="ada")
    with pytest.raises(InsufficientFunds):
        processor.process_command(WithdrawMoney("acc-1", 501))
    with pytest.raises(BalanceNotZero):
        processor.process_command(CloseAccount("acc-1"))
    processor.process_command(DepositMoney("acc-1", 1_500))
    result = processor.process_command(CloseAccount("acc-1"))

    events = store.get_events("acc-1")
    assert [(e.event_type, e.data) for e in events] == [
        ("AccountOpened", {"account_id": "acc-1", "owner": "Ada", "overdraft_limit": 2_000}),
        ("MoneyDeposited", {"amount": 1_000}),
        ("MoneyWithdrawn", {"amount": 2_500}),
        ("MoneyDeposited", {"amount": 1_500}),
        ("AccountClosed", {}),
    ]
    assert {e.aggregate_type for e in events} == {"BankAccount"}
    assert events[2].metadata.user_id == "ada"
    assert result.version == 5 and result.events == events[4:]
    account = processor.load("acc-1")
    assert (account.balance, account.status, account.version) == (0, CLOSED, 5)
    with pytest.raises(AccountIsClosed):
        processor.process_command(DepositMoney("acc-1", 1))
    assert store.head_position() == 5


# --- a property: no sequence of commands breaks the overdraft rule -----------------------------

amounts = st.integers(min_value=-10, max_value=20_000)
moves = st.lists(st.tuples(st.sampled_from([DepositMoney, WithdrawMoney]), amounts), max_size=40)


@for_all(limit=st.integers(min_value=0, max_value=10_000), moves=moves)
def test_no_sequence_of_commands_takes_the_balance_below_minus_the_limit(
    limit: int, moves: list[tuple[type, int]]
) -> None:
    processor = CommandProcessor(InMemoryEventStore(), BankAccount)
    processor.process_command(OpenAccount("acc-1", "Ada", limit))
    expected = 0
    for command_class, amount in moves:
        try:
            processor.process_command(command_class("acc-1", amount))
        except (InvalidAmount, InsufficientFunds) as refused:
            assert amount <= 0 or isinstance(refused, InsufficientFunds)
            assert amount <= 0 or expected - amount < -limit
            continue
        expected += amount if command_class is DepositMoney else -amount
        assert amount > 0 and expected >= -limit
    account = processor.load("acc-1")
    assert account.balance == expected
