"""Catch-up speed of ``UserQueryModel``: per-event handlers against the set-based rebuild.

    python benchmarks/projections.py [--events N] [--stores memory,duckdb] [--skip-per-event]

Loads a sample log of N user events (a quarter ``UserCreated``, the rest email, name and
deactivation changes to random users) into each store with ``bulk_import``, then times

* ``read_all``: reading the whole log, which both paths must do;
* ``per-event``: ``model.catch_up()``, one DuckDB statement per event, 1,000 events per
  transaction;
* ``set-based``: ``model.rebuild(set_based=True)``, the events gathered in a DataFrame and
  folded by one ``INSERT ... SELECT``;

and checks that both paths give the same ``users`` table. Prints events per second.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

import pandas  # noqa: F401  (imported here so its import time is not counted below)

import esteach.domains.user  # noqa: F401  (registers the User events)
from esteach import DuckDBEventStore, Event, EventMetadata, EventStore, InMemoryEventStore, registry
from esteach.readmodels.users import UserQueryModel


def sample(n: int, seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    events: list[Event] = []
    versions: dict[str, int] = {}
    users: list[str] = []
    for i in range(n):
        if not users or rng.random() < 0.25:
            user = f"user-{len(users):06d}"
            users.append(user)
            kind, data = (
                "UserCreated",
                {"user_id": user, "email": f"{user}@example.com", "name": user},
            )
        else:
            user, r = rng.choice(users), rng.random()
            if r < 0.45:
                kind, data = "UserEmailChanged", {"new_email": f"{user}.{i}@example.com"}
            elif r < 0.9:
                kind, data = "UserNameChanged", {"new_name": f"Name {i}"}
            else:
                kind, data = "UserDeactivated", {}
        versions[user] = versions.get(user, 0) + 1
        metadata = EventMetadata(schema_version=registry.get(kind).schema_version)
        timestamp = start + timedelta(milliseconds=i)
        events.append(Event(f"e{i}", user, "User", kind, versions[user], timestamp, data, metadata))
    return events


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds:>10,.0f} events/s  ({seconds:6.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--stores", default="memory,duckdb")
    parser.add_argument("--skip-per-event", action="store_true")
    args = parser.parse_args()
    log = sample(args.events)
    for kind in args.stores.split(","):
        store: EventStore = InMemoryEventStore() if kind == "memory" else DuckDBEventStore()
        store.bulk_import(log)
        print(f"{kind} store, {store.head_position():,} events")
        started = time.perf_counter()
        store.read_all()
        print(f"  read_all   {rate(args.events, time.perf_counter() - started)}")
        model = UserQueryModel(store)
        per_event = None
        if not args.skip_per_event:
            started = time.perf_counter()
            applied = model.catch_up()
            print(f"  per-event  {rate(applied, time.perf_counter() - started)}")
            per_event = model.processor.query("SELECT * FROM users ORDER BY id")
        started = time.perf_counter()
        applied = model.rebuild(set_based=True)
        print(f"  set-based  {rate(applied, time.perf_counter() - started)}")
        if per_event is not None:
            same = model.processor.query("SELECT * FROM users ORDER BY id") == per_event
            print(f"  same users table both ways: {same} ({model.count_users():,} users)")
        store.close()


if __name__ == "__main__":
    main()
