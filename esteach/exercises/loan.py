"""A library loan: the small domain of exercise 1.4 (notebook 01), where the learner models the
events themselves.

`LoanBase` holds the state a loan's events set, and works out what follows from that state; it
leaves the events and ``apply_event`` to the learner. There are no commands: the exercise is the
model (what happened, and what each fact says), and the replay that rebuilds a loan from it.

State, which ``apply_event`` sets: ``member_id`` and ``book_id`` (``""`` until borrowed),
``due_on`` and ``returned_on`` (ISO dates such as ``"2025-03-24"``, since event data is JSON;
``None`` until known) and ``fines_cents`` (the total of the fines, in whole cents). Worked out
by the base, read-only: ``is_returned``, ``days_late`` and ``returned_late``. That is why no
event needs to say that a return was late: its day and the due date say it.

>>> loan = LoanBase("loan-1")
>>> loan.due_on, loan.returned_on = "2025-03-24", "2025-03-27"
>>> loan.is_returned, loan.returned_late, loan.days_late
(True, True, 3)
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from esteach.aggregate import Aggregate
from esteach.errors import InvalidCommand

__all__ = ["LOAN_DAYS", "LOAN_STATE", "LoanBase"]

LOAN_DAYS: Final = 21
"""A book is due back three weeks after it is borrowed."""

LOAN_STATE: Final = ("member_id", "book_id", "due_on", "returned_on", "fines_cents")
"""The attributes ``apply_event`` sets, in the order the story sets them."""


class LoanBase(Aggregate):
    """A loan's state, and what follows from it; subclasses add ``apply_event`` (exercise 1.4)."""

    aggregate_type = "Loan"  # the stream's type for every subclass: yours and the reference

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.member_id = ""  # who borrowed the book
        self.book_id = ""  # which book
        self.due_on: str | None = None  # when it is due back: an ISO date, "2025-03-24"
        self.returned_on: str | None = None  # the day it came back, None while it is out
        self.fines_cents = 0  # the total of every fine charged, in whole cents

    @property
    def is_returned(self) -> bool:
        """Whether the book came back: worked out from ``returned_on``."""
        return self.returned_on is not None

    @property
    def days_late(self) -> int:
        """How many days after the due date the book came back (0 if on time, or still out)."""
        if self.returned_on is None or self.due_on is None:
            return 0
        late = date.fromisoformat(self.returned_on) - date.fromisoformat(self.due_on)
        return max(late.days, 0)

    @property
    def returned_late(self) -> bool:
        """Whether the return was late: its day and the due date say it, no event has to."""
        return self.days_late > 0

    def handle_command(self, command: Any) -> Any:
        raise InvalidCommand(
            "a LoanBase decides no commands: exercise 1.4 is about the events and apply_event"
        )

    def apply_event(self, event: Any) -> None:
        raise NotImplementedError(
            "LoanBase leaves apply_event to you (exercise 1.4): define it in your Loan class"
        )
