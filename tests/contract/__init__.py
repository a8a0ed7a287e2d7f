"""Contract tests: one suite of promises that every event store must keep, run against each."""
