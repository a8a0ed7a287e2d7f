"""Commands: what a caller asks an aggregate to do, as small frozen dataclasses.

A command is named in the imperative (``ChangeEmail``) and carries the id of the aggregate it
addresses. It is a request, not a fact: the aggregate may refuse it. Field types are checked
when a command is made, so a wrong type fails early and clearly.

>>> from esteach.domains.user import ChangeEmail
>>> ChangeEmail("ada", "ada@example.com").target_id
'ada'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from esteach.checks import check_aggregate_id, check_field_types
from esteach.errors import InvalidCommand, InvalidInput

__all__ = ["Command"]


@dataclass(frozen=True)
class Command:
    """Base class of commands: frozen dataclasses in the imperative (``ChangeEmail``).

    ``id_field`` names the field that holds the id of the aggregate the command addresses.
    Field types are checked when the command is made, so a wrong type fails early and clearly.
    """

    id_field: ClassVar[str] = "aggregate_id"

    def __post_init__(self) -> None:
        check_field_types(self, InvalidCommand)
        try:
            check_aggregate_id(getattr(self, self.id_field))
        except InvalidInput as exc:
            raise InvalidCommand(f"{type(self).__name__}.{self.id_field}: {exc}") from None

    @property
    def target_id(self) -> str:
        """The id of the aggregate this command addresses (its stream id)."""
        value: str = getattr(self, self.id_field)
        return value
