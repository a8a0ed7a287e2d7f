"""Given / when / then for aggregates: state the history, the command, and what must follow.

>>> from esteach.domains.user import ChangeEmail, UserCreated, UserEmailChanged
>>> given(UserCreated("u-1", "ada@example.com", "Ada")).when(
...     ChangeEmail("u-1", "ada@lovelace.org")
... ).then(UserEmailChanged("ada@lovelace.org"))
Scenario(User 'u-1': given 1 event, when ChangeEmail, then 1 event)

The scenario also checks the aggregate's manners: ``handle_command`` must not change state (only
events may), and every event it decides must apply cleanly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from esteach.aggregate import Aggregate
from esteach.commands import Command
from esteach.decider import Decider, aggregate_class_of
from esteach.determinism import SeededIds
from esteach.errors import DomainError, InvalidInput
from esteach.events import DomainEvent, Event, EventMetadata
from esteach.processes import ProcessManager, Step

__all__ = ["ProcessScenario", "Scenario", "changed_by", "given", "given_process", "user_stream"]

T = TypeVar("T")

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def changed_by(aggregate: object, action: Callable[[], T]) -> tuple[T, list[str]]:
    """Run ``action``; return its result and the names of ``aggregate``'s attributes it
    changed, private ones too (a decision must change nothing at all).

    >>> from esteach.domains.user import User
    >>> user = User("u-1")
    >>> changed_by(user, lambda: setattr(user, "email", "x@example.com"))
    (None, ['email'])
    """
    before = copy.deepcopy(vars(aggregate))
    result = action()
    after = vars(aggregate)
    return result, sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))


def _all_aggregates(cls: type[Aggregate] = Aggregate) -> list[type[Aggregate]]:
    found: list[type[Aggregate]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_aggregates(sub))
    return found


def _aggregate_for(command: Command) -> type[Aggregate]:
    matches = [
        cls
        for cls in _all_aggregates()
        if cls.command_types
        and isinstance(command, cls.command_types)
        and "_decider" not in vars(cls)  # a decider is tested when it is named
    ]
    # A subclass (say, a test's variant of User) handles the same commands as its base: the
    # base is the aggregate meant.
    matches = [
        cls for cls in matches if not any(cls is not o and issubclass(cls, o) for o in matches)
    ]
    if len(matches) != 1:
        names = ", ".join(cls.__name__ for cls in matches) or "none"
        raise InvalidInput(
            f"cannot tell which aggregate handles {type(command).__name__} (candidates: {names}); "
            f"pass it: given(..., aggregate=YourAggregate)"
        )
    return matches[0]


class Scenario:
    """One given / when / then check; build it with `given`."""

    def __init__(
        self, history: list[DomainEvent], aggregate: type[Aggregate] | Decider[Any] | None
    ) -> None:
        self.history = history
        self.aggregate_class = None if aggregate is None else aggregate_class_of(aggregate)
        self.command: Command | None = None
        self.aggregate: Aggregate | None = None
        self._outcome: list[DomainEvent] | BaseException | None = None

    def when(self, command: Command) -> Scenario:
        """Rebuild the aggregate from the history and hand it ``command``."""
        self.command = command
        cls = self.aggregate_class or _aggregate_for(command)
        self.aggregate_class = cls
        aggregate_id = command.target_id
        envelopes = _envelopes(self.history, aggregate_id, cls.aggregate_type)
        aggregate = self.aggregate = cls.load_from_events(envelopes, aggregate_id)

        def decide() -> list[DomainEvent] | Exception:
            try:
                return list(aggregate.handle_command(command))
            except Exception as exc:  # the outcome under test: then_raises inspects it
                return exc

        self._outcome, changed = changed_by(aggregate, decide)
        if changed:
            raise AssertionError(
                f"handle_command({type(command).__name__}) changed the aggregate's state "
                f"({', '.join(changed)}) without an event: decide in handle_command, change "
                f"state only in apply_event"
            )
        return self

    def then(self, *expected: DomainEvent) -> Scenario:
        """Assert the command decided exactly ``expected`` (none: it must decide nothing)."""
        outcome = self._require_outcome()
        if isinstance(outcome, BaseException):
            raise AssertionError(
                f"expected events {list(expected)!r}, but {type(self.command).__name__} raised "
                f"{type(outcome).__name__}: {outcome}"
            ) from outcome
        if outcome != list(expected):
            raise AssertionError(
                f"{type(self.command).__name__} decided {outcome!r}, expected {list(expected)!r}"
            )
        assert self.aggregate is not None
        for event in outcome:  # every decided event must apply cleanly
            try:
                self.aggregate.apply_event(event)
            except Exception as exc:
                raise AssertionError(
                    f"{type(self.command).__name__} decided {event!r}, but apply_event cannot "
                    f"apply it: {type(exc).__name__}: {exc}"
                ) from exc
        return self

    def then_raises(self, error: type[BaseException], match: str | None = None) -> Scenario:
        """Assert the command was rejected with ``error`` (and ``match`` in its message)."""
        outcome = self._require_outcome()
        if not isinstance(outcome, BaseException):
            raise AssertionError(
                f"expected {error.__name__}, but {type(self.command).__name__} decided {outcome!r}"
            )
        if not isinstance(outcome, error):
            raise AssertionError(
                f"expected {error.__name__}, but got {type(outcome).__name__}: {outcome}"
            ) from outcome
        if match is not None and match not in str(outcome):
            raise AssertionError(
                f"{type(outcome).__name__} message {str(outcome)!r} lacks {match!r}"
            )
        return self

    def _require_outcome(self) -> list[DomainEvent] | BaseException:
        if self._outcome is None:
            raise AssertionError("call .when(command) before .then(...)")
        return self._outcome

    def __repr__(self) -> str:
        name = self.aggregate_class.__name__ if self.aggregate_class else "?"
        target = repr(self.command.target_id) if self.command else "?"
        parts = [
            f"{name} {target}: given {len(self.history)} event{'s' * (len(self.history) != 1)}"
        ]
        if self.command is not None:
            parts.append(f"when {type(self.command).__name__}")
        if isinstance(self._outcome, BaseException):
            parts.append(f"then {type(self._outcome).__name__}")
        elif self._outcome is not None:
            n = len(self._outcome)
            parts.append(f"then {n} event{'s' * (n != 1)}")
        return f"Scenario({', '.join(parts)})"


def given(*history: DomainEvent | Iterable[DomainEvent], aggregate: Any = None) -> Scenario:
    """Start a scenario from past domain events (as arguments or one list); none: a new one."""
    flat: list[DomainEvent] = []
    for item in history:
        if isinstance(item, DomainEvent):
            flat.append(item)
        else:
            flat.extend(item)
    return Scenario(flat, aggregate)


def _envelopes(
    history: Iterable[DomainEvent],
    aggregate_id: str,
    aggregate_type: str,
    first: int = 1,
    correlation_id: str | None = None,
) -> list[Event]:
    """Domain events as the recorded events of one stream, from version ``first`` on."""
    return [
        Event(
            id=f"given-{aggregate_id}-{i}",
            aggregate_id=aggregate_id,
            aggregate_type=aggregate_type,
            event_type=event.event_type,
            version=i,
            timestamp=_EPOCH,
            data=event.to_data(),
            metadata=EventMetadata(
                correlation_id=correlation_id, schema_version=event.schema_version
            ),
            global_position=i,
        )
        for i, event in enumerate(history, start=first)
    ]


# --- process managers ---------------------------------------------------------------------------


class ProcessScenario:
    """Given a process's own history, when an event arrives (or a step is refused), then these
    steps. Build it with `given_process`."""

    def __init__(
        self, manager: ProcessManager, history: list[DomainEvent], process_id: str
    ) -> None:
        self.manager = manager
        self.process_id = process_id
        self.history = history
        self.state = self._state(history)
        self._steps: list[Step] | None = None
        self._what = ""

    def when(
        self, event: DomainEvent, *, stream: str | None = None, aggregate_type: str = ""
    ) -> ProcessScenario:
        """``event`` arrives: of the process's own stream (no ``stream``: the state then
        includes it, as it does when a runner loads it), or of ``stream``, caused by this
        process (its correlation id is the process id)."""
        if stream is None:
            self.state = self._state([*self.history, event])
            [envelope] = _envelopes(
                [event],
                self.process_id,
                self.manager.process.aggregate_type,
                self.state.version,
                self.process_id,
            )
        else:
            [envelope] = _envelopes([event], stream, aggregate_type, 1, self.process_id)
        self._what = f"{event.event_type} of {envelope.aggregate_id!r}"
        return self._decide(lambda state: self.manager.react(state, envelope))

    def _state(self, history: list[DomainEvent]) -> Any:
        kind = self.manager.process.aggregate_type
        envelopes = _envelopes(history, self.process_id, kind)
        return self.manager.process.load_from_events(envelopes, self.process_id)

    def when_refused(self, step: Step, error: DomainError) -> ProcessScenario:
        """``step``'s command was refused with ``error``."""
        self._what = f"{type(step.command).__name__} refused"
        return self._decide(lambda state: self.manager.refused(state, step, error))

    def then(self, *expected: Step) -> ProcessScenario:
        """Assert exactly these steps were decided, in this order (none: nothing to do)."""
        if self._steps is None:
            raise AssertionError("call .when(event) or .when_refused(step, error) first")
        if self._steps != list(expected):
            raise AssertionError(
                f"after {self._what}: decided {self._steps!r}, expected {list(expected)!r}"
            )
        return self

    def __repr__(self) -> str:
        name = type(self.manager).__name__
        n = len(self.history)
        parts = [f"{name} {self.process_id!r}: given {n} event{'s' * (n != 1)}"]
        if self._what:
            parts.append(f"when {self._what}")
        if self._steps is not None:
            parts.append(f"then {len(self._steps)} step{'s' * (len(self._steps) != 1)}")
        return f"ProcessScenario({', '.join(parts)})"

    def _decide(self, decide: Any) -> ProcessScenario:
        steps, changed = changed_by(self.state, lambda: list(decide(self.state)))
        if changed:
            raise AssertionError(
                f"the process manager changed the process's state ({', '.join(changed)}) while "
                f"deciding after {self._what}: only events may change it"
            )
        self._steps = steps
        return self


