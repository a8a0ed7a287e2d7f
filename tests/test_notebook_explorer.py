"""The time-travel explorer widget, driven without a browser: set the slider, read the view."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from esteach import (
    CommandProcessor,
    DuckDBEventStore,
    EventStore,
    InMemoryEventStore,
    InvalidInput,
    SeededIds,
    StepClock,
    load_sample,
    state_at,
)
from esteach.domains.account import BankAccount, OpenAccount
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User
from esteach.notebook.explorer import TimeTravelExplorer, explore, explorer_text

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "duckdb-memory"])
def store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    """Ada's five events, with Bob's and an account's between them.

    version  event
    1        UserCreated ada@example.com / Ada
    2        UserEmailChanged ada@analytical.engine
    3        UserNameChanged Ada Lovelace
    4        UserEmailChanged ada@lovelace.org
    5        UserDeactivated
    """
    clock = StepClock(START, timedelta(days=1))
    made: EventStore
    if request.param == "memory":
        made = InMemoryEventStore(clock=clock, ids=SeededIds(0))
    else:
        made = DuckDBEventStore(":memory:", clock=clock, ids=SeededIds(0))
    users = CommandProcessor(made, User, ids=SeededIds(1))
    users.process_command(CreateUser("ada", "ada@example.com", "Ada"))
    users.process_command(CreateUser("bob", "bob@example.com", "Bob"))
    users.process_command(ChangeEmail("ada", "ada@analytical.engine"))
    CommandProcessor(made, BankAccount, ids=SeededIds(2)).process_command(
        OpenAccount("acc-1", "ada")
    )
    users.process_command(ChangeName("ada", "Ada Lovelace"))
    users.process_command(ChangeEmail("ada", "ada@lovelace.org"))
    users.process_command(DeactivateUser("ada"))
    yield made
    made.close()


def shown(explorer: TimeTravelExplorer) -> str:
    """The view's HTML as the reader sees it: tags dropped, entities decoded."""
    inline = re.sub(r"</?(b|code)>", "", explorer.view.value)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def highlighted_fields(explorer: TimeTravelExplorer) -> list[str]:
    """The fields whose table row carries the highlight style."""
    rows = re.findall(
        r'<tr style="background-color[^"]*"><td[^>]*>([^<]*)</td>', explorer.view.value
    )
    return [html.unescape(row) for row in rows]


def test_moving_the_slider_shows_that_versions_state(store: EventStore) -> None:
    explorer = explore(store, User, "ada")

    explorer.slider.value = 3

    text = shown(explorer)
    assert "'ada', version 3 of 5: UserNameChanged" in text
    assert "'Ada Lovelace'" in text
    assert "'ada@analytical.engine'" in text
    assert "'ada@lovelace.org'" not in text  # the email of version 4 is still in the future
    assert explorer.version == 3
    assert explorer.text.startswith("User 'ada', version 3 of 5: UserNameChanged at ")


def test_every_version_shows_what_state_at_rebuilds(store: EventStore) -> None:
    explorer = explore(store, User, "ada")

    for version in [4, 0, 5, 1, 2, 3]:
        explorer.slider.value = version
        expected = state_at(store, User, "ada", version=version)
        assert f"version {version} of 5" in shown(explorer)
        assert f"  email: {expected.email!r}" in explorer.text
        assert f"  status: {expected.status!r}" in explorer.text
        assert explorer.text == explorer_text(store, User, "ada", version)


def test_the_fields_the_event_changed_are_highlighted(store: EventStore) -> None:
    explorer = explore(store, User, "ada", version=1)
    assert highlighted_fields(explorer) == ["email", "name", "status"]

    explorer.slider.value = 2
    assert highlighted_fields(explorer) == ["email"]
    assert "was 'ada@example.com'" in shown(explorer)

    explorer.slider.value = 5
    assert highlighted_fields(explorer) == ["status"]


