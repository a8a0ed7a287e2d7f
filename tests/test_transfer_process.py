"""A process manager: the money transfer, its compensation, redelivery and a crash in the middle."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from esteach import (
    CommandProcessor,
    DomainError,
    DuckDBEventStore,
    EventStore,
    InMemoryEventStore,
    InvalidInput,
    SeededIds,
)
from esteach.domains.account import (
    AccountIsClosed,
    BankAccount,
    CloseAccount,
    DepositMoney,
    InsufficientFunds,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
)
from esteach.domains.transfer import (
    RecordCredit,
    RecordCreditRefused,
    RecordDebit,
    RecordDebitRefused,
    RecordRefund,
    StartTransfer,
    Transfer,
    TransferCreditRefused,
    TransferDebited,
    TransferProcess,
    TransferStarted,
)
from esteach.processes import ProcessRunner, Step
from esteach.testing import given_process

ROOT = Path(__file__).resolve().parent.parent


class Bank:
    """Two accounts, a transfer processor and a runner over one store."""

    def __init__(self, store: EventStore | None = None, *, balance: int = 100) -> None:
        self.store = store or InMemoryEventStore()
        self.accounts = CommandProcessor(self.store, BankAccount, ids=SeededIds(1))
        self.transfers = CommandProcessor(self.store, Transfer, ids=SeededIds(2))
        if self.store.head_position() == 0:
            self.accounts.process_command(OpenAccount("a", "Ada"))
            self.accounts.process_command(OpenAccount("b", "Grace"))
            if balance:
                self.accounts.process_command(DepositMoney("a", balance))

    def runner(self, crash_before: type | None = None) -> ProcessRunner:
        processors: list[Any] = [self.accounts, self.transfers]
        if crash_before is not None:
            processors = [Crashing(p, crash_before) for p in processors]
        return ProcessRunner(self.store, TransferProcess(), processors)

    def transfer(self, amount: int, transfer_id: str = "t-1") -> str:
        self.transfers.process_command(StartTransfer(transfer_id, "a", "b", amount))
        self.runner().run_until_idle()
        status: str = self.transfers.load(transfer_id).status  # type: ignore[attr-defined]
        return status

    def balances(self) -> tuple[int, int]:
        a, b = self.accounts.load("a"), self.accounts.load("b")
        return a.balance, b.balance  # type: ignore[attr-defined]


def test_a_transfer_moves_the_money_and_completes() -> None:
    bank = Bank()

    assert bank.transfer(60) == "completed"
    assert bank.balances() == (40, 60)


def test_a_refused_withdrawal_fails_the_transfer_and_moves_nothing() -> None:
    bank = Bank(balance=50)

    assert bank.transfer(60) == "failed"
    assert bank.balances() == (50, 0)
    assert "cannot pay out 60 cents" in bank.transfers.load("t-1").reason  # type: ignore[attr-defined]


def test_a_refused_deposit_is_compensated_by_a_refund() -> None:
    bank = Bank()
    bank.accounts.process_command(CloseAccount("b"))

    assert bank.transfer(60) == "refunded"
    assert bank.balances() == (100, 0)
    kinds = [(e.aggregate_id, e.event_type) for e in bank.store.get_events("a")]
    assert kinds[-2:] == [("a", "MoneyWithdrawn"), ("a", "MoneyDeposited")]


def test_events_delivered_again_pay_nothing_twice() -> None:
    bank = Bank()
    bank.transfer(60)
    head = bank.store.head_position()

    for _ in range(3):  # a runner that lost its position reads the whole log again
        bank.runner().run_until_idle()

    assert bank.store.head_position() == head
    assert bank.balances() == (40, 60)


class Crash(Exception):
    """The process dies here (a test stands in for the power going out)."""


class Crashing:
    """A command processor that dies instead of sending a command of one type."""

    def __init__(self, processor: CommandProcessor[Any], crash_before: type) -> None:
        self.processor = processor
        self.aggregate_class = processor.aggregate_class
        self.crash_before = crash_before

    def process_command(self, command: Any, **kwargs: Any) -> Any:
        if isinstance(command, self.crash_before):
            raise Crash
        return self.processor.process_command(command, **kwargs)

    def load(self, aggregate_id: str) -> Any:
        return self.processor.load(aggregate_id)


@pytest.mark.parametrize(
    "crash_before",
    [RecordDebit, DepositMoney, RecordCredit],
    ids=["after-the-withdrawal", "before-the-deposit", "after-the-deposit"],
)
def test_a_runner_that_crashed_between_two_steps_finishes_on_restart(crash_before: type) -> None:
    bank = Bank()
    bank.transfers.process_command(StartTransfer("t-1", "a", "b", 60))
    with pytest.raises(Crash):
        bank.runner(crash_before).run_until_idle()

    bank.runner().run_until_idle()  # restarted: from the beginning of the log

    assert bank.transfers.load("t-1").status == "completed"  # type: ignore[attr-defined]
    assert bank.balances() == (40, 60)
    assert [e.event_type for e in bank.store.get_events("a")].count("MoneyWithdrawn") == 1


def test_a_runner_killed_between_debit_and_credit_finishes_or_refunds_after_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bank.duckdb"
    with DuckDBEventStore(path) as store:
        Bank(store).transfers.process_command(StartTransfer("t-1", "a", "b", 60))
    child = textwrap.dedent(
        f"""
        import os
        from esteach import DuckDBEventStore
        from esteach.domains.account import DepositMoney
        from tests.test_transfer_process import Bank, Crash

        bank = Bank(DuckDBEventStore({str(path)!r}))
        try:
            bank.runner(crash_before=DepositMoney).run_until_idle()
        except Crash:
            os._exit(9)  # killed: no clean-up, no flush, nothing
        """
    )
    killed = subprocess.run([sys.executable, "-c", child], cwd=ROOT, timeout=120, check=False)
    assert killed.returncode == 9

    with DuckDBEventStore(path) as store:
        bank = Bank(store)
        assert bank.transfers.load("t-1").status == "debited"  # type: ignore[attr-defined]
        assert bank.balances() == (40, 0)  # the money is in flight
        bank.runner().run_until_idle()
        assert bank.transfers.load("t-1").status == "completed"  # type: ignore[attr-defined]
        assert bank.balances() == (40, 60)


# --- the process manager's decisions, given / when / then --------------------------------------

STARTED = TransferStarted("a", "b", 60)


def test_a_started_transfer_withdraws_from_the_source() -> None:
    given_process(TransferProcess(), process_id="t-1").when(STARTED).then(
        Step(WithdrawMoney("a", 60), "t-1/debit")
    )


def test_the_sources_withdrawal_is_recorded_as_the_debit() -> None:
    given_process(TransferProcess(), STARTED, process_id="t-1").when(
        MoneyWithdrawn(60), stream="a", aggregate_type="BankAccount"
    ).then(Step(RecordDebit("t-1"), "t-1/debited"))


def test_a_debited_transfer_deposits_into_the_target() -> None:
    given_process(TransferProcess(), STARTED, process_id="t-1").when(TransferDebited()).then(
        Step(DepositMoney("b", 60), "t-1/credit")
    )


def test_the_targets_deposit_completes_the_transfer_and_a_refund_to_the_source_ends_it() -> None:
    debited = given_process(TransferProcess(), STARTED, TransferDebited(), process_id="t-1")
    debited.when(MoneyDeposited(60), stream="b").then(Step(RecordCredit("t-1"), "t-1/completed"))
    debited.when(MoneyDeposited(60), stream="a").then(Step(RecordRefund("t-1"), "t-1/refunded"))


def test_a_refused_withdrawal_records_the_failure_with_its_reason() -> None:
    error = InsufficientFunds("no money")
    given_process(TransferProcess(), STARTED, process_id="t-1").when_refused(
        Step(WithdrawMoney("a", 60), "t-1/debit"), error
    ).then(Step(RecordDebitRefused("t-1", "no money"), "t-1/failed"))


def test_a_refused_deposit_is_recorded_and_then_refunded() -> None:
    debited = given_process(TransferProcess(), STARTED, TransferDebited(), process_id="t-1")
    debited.when_refused(Step(DepositMoney("b", 60), "t-1/credit"), AccountIsClosed("closed")).then(
        Step(RecordCreditRefused("t-1", "closed"), "t-1/credit-refused")
    )
    given_process(
        TransferProcess(),
        STARTED,
        TransferDebited(),
        TransferCreditRefused("closed"),
        process_id="t-1",
    ).when(TransferCreditRefused("closed")).then(Step(DepositMoney("a", 60), "t-1/refund"))


def test_events_of_other_accounts_call_for_nothing() -> None:
    given_process(TransferProcess(), STARTED, process_id="t-1").when(
        MoneyDeposited(5), stream="c"
    ).then()


def test_a_scenario_says_what_was_decided_instead_of_what_was_expected() -> None:
    with pytest.raises(AssertionError, match=r"decided \[Step\(command=WithdrawMoney"):
        given_process(TransferProcess(), process_id="t-1").when(STARTED).then()


# --- what makes it safe: idempotent commands ----------------------------------------------------


def test_a_command_sent_twice_with_one_command_id_is_recorded_once() -> None:
    bank = Bank()

    first = bank.accounts.process_command(WithdrawMoney("a", 60), command_id="pay-1")
    again = bank.accounts.process_command(WithdrawMoney("a", 60), command_id="pay-1")

    assert again.events == first.events
    assert [e.id for e in first.events] == ["pay-1/1"]
    assert bank.balances() == (40, 0)


def test_a_command_sent_again_after_its_effect_is_not_refused_by_the_new_balance() -> None:
    bank = Bank()
    bank.accounts.process_command(WithdrawMoney("a", 100), command_id="pay-all")

    again = bank.accounts.process_command(WithdrawMoney("a", 100), command_id="pay-all")

    assert [e.event_type for e in again.events] == ["MoneyWithdrawn"]  # not InsufficientFunds


@pytest.mark.parametrize("bad", ["", " ", "x" * 201, "a\nb", 7])
def test_a_command_id_that_cannot_prefix_event_ids_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="command_id"):
        Bank().accounts.process_command(DepositMoney("a", 1), command_id=bad)


def test_a_transfer_between_one_account_and_itself_is_refused() -> None:
    with pytest.raises(DomainError, match="two different accounts"):
        Bank().transfers.process_command(StartTransfer("t-1", "a", "a", 5))


class MeddlingProcess(TransferProcess):
    """Changes the process's state while deciding: what only events may do."""

    def react(self, state: Any, event: Any) -> list[Step]:
        state.status = "meddled"
        return super().react(state, event)


def test_a_process_manager_that_changes_its_state_while_deciding_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"changed the process's state \(status\)"):
        given_process(MeddlingProcess(), process_id="t-1").when(STARTED)