def given_process(
    manager: ProcessManager, *history: DomainEvent, process_id: str = "process-1"
) -> ProcessScenario:
    """Start a process manager scenario from the process's own past events.

    >>> from esteach.domains.transfer import TransferProcess, TransferStarted
    >>> from esteach.domains.account import WithdrawMoney
    >>> from esteach.processes import Step
    >>> given_process(TransferProcess(), process_id="t-1").when(
    ...     TransferStarted("a", "b", 60)
    ... ).then(Step(WithdrawMoney("a", 60), "t-1/debit"))  # doctest: +ELLIPSIS
    ProcessScenario(TransferProcess 't-1': given 0 events, when ..., then 1 step)
    """
    return ProcessScenario(manager, list(history), process_id)


# --- test data ----------------------------------------------------------------------------------


def user_stream(length: int, *, user_id: str = "user-1", seed: int = 0) -> list[Event]:
    """One ``User`` stream of ``length`` recorded events: created, then renamed again and again.

    The events are made directly (ids from ``SeededIds(seed)``, one second apart), not by
    ``length`` commands, so a 100,000-event stream is ready in well under a second for
    ``bulk_import``.

    >>> [(e.version, e.event_type) for e in user_stream(3)]
    [(1, 'UserCreated'), (2, 'UserNameChanged'), (3, 'UserNameChanged')]
    """
    if length < 1:
        raise InvalidInput(f"a stream needs at least 1 event, got length={length}")
    ids = SeededIds(seed)
    created = Event(
        id=ids(),
        aggregate_id=user_id,
        aggregate_type="User",
        event_type="UserCreated",
        version=1,
        timestamp=_EPOCH,
        data={"user_id": user_id, "email": "ada@example.com", "name": "Ada 1"},
    )
    renames = [
        Event(
            id=ids(),
            aggregate_id=user_id,
            aggregate_type="User",
            event_type="UserNameChanged",
            version=version,
            timestamp=_EPOCH + timedelta(seconds=version - 1),
            data={"new_name": f"Ada {version}"},
        )
        for version in range(2, length + 1)
    ]
    return [created, *renames]
