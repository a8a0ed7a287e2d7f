"""Properties of the users read model over random histories (in memory, so it stays fast).

Whatever the commands and however the log is read (page sizes, rebuilds, set-based), the read
model says what the aggregates say.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from esteach import (
    CommandProcessor,
    DomainError,
    InMemoryEventStore,
    NewEvent,
    SeededIds,
    StepClock,
)
from esteach.domains.account import (
    AccountClosed,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
)
from esteach.domains.user import (
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    User,
    UserCreated,
    UserDeactivated,
    UserEmailChanged,
    UserNameChanged,
)
from esteach.readmodels.accounts import AccountBalances
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


# --- the page form against the per-event form, over raw logs ---------------------------------
# Raw logs, not commands: the read models must agree on any log, including ones the aggregates
# would refuse (a second UserCreated, changes to a deactivated or unknown user, money moved on
# an account never opened), old-shape events that are upcast, and events of other domains.

USER_OPS = st.tuples(
    st.sampled_from(["created", "registered", "email", "name", "deactivated", "other"]),
    st.sampled_from(USER_IDS),
    st.sampled_from(["a", "b", "c"]),
)
# An int in the log: catch up there, with that page size.
USER_LOG = st.lists(st.one_of(USER_OPS, st.integers(1, 9)), max_size=40)


def user_event(kind: str, user_id: str, value: str) -> NewEvent:
    if kind == "registered":  # the first release's shape, upcast to UserCreated on reading
        data = {"id": user_id, "email": f"{value}@old.org", "full_name": value.upper()}
        return NewEvent("UserRegistered", data, aggregate_type="User")
    domain_event = {
        "created": lambda: UserCreated(user_id, f"{value}@example.com", value.title()),
        "email": lambda: UserEmailChanged(f"{value}@new.org"),
        "name": lambda: UserNameChanged(f"New {value}"),
        "deactivated": UserDeactivated,
        "other": lambda: AccountOpened(f"acc-{user_id}", value, 0),
    }[kind]()
    return NewEvent.from_domain(domain_event, "User")


class UsersEventByEvent(UserQueryModel):
    page_handlers = {}  # noqa: RUF012 - the per-event form of the same read model


def users_table(model: UserQueryModel) -> list[tuple[object, ...]]:
    return model.processor.query("SELECT * FROM users ORDER BY id")


@settings(max_examples=60, deadline=None)
@given(
    log=USER_LOG,
    page_size=st.integers(1, 9),
    seconds_per_tick=st.sampled_from([0, 1]),
)
def test_users_by_page_by_event_and_set_based_give_the_same_table(
    log: list[tuple[str, str, str] | int], page_size: int, seconds_per_tick: int
) -> None:
    clock = StepClock(datetime(2024, 1, 1, tzinfo=UTC), timedelta(seconds=seconds_per_tick))
    store = InMemoryEventStore(clock=clock, ids=SeededIds(1))
    per_event, by_page = UsersEventByEvent(store), UserQueryModel(store)
    assert not per_event.processor.page_handlers and by_page.processor.page_handlers
    for step in log:
        if isinstance(step, int):
            by_page.catch_up(step)  # pages of every size, at every moment
        else:
            kind, user_id, _ = step
            stream = f"acc-{user_id}" if kind == "other" else user_id
            store.append_events(stream, store.stream_version(stream), [user_event(*step)])
    by_page.catch_up(page_size)
    per_event.catch_up(page_size)
    expected = users_table(per_event)

    assert users_table(by_page) == expected
    assert by_page.position == per_event.position == store.head_position()
    by_page.rebuild()  # the whole log in one page
    assert users_table(by_page) == expected
    by_page.rebuild(set_based=True)
    assert users_table(by_page) == expected


ACCOUNT_OPS = st.tuples(
    st.sampled_from(["opened", "deposited", "withdrawn", "closed", "other"]),
    st.sampled_from(["acc-1", "acc-2", "acc-3"]),
    st.integers(1, 500),
)
ACCOUNT_LOG = st.lists(st.one_of(ACCOUNT_OPS, st.integers(1, 9)), max_size=40)


def account_event(kind: str, account_id: str, amount: int) -> NewEvent:
    domain_event = {
        "opened": lambda: AccountOpened(account_id, f"owner {amount % 3}", 0),
        "deposited": lambda: MoneyDeposited(amount),
        "withdrawn": lambda: MoneyWithdrawn(amount),
        "closed": AccountClosed,
        "other": lambda: UserNameChanged(f"name {amount}"),
    }[kind]()
    return NewEvent.from_domain(domain_event, "BankAccount")


class AccountsEventByEvent(AccountBalances):
    page_handlers = {}  # noqa: RUF012 - the per-event form of the same read model


@settings(max_examples=60, deadline=None)
@given(log=ACCOUNT_LOG, page_size=st.integers(1, 9))
def test_account_balances_by_page_and_by_event_give_the_same_table(
    log: list[tuple[str, str, int] | int], page_size: int
) -> None:
    store = InMemoryEventStore(ids=SeededIds(1))
    per_event, by_page = AccountsEventByEvent(store), AccountBalances(store)
    for step in log:
        if isinstance(step, int):
            by_page.catch_up(step)
        else:
            store.append_events(step[1], store.stream_version(step[1]), [account_event(*step)])
    by_page.catch_up(page_size)
    per_event.catch_up(page_size)
    query = "SELECT * FROM accounts ORDER BY account_id"
    expected = per_event.processor.query(query)

    assert by_page.processor.query(query) == expected
    by_page.rebuild()
    assert by_page.processor.query(query) == expected
