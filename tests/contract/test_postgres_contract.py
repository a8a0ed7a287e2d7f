"""The unchanged store contracts, run against PostgreSQL (one server per test session).

Each store gets a schema of its own, so the tests stay as independent as with a fresh file.
"""

from __future__ import annotations

import pytest
from pgtesting import fresh_schema

from contract.test_event_store_contract import EventStoreContract
from contract.test_snapshot_store_contract import SnapshotStoreContract
from esteach import Clock, EventStore, IdFactory
from esteach.snapshots import SnapshotStore
from esteach.store.postgres import PostgresEventStore, PostgresSnapshotStore


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_url: str) -> None:
        self.url = postgres_url
        self.opened_with: dict[int, tuple[str, Clock, IdFactory]] = {}

    def make_store(self, clock: Clock, ids: IdFactory) -> EventStore:
        return self._open(fresh_schema(), clock, ids)

    def reopen(self, store: EventStore) -> EventStore:
        schema, clock, ids = self.opened_with[id(store)]
        store.close()
        return self._open(schema, clock, ids)

    def _open(self, schema: str, clock: Clock, ids: IdFactory) -> EventStore:
        store: EventStore = PostgresEventStore(self.url, schema=schema, clock=clock, ids=ids)
        self.opened_with[id(store)] = (schema, clock, ids)
        return store


class TestPostgresSnapshotStore(SnapshotStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_url: str) -> None:
        self.url = postgres_url
        self.schema = fresh_schema()

    def make_store(self) -> SnapshotStore:
        return PostgresSnapshotStore(self.url, schema=self.schema)

    def reopen(self, store: SnapshotStore) -> SnapshotStore:
        store.close()  # type: ignore[attr-defined]
        return self.make_store()
