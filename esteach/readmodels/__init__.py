"""The read models esteach ships, each beside the domain whose events it projects.

* `esteach.readmodels.users`: `UserQueryModel`, the users table of the `User` domain;
* `esteach.readmodels.accounts`: `AccountBalances`, balances of the `BankAccount` domain.
"""

from esteach.readmodels.accounts import AccountBalances, AccountView
from esteach.readmodels.users import UserQueryModel, UserView

__all__ = ["AccountBalances", "AccountView", "UserQueryModel", "UserView"]
