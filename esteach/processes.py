"""Process managers: turn events into commands, so one business process spans several aggregates.

An aggregate keeps one stream consistent; a money transfer touches two accounts and must
never pay twice nor lose money half way. A **process manager** follows the log and, for each
event that concerns a process, decides which commands to send next: withdraw, then deposit,
and refund when the deposit is refused. Its decisions are pure functions of the event and of
the process's own state (an aggregate of its own, with its own stream), so they are tested like
an aggregate's: given the process's history, when an event arrives, then these steps.

Two things make it safe to run again and again (a redelivered event, a restart after a crash
in the middle):

* every `Step` names a ``command_id``, made from the process id and the step (``"t-1/debit"``):
  `CommandProcessor.process_command` answers a command id it has seen with the events the first
  one recorded, so a step sent twice pays once;
* the runner tags every command with the process id as ``correlation_id``, so the events the
  commands cause lead back to their process.

A refused command is not an event: the runner hands the error to `ProcessManager.refused`,
which may answer with steps of its own (compensation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from esteach.aggregate import Aggregate
from esteach.checks import check_int
from esteach.commands import Command
from esteach.errors import DomainError, InvalidInput
from esteach.events import Event
from esteach.processor import CommandProcessor, CommandResult
from esteach.store.base import EventStore

__all__ = ["ProcessManager", "ProcessRunner", "Step"]


@dataclass(frozen=True)
class Step:
    """One command a process sends, with the id that makes sending it twice harmless."""

    command: Command
    command_id: str


class ProcessManager(ABC):
    """Decides the next steps of a process from events. Subclass it; keep both methods pure.

    ``process`` is the aggregate class that keeps each process's state in its own stream;
    ``process_id(event)`` says which process an event belongs to (``None``: none).
    """

    process: ClassVar[type[Aggregate]]

    def process_id(self, event: Event) -> str | None:
        """The process an event belongs to: its own stream's id, else the correlation id."""
        if event.aggregate_type == self.process.aggregate_type:
            return event.aggregate_id
        return event.metadata.correlation_id

    @abstractmethod
    def react(self, state: Any, event: Event) -> list[Step]:
        """The steps to take now that ``event`` happened; ``state`` is the process's aggregate
        (version 0 if it does not exist). Pure: no I/O, no clock."""

    def refused(self, state: Any, step: Step, error: DomainError) -> list[Step]:
        """The steps to take when ``step``'s command was refused (by default: none)."""
        return []


class ProcessRunner:
    """Runs a `ProcessManager` over a store's log: reads events in order, sends the steps.

    ``processors`` are the command processors the steps go to, one per aggregate class; a
    step goes to the one whose aggregate handles its command. ``position`` is how far the
    runner has read; a runner made anew starts again from ``from_position`` (0: the
    beginning) and sends nothing twice, since every step carries its command id.
    """

    def __init__(
        self,
        store: EventStore,
        manager: ProcessManager,
        processors: Iterable[CommandProcessor[Any]],
        *,
        from_position: int = 0,
    ) -> None:
        if not isinstance(manager, ProcessManager):
            raise InvalidInput(f"manager must be a ProcessManager, got {manager!r:.60}")
        self.store = store
        self.manager = manager
        self.processors = list(processors)
        self.position = check_int(from_position, "from_position", 0)
        self.sent: list[tuple[Step, CommandResult | DomainError]] = []
        own = [p for p in self.processors if p.aggregate_class is manager.process]
        self._states = own[0] if own else CommandProcessor(store, manager.process)

    def catch_up(self, limit: int | None = None) -> int:
        """Handle the events after `position` (at most ``limit``); return how many were read."""
        read = 0
        for event in self.store.read_all(self.position + 1, limit):
            self.handle(event)
            self.position = event.global_position
            read += 1
        return read

    def run_until_idle(self, max_rounds: int = 100) -> int:
        """Catch up until no step causes a new event; return the events read in all."""
        total = 0
        for _ in range(check_int(max_rounds, "max_rounds", 1)):
            read = self.catch_up()
            if not read:
                return total
            total += read
        return total

    def handle(self, event: Event) -> None:
        """Send the steps one event calls for (and the steps any refusal calls for)."""
        process_id = self.manager.process_id(event)
        if process_id is None:
            return
        state = self._states.load(process_id)
        self._send(self.manager.react(state, event), process_id, event, depth=0)

    def _send(self, steps: Sequence[Step], process_id: str, cause: Event, depth: int) -> None:
        if depth > 10:
            raise InvalidInput(f"process {process_id!r}: refusals answered by refusals, 10 deep")
        for step in steps:
            processor = self._processor_for(step.command)
            try:
                result = processor.process_command(
                    step.command,
                    command_id=step.command_id,
                    correlation_id=process_id,
                    causation_id=cause.id,
                )
            except DomainError as error:
                self.sent.append((step, error))
                state = self._states.load(process_id)
                self._send(self.manager.refused(state, step, error), process_id, cause, depth + 1)
            else:
                self.sent.append((step, result))

    def _processor_for(self, command: Command) -> CommandProcessor[Any]:
        for processor in [*self.processors, self._states]:
            types = processor.aggregate_class.command_types
            if types and isinstance(command, types):
                return processor
        raise InvalidInput(
            f"no processor handles {type(command).__name__}: give the runner a "
            f"CommandProcessor for the aggregate that does"
        )
