"""Properties of the users read model over random histories (in memory, so it stays fast).

Whatever the commands and however the log is read (page sizes, rebuilds, set-based), the read
model says what the aggregates say.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from esteach import CommandProcessor, DomainError, InMemoryEventStore, SeededIds, StepClock
from esteach.domains.user import ChangeEmail, ChangeName, CreateUser, DeactivateUser, User
from esteach.readmodels.users import UserQueryModel

USER_IDS = ["ada", "bob", "cy", "dee"]

commands = st.one_of(
    st.builds(
        CreateUser,
        st.sampled_from(USER_IDS),
        st.sampled_from(["a@example.com", "b@example.com"]),
        st.sampled_from(["Ada", "Bob"]),
    ),
    st.builds(ChangeEmail, st.sampled_from(USER_IDS), st.sampled_from(["x@y.org", "z@y.org"])),
    st.builds(ChangeName, st.sampled_from(USER_IDS), st.sampled_from(["New", "Newer"])),
    st.builds(DeactivateUser, st.sampled_from(USER_IDS)),
)


@settings(max_examples=25, deadline=None)
@given(
    history=st.lists(commands, max_size=25),
    batch_size=st.integers(1, 7),
    seconds_per_tick=st.sampled_from([0, 1]),  # 0: every event at the same instant
)
def test_every_way_of_building_the_users_model_agrees_with_the_aggregates(
    history: list[CreateUser | ChangeEmail | ChangeName | DeactivateUser],
    batch_size: int,
    seconds_per_tick: int,
) -> None:
    clock = StepClock(datetime(2024, 1, 1, tzinfo=UTC), timedelta(seconds=seconds_per_tick))
    store = InMemoryEventStore(clock=clock, ids=SeededIds(1))
    users = CommandProcessor(store, User, ids=SeededIds(2))
    model = UserQueryModel(store)
    for command in history:
        with contextlib.suppress(DomainError):  # a refused command records nothing
            users.process_command(command)
        if command.user_id == "cy":  # read in between, sometimes
            model.catch_up(batch_size)
    model.catch_up(batch_size)
    incremental = model.processor.query("SELECT * FROM users ORDER BY id")

    for user_id in USER_IDS:
        user, view = users.load(user_id), model.get_user(user_id)
        if user.version == 0:
            assert view is None
        else:
            assert view is not None
            assert (view.email, view.name, view.status) == (user.email, user.name, user.status)

    model.rebuild()
    assert model.processor.query("SELECT * FROM users ORDER BY id") == incremental
    model.rebuild(set_based=True)
    assert model.processor.query("SELECT * FROM users ORDER BY id") == incremental
    assert model.lag() == 0
