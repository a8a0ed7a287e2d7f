"""Placeholder: DuckDBEventStore is being written."""


class DuckDBEventStore:  # pragma: no cover
    pass