def test_it_starts_at_the_latest_version(store: EventStore) -> None:
    explorer = explore(store, User, "ada")

    assert (explorer.slider.min, explorer.slider.max, explorer.slider.value) == (0, 5, 5)
    assert (explorer.play.min, explorer.play.max) == (0, 5)
    assert "version 5 of 5: UserDeactivated" in shown(explorer)
    assert "'deactivated'" in shown(explorer)


def test_play_at_the_last_version_starts_again_from_version_zero(store: EventStore) -> None:
    explorer = explore(store, User, "ada")

    explorer.play.playing = True

    assert (explorer.slider.value, explorer.play.value) == (0, 0)
    assert "version 0 of 5" in shown(explorer)


def test_play_elsewhere_continues_from_where_the_slider_is(store: EventStore) -> None:
    explorer = explore(store, User, "ada", version=2)

    explorer.play.playing = True

    assert explorer.slider.value == 2


def test_version_zero_is_the_user_before_they_existed(store: EventStore) -> None:
    explorer = explore(store, User, "ada")

    explorer.slider.value = 0

    text = shown(explorer)
    assert "version 0 of 5: before the first event; it does not exist yet" in text
    assert "'ada@example.com'" not in text
    assert highlighted_fields(explorer) == []
    assert explorer.text.startswith("User 'ada', version 0 of 5: before the first event")


def test_the_store_is_read_once_not_on_every_slider_move(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    explorer = explore(store, User, "ada")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the explorer read the store again")

    monkeypatch.setattr(store, "get_events", refuse)
    for version in range(6):
        explorer.slider.value = version
    assert "version 5 of 5" in explorer.html(5)


def test_an_empty_stream_says_there_is_nothing_to_travel_through(store: EventStore) -> None:
    explorer = explore(store, User, "nobody")

    assert explorer.slider.max == 0
    assert explorer.slider.disabled
    assert "User 'nobody' has no events yet" in shown(explorer)
    assert explorer_text(store, User, "nobody", 0) == (
        "User 'nobody', version 0 of 0: the stream has no events yet; nothing has happened."
    )


def test_a_stream_of_another_aggregate_type_is_refused_clearly(store: EventStore) -> None:
    message = (
        r"stream 'acc-1' holds BankAccount events, not User events: .*"
        r"explore\(store, BankAccount, 'acc-1'\)"
    )
    with pytest.raises(InvalidInput, match=message):
        explore(store, User, "acc-1")
    with pytest.raises(InvalidInput, match=message):
        explorer_text(store, User, "acc-1", 1)


def test_the_right_aggregate_type_explores_that_stream(store: EventStore) -> None:
    explorer = explore(store, BankAccount, "acc-1")

    assert explorer.text.startswith("BankAccount 'acc-1', version 1 of 1: AccountOpened")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: explore(s, object, "ada"), "must be an Aggregate subclass"),
        (lambda s: explore(s, User, "ada", version=6), "cannot start at version 6"),
        (lambda s: explore(s, User, "ada", version=-1), "cannot start at version -1"),
        (lambda s: explorer_text(s, User, "ada", 6), "there is no version 6"),
    ],
)
def test_bad_arguments_say_what_is_wrong(
    store: EventStore, call: Callable[[EventStore], object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        call(store)


def test_its_text_repr_is_short_and_the_same_every_time(store: EventStore) -> None:
    explorer = explore(store, User, "ada")

    assert repr(explorer) == "TimeTravelExplorer(User 'ada', versions 0 to 5)"
    assert explorer._repr_mimebundle_()["text/plain"] == repr(explorer)


def test_old_schema_sign_ups_are_shown_upcast() -> None:
    sample = InMemoryEventStore()
    load_sample(sample)
    [old_id] = [
        e.aggregate_id for e in sample.read_all(limit=200) if e.event_type == "UserRegistered"
    ][:1]

    explorer = explore(sample, User, old_id, version=1)

    assert "version 1 of " in explorer.text
    assert ": UserCreated at " in explorer.text
    assert "UserRegistered" not in shown(explorer)


def test_import_esteach_does_not_import_ipywidgets() -> None:
    code = "import sys, esteach; print('ipywidgets' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
