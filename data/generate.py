"""Regenerate data/sample_events.jsonl, byte for byte: python data/generate.py [--check]

The sample log tells twelve weeks (from Monday 2024-01-01) of a small service:

* about 600 users sign up, some change their email or name, some leave (deactivate);
* about 225 of them open a bank account and deposit and withdraw money (integer cents);
* users who signed up in the first three weeks were recorded by the first release, which
  called the event ``UserRegistered`` with ``id`` and ``full_name``: those events are kept in
  that old shape (schema version 1), and esteach upcasts them to ``UserCreated`` on read.

Every command goes through esteach's ``CommandProcessor``, so the log obeys every rule. The
random generator, clock and ids are seeded: the same script writes the same bytes. ``--check``
compares instead of writing (the test suite runs it).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from esteach import CommandProcessor, DomainError, Event, InMemoryEventStore, SeededIds
from esteach.commands import Command
from esteach.domains.account import BankAccount, DepositMoney, OpenAccount, WithdrawMoney
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User
from esteach.eventlog import SAMPLE_LOG, write_jsonl

SEED = 2024
START = datetime(2024, 1, 1, tzinfo=UTC)
WEEKS = 12
USERS = 600
FIRST_RELEASE_UNTIL = START + timedelta(weeks=3)

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
         "Tim", "Margaret", "John", "Katherine", "Dennis", "Hedy", "Linus", "Anita", "Guido",
         "Joan", "Niklaus", "Sophie", "Bjarne", "Adele", "Leslie", "Mary", "Yukihiro"]  # fmt: skip
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Perlman", "Berners-Lee", "Hamilton", "Backus", "Johnson", "Ritchie", "Lamarr",
        "Torvalds", "Borg", "van Rossum", "Clarke", "Wirth", "Wilson", "Stroustrup",
        "Goldberg", "Lamport", "Keller", "Matsumoto"]  # fmt: skip
DOMAINS = ["example.com", "example.org", "mail.example", "post.example"]


class ScriptClock:
    """A clock the script sets to each command's time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def email_for(rng: random.Random, name: str, n: int) -> str:
    local = name.lower().replace(" ", ".").replace("-", "")
    return f"{local}{n}@{rng.choice(DOMAINS)}"


def schedule(rng: random.Random) -> list[tuple[datetime, Command]]:
    """Every command of the twelve weeks, with the time it is sent."""
    span = timedelta(weeks=WEEKS).total_seconds()
    commands: list[tuple[datetime, Command]] = []

    def at(start: datetime, fraction_left: float) -> datetime:
        rest = (START + timedelta(seconds=span) - start).total_seconds()
        return start + timedelta(seconds=int(rng.random() * rest * fraction_left) + 60)

    for i in range(USERS):
        user = f"user-{i:04d}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        joined = START + timedelta(seconds=int(rng.random() * span * 0.9))
        commands.append((joined, CreateUser(user, email_for(rng, name, i), name)))
        when = joined
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            when = at(when, 0.5)
            commands.append((when, ChangeEmail(user, email_for(rng, name, i + 1000))))
        if rng.random() < 0.25:
            when = at(when, 0.5)
            new_name = f"{name.split()[0]} {rng.choice(LAST)}"
            commands.append((when, ChangeName(user, new_name)))
        if rng.random() < 0.1:
            commands.append((at(when, 0.8), DeactivateUser(user)))
        if rng.random() < 0.375:
            account = f"account-{i:04d}"
            opened = at(joined, 0.2)
            limit = rng.choice([0, 0, 0, 10_000, 50_000])
            commands.append((opened, OpenAccount(account, user, limit)))
            when = opened
            for _ in range(rng.randint(1, 16)):
                when = at(when, 0.3)
                amount = rng.randint(1, 500) * 100
                move = DepositMoney if rng.random() < 0.6 else WithdrawMoney
                commands.append((when, move(account, amount)))
    commands.sort(key=lambda item: item[0])
    return commands


def first_release_shape(event: Event) -> Event:
    """A ``UserCreated`` as the first release wrote it: ``UserRegistered {id, full_name}``."""
    data = {"id": event.data["user_id"], "email": event.data["email"],
            "full_name": event.data["name"]}  # fmt: skip
    metadata = dataclasses.replace(event.metadata, schema_version=1, source="release-1")
    return dataclasses.replace(event, event_type="UserRegistered", data=data, metadata=metadata)


def generate() -> list[Event]:
    rng = random.Random(SEED)
    clock = ScriptClock()
    store = InMemoryEventStore(clock=clock, ids=SeededIds(SEED))
    processors: dict[type, CommandProcessor[User] | CommandProcessor[BankAccount]] = {
        User: CommandProcessor(store, User, ids=SeededIds(SEED + 1), source="signup-service"),
        BankAccount: CommandProcessor(
            store, BankAccount, ids=SeededIds(SEED + 2), source="bank-service"
        ),
    }
    rejected = 0
    for when, command in schedule(rng):
        clock.now = when
        handler = processors[User if type(command).__module__.endswith("user") else BankAccount]
        try:
            handler.process_command(command, user_id=f"staff-{rng.randint(1, 5)}")
        except DomainError:
            rejected += 1  # a withdrawal beyond the limit, a change after leaving: not recorded
    events = store.read_all()
    return [
        first_release_shape(e)
        if e.event_type == "UserCreated" and e.timestamp < FIRST_RELEASE_UNTIL
        else e
        for e in events
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=SAMPLE_LOG)
    args = parser.parse_args(argv)
    events = generate()
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            fresh = Path(scratch) / "sample_events.jsonl"
            write_jsonl(events, fresh)
            same = args.out.exists() and fresh.read_bytes() == args.out.read_bytes()
        print(f"{args.out}: {'up to date' if same else 'OUT OF DATE: run python data/generate.py'}")
        return 0 if same else 1
    count = write_jsonl(events, args.out)
    print(f"wrote {count} events to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
