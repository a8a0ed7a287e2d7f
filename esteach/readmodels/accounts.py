"""The account balances read model: the ``accounts`` table projected from `BankAccount` events.

Deposits and withdrawals are increments, which are not idempotent on their own: the checkpoint,
written in the same transaction, is what guarantees each event is applied once. Catch-up takes
a page of account events at a time (`on_account_events`: two statements per page).

>>> from esteach import CommandProcessor, InMemoryEventStore
>>> from esteach.domains.account import BankAccount, DepositMoney, OpenAccount
>>> store = InMemoryEventStore()
>>> accounts = CommandProcessor(store, BankAccount)
>>> _ = accounts.process_command(OpenAccount("acc-1", "ada"))
>>> _ = accounts.process_command(DepositMoney("acc-1", 500))
>>> model = AccountBalances(store)
>>> model.catch_up(), model.get_balance("acc-1")
(2, 500)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import duckdb

from esteach.checks import check_page
from esteach.domains.account import CLOSED, OPEN
from esteach.duck import registered
from esteach.errors import InvalidInput
from esteach.events import Event
from esteach.projections import Handler, PageHandler, Projection

__all__ = ["ACCOUNTS_SCHEMA", "AccountBalances", "AccountView", "on_account_events"]


ACCOUNTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id      VARCHAR PRIMARY KEY,
    owner           VARCHAR NOT NULL,
    balance         BIGINT  NOT NULL,   -- cents; negative while overdrawn
    status          VARCHAR NOT NULL,   -- 'open' or 'closed'
    transactions    BIGINT  NOT NULL,   -- deposits and withdrawals
    deposited       BIGINT  NOT NULL,   -- cents deposited, in total
    opened_position BIGINT  NOT NULL    -- global position of AccountOpened: newest first
);
"""
UPSERT_ACCOUNT = "INSERT OR REPLACE INTO accounts VALUES (?, ?, 0, ?, 0, 0, ?)"
# Increments are not idempotent on their own: applied twice, a deposit counts twice. The
# checkpoint, written in the same transaction, is what guarantees each event is applied once.
DEPOSIT = """
UPDATE accounts SET balance = balance + ?, deposited = deposited + ?,
                    transactions = transactions + 1
WHERE account_id = ?
"""
WITHDRAW = """
UPDATE accounts SET balance = balance - ?, transactions = transactions + 1 WHERE account_id = ?
"""
CLOSE_ACCOUNT = "UPDATE accounts SET status = ? WHERE account_id = ?"

ACCOUNT_COLUMNS = "account_id, owner, balance, status, transactions"
GET_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?"
LIST_ACCOUNTS = (
    f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY opened_position DESC LIMIT ? OFFSET ?"
)
TOTAL_DEPOSITS = "SELECT CAST(coalesce(sum(deposited), 0) AS BIGINT) FROM accounts"


