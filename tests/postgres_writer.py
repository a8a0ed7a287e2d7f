"""A writer process for tests/test_postgres_processes.py: appends to PostgreSQL, then exits.

    python tests/postgres_writer.py URL SCHEMA WRITER COUNT START_AT

Waits until the wall clock reaches START_AT (so every writer starts together), then appends
COUNT events: event i goes to its own stream ``own-WRITER`` at version i, and to the shared
stream ``shared``, whose version it must win against the other writers (reload and retry on
`WrongExpectedVersion`). Prints ``done CONFLICTS`` at the end.
"""

from __future__ import annotations

import sys
import time

from esteach import NewEvent, WrongExpectedVersion
from esteach.store.postgres import PostgresEventStore


def main(url: str, schema: str, writer: str, count: int, start_at: float) -> None:
    conflicts = 0
    with PostgresEventStore(url, schema=schema) as store:
        time.sleep(max(0.0, start_at - time.time()))
        for i in range(count):
            data = {"writer": writer, "seq": i}
            store.append_events(f"own-{writer}", i, [NewEvent("Written", data)])
            while True:
                version = store.stream_version("shared")
                try:
                    store.append_events("shared", version, [NewEvent("Shared", data)])
                    break
                except WrongExpectedVersion:
                    conflicts += 1
    print(f"done {conflicts}", flush=True)


if __name__ == "__main__":
    url, schema, writer, count, start_at = sys.argv[1:]
    main(url, schema, writer, int(count), float(start_at))