def on_account_opened(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(
        UPSERT_ACCOUNT, [event.aggregate_id, event.data["owner"], OPEN, event.global_position]
    )


def on_money_deposited(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    amount = event.data["amount"]
    conn.execute(DEPOSIT, [amount, amount, event.aggregate_id])


def on_money_withdrawn(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(WITHDRAW, [event.data["amount"], event.aggregate_id])


def on_account_closed(conn: duckdb.DuckDBPyConnection, event: Event) -> None:
    conn.execute(CLOSE_ACCOUNT, [CLOSED, event.aggregate_id])


# The page form: a page's account events staged as the table PAGE_VIEW, then two statements.
PAGE_VIEW = "esteach_account_page"
ACCOUNT_EVENTS = ("AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "AccountClosed")
_MOVES = """
    coalesce(sum(CASE event_type WHEN 'MoneyDeposited' THEN amount
                                 WHEN 'MoneyWithdrawn' THEN -amount END), 0) AS delta,
    count(*) FILTER (WHERE event_type IN ('MoneyDeposited', 'MoneyWithdrawn')) AS moves,
    coalesce(sum(amount) FILTER (WHERE event_type = 'MoneyDeposited'), 0) AS deposits,
    bool_or(event_type = 'AccountClosed') AS closed"""
# Accounts (re)opened in the page: the upsert resets the row, then the events after it count.
ACCOUNTS_OPENED_IN_PAGE = f"""
INSERT OR REPLACE INTO accounts
WITH opened AS (
    SELECT account_id, max(position) AS opened_position
    FROM {PAGE_VIEW} WHERE event_type = 'AccountOpened' GROUP BY account_id
), folded AS (
    SELECT account_id, arg_max(owner, position) FILTER (WHERE owner IS NOT NULL) AS owner,
           min(position) AS opened_position, {_MOVES}
    FROM {PAGE_VIEW} p JOIN opened o USING (account_id)
    WHERE p.position >= o.opened_position GROUP BY account_id
)
SELECT account_id, owner, delta, CASE WHEN closed THEN ? ELSE ? END, moves, deposits,
       opened_position
FROM folded
"""
# Accounts only moved or closed in the page: the increments summed, on the existing row.
ACCOUNTS_CHANGED_IN_PAGE = f"""
UPDATE accounts SET balance = accounts.balance + changes.delta,
                    deposited = accounts.deposited + changes.deposits,
                    transactions = accounts.transactions + changes.moves,
                    status = CASE WHEN changes.closed THEN ? ELSE accounts.status END
FROM (
    SELECT account_id, {_MOVES} FROM {PAGE_VIEW}
    GROUP BY account_id HAVING NOT bool_or(event_type = 'AccountOpened')
) AS changes
WHERE accounts.account_id = changes.account_id
"""


def on_account_events(conn: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> None:
    """The page form of the four handlers above: a page's account events in two statements."""
    import pandas as pd

    page = pd.DataFrame(
        {
            "position": pd.Series([e.global_position for e in events], dtype="int64"),
            "account_id": pd.Series([e.aggregate_id for e in events], dtype=object),
            "event_type": pd.Series([e.event_type for e in events], dtype=object),
            "owner": pd.Series(
                [e.data["owner"] if e.event_type == "AccountOpened" else None for e in events],
                dtype=object,
            ),
            "amount": pd.Series(
                [e.data["amount"] if e.event_type in _MOVED else 0 for e in events],
                dtype="int64",
            ),
        }
    )
    with registered(conn, PAGE_VIEW, page):
        conn.execute(ACCOUNTS_OPENED_IN_PAGE, [CLOSED, OPEN])
        conn.execute(ACCOUNTS_CHANGED_IN_PAGE, [CLOSED])


_MOVED = frozenset({"MoneyDeposited", "MoneyWithdrawn"})


@dataclass(frozen=True, slots=True)
class AccountView:
    """One row of the account balances read model. Amounts are integer cents."""

    account_id: str
    owner: str
    balance: int
    status: str
    transactions: int


class AccountBalances(Projection):
    """Balances of the ``BankAccount`` domain: ``get_balance``, ``total_deposits``, a list."""

    name = "account_balances"
    schema = ACCOUNTS_SCHEMA
    tables = ("accounts",)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "AccountOpened": on_account_opened,
        "MoneyDeposited": on_money_deposited,
        "MoneyWithdrawn": on_money_withdrawn,
        "AccountClosed": on_account_closed,
    }
    page_handlers: ClassVar[Mapping[str, PageHandler]] = dict.fromkeys(
        ACCOUNT_EVENTS, on_account_events
    )

    def get_account(self, account_id: str) -> AccountView | None:
        if not isinstance(account_id, str):
            raise InvalidInput(f"account_id must be a str, got {account_id!r:.40}")
        rows = self.processor.query(GET_ACCOUNT, [account_id])
        return AccountView(*rows[0]) if rows else None

    def get_balance(self, account_id: str) -> int | None:
        """The balance in cents; ``None`` for an account this model has not seen opened."""
        account = self.get_account(account_id)
        return None if account is None else account.balance

    def total_deposits(self) -> int:
        """Cents deposited into all accounts, ever (withdrawals not subtracted)."""
        return int(self.processor.query(TOTAL_DEPOSITS)[0][0])

    def list_accounts(self, page: int = 1, page_size: int = 20) -> list[AccountView]:
        """One page of accounts, most recently opened first."""
        limit, offset = check_page(page, page_size)
        return [AccountView(*row) for row in self.processor.query(LIST_ACCOUNTS, [limit, offset])]
