"""Every rule of the ``User`` aggregate, stated as given / when / then."""

from __future__ import annotations

import pytest

from esteach import AggregateNotFound, InvalidCommand, given
from esteach.domains.user import (
    ACTIVE,
    DEACTIVATED,
    MAX_NAME_LENGTH,
    ChangeEmail,
    ChangeName,
    CreateUser,
    DeactivateUser,
    InvalidEmail,
    InvalidName,
    User,
    UserAlreadyDeactivated,
    UserAlreadyExists,
    UserCreated,
    UserDeactivated,
    UserEmailChanged,
    UserNameChanged,
    UserNotActive,
    UserNotFound,
)

CREATED = UserCreated("u-1", "ada@example.com", "Ada")
DEACTIVATED_HISTORY = [CREATED, UserDeactivated()]

INVALID_EMAILS = [
    "",
    "ada",
    "ada@",
    "@example.com",
    "ada@example",
    "ada@@example.com",
    "ada@exa@mple.com",
    "ada lovelace@example.com",
    "ada@exa mple.com",
    " ada@example.com",
    "ada@example.com ",
    "ada@example.com\n",
    "ada@example.",
    "ada@.com",
    "a" * 250 + "@example.com",
]
BAD_NAMES = ["", " ", "\t\n", " " * 10, "x" * (MAX_NAME_LENGTH + 1)]


# --- rule 1: CreateUser ----------------------------------------------------------------------


def test_a_new_user_is_created_with_the_id_the_caller_chose() -> None:
    given().when(CreateUser("u-1", "ada@example.com", "Ada")).then(CREATED)


def test_a_created_user_is_active_with_its_email_and_name() -> None:
    scenario = given(CREATED).when(ChangeName("u-1", "Ada"))
    assert scenario.aggregate is not None
    assert scenario.aggregate.state() == {
        "aggregate_id": "u-1",
        "version": 1,
        "email": "ada@example.com",
        "name": "Ada",
        "status": ACTIVE,
    }


def test_creating_a_user_twice_is_rejected() -> None:
    given(CREATED).when(CreateUser("u-1", "bob@example.com", "Bob")).then_raises(
        UserAlreadyExists, "'u-1' already exists"
    )


def test_creating_a_deactivated_user_again_is_rejected_as_already_existing() -> None:
    given(DEACTIVATED_HISTORY).when(CreateUser("u-1", "ada@example.com", "Ada")).then_raises(
        UserAlreadyExists
    )


def test_existence_is_checked_before_the_email() -> None:
    given(CREATED).when(CreateUser("u-1", "not-an-email", "Ada")).then_raises(UserAlreadyExists)


@pytest.mark.parametrize("email", INVALID_EMAILS)
def test_a_user_cannot_be_created_with_an_invalid_email(email: str) -> None:
    given().when(CreateUser("u-1", email, "Ada")).then_raises(InvalidEmail, "not a valid email")


@pytest.mark.parametrize(
    "email", ["a@b.co", "ada.lovelace+notes@mail.example.org", "x" * 60 + "@example.com"]
)
def test_a_user_can_be_created_with_an_unusual_but_valid_email(email: str) -> None:
    given().when(CreateUser("u-1", email, "Ada")).then(UserCreated("u-1", email, "Ada"))


@pytest.mark.parametrize("name", BAD_NAMES, ids=["empty", "space", "tab-newline", "spaces", "long"])
def test_a_user_cannot_be_created_with_a_blank_or_too_long_name(name: str) -> None:
    given().when(CreateUser("u-1", "ada@example.com", name)).then_raises(InvalidName)


def test_a_name_of_exactly_the_maximum_length_is_accepted() -> None:
    name = "x" * MAX_NAME_LENGTH
    given().when(CreateUser("u-1", "ada@example.com", name)).then(
        UserCreated("u-1", "ada@example.com", name)
    )


def test_the_invalid_name_message_says_the_limit_and_the_length() -> None:
    given().when(CreateUser("u-1", "ada@example.com", "x" * 250)).then_raises(
        InvalidName, f"at most {MAX_NAME_LENGTH} characters, got 250"
    )


# --- rule 2: ChangeEmail ---------------------------------------------------------------------


def test_an_active_user_changes_email() -> None:
    given(CREATED).when(ChangeEmail("u-1", "ada@lovelace.org")).then(
        UserEmailChanged("ada@lovelace.org")
    )


def test_changing_the_email_to_the_same_value_records_nothing() -> None:
    given(CREATED).when(ChangeEmail("u-1", "ada@example.com")).then()


def test_changing_back_to_the_email_before_last_is_a_change() -> None:
    given(CREATED, UserEmailChanged("ada@lovelace.org")).when(
        ChangeEmail("u-1", "ada@example.com")
    ).then(UserEmailChanged("ada@example.com"))


def test_the_same_email_after_a_change_records_nothing() -> None:
    given(CREATED, UserEmailChanged("ada@lovelace.org")).when(
        ChangeEmail("u-1", "ada@lovelace.org")
    ).then()


def test_changing_the_email_of_a_user_who_never_existed_says_not_found() -> None:
    scenario = given().when(ChangeEmail("u-9", "ada@lovelace.org"))
    scenario.then_raises(UserNotFound, "'u-9' does not exist")
    scenario.then_raises(AggregateNotFound)  # the family a caller can catch for any aggregate


def test_changing_the_email_of_a_deactivated_user_is_rejected() -> None:
    given(DEACTIVATED_HISTORY).when(ChangeEmail("u-1", "ada@lovelace.org")).then_raises(
        UserNotActive, "deactivated"
    )


def test_a_deactivated_user_is_rejected_even_for_the_same_email() -> None:
    given(DEACTIVATED_HISTORY).when(ChangeEmail("u-1", "ada@example.com")).then_raises(
        UserNotActive
    )


def test_not_found_is_checked_before_the_email() -> None:
    given().when(ChangeEmail("u-1", "not-an-email")).then_raises(UserNotFound)


@pytest.mark.parametrize("email", INVALID_EMAILS)
def test_an_invalid_new_email_is_rejected(email: str) -> None:
    given(CREATED).when(ChangeEmail("u-1", email)).then_raises(InvalidEmail)


# --- rule 2: ChangeName ----------------------------------------------------------------------


def test_an_active_user_changes_name() -> None:
    given(CREATED).when(ChangeName("u-1", "Ada Lovelace")).then(UserNameChanged("Ada Lovelace"))


def test_changing_the_name_to_the_same_value_records_nothing() -> None:
    given(CREATED).when(ChangeName("u-1", "Ada")).then()


def test_the_same_name_after_a_change_records_nothing() -> None:
    given(CREATED, UserNameChanged("Countess")).when(ChangeName("u-1", "Countess")).then()


def test_changing_the_name_of_a_user_who_never_existed_says_not_found() -> None:
    given().when(ChangeName("u-1", "Ada")).then_raises(UserNotFound, "CreateUser first")


def test_changing_the_name_of_a_deactivated_user_is_rejected() -> None:
    given(DEACTIVATED_HISTORY).when(ChangeName("u-1", "Countess")).then_raises(UserNotActive)


@pytest.mark.parametrize("name", BAD_NAMES, ids=["empty", "space", "tab-newline", "spaces", "long"])
def test_a_blank_or_too_long_new_name_is_rejected(name: str) -> None:
    given(CREATED).when(ChangeName("u-1", name)).then_raises(InvalidName)


# --- rule 3: DeactivateUser ------------------------------------------------------------------


def test_an_active_user_is_deactivated() -> None:
    given(CREATED).when(DeactivateUser("u-1")).then(UserDeactivated())


def test_a_user_with_changes_is_deactivated() -> None:
    scenario = given(CREATED, UserEmailChanged("a@b.co"), UserNameChanged("A")).when(
        DeactivateUser("u-1")
    )
    scenario.then(UserDeactivated())
    assert scenario.aggregate is not None  # then() applied the decided event
    assert scenario.aggregate.state()["status"] == DEACTIVATED


def test_deactivating_a_user_who_never_existed_says_not_found() -> None:
    given().when(DeactivateUser("u-1")).then_raises(UserNotFound)


def test_deactivating_twice_is_rejected() -> None:
    given(DEACTIVATED_HISTORY).when(DeactivateUser("u-1")).then_raises(
        UserAlreadyDeactivated, "already deactivated"
    )


# --- a command for another user --------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        CreateUser("u-2", "bob@example.com", "Bob"),
        ChangeEmail("u-2", "bob@example.com"),
        ChangeName("u-2", "Bob"),
        DeactivateUser("u-2"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_command_for_another_user_is_rejected(command: object) -> None:
    user = User.load_from_events([], "u-1")
    with pytest.raises(InvalidCommand, match="is for 'u-2', but this User is 'u-1'"):
        user.handle_command(command)  # type: ignore[arg-type]
    assert user.version == 0 and user.status is None


def test_the_scenario_builds_the_aggregate_under_the_commands_id() -> None:
    scenario = given().when(CreateUser("u-7", "ada@example.com", "Ada"))
    assert scenario.aggregate is not None
    assert scenario.aggregate.aggregate_id == "u-7"


# --- malformed commands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: CreateUser(1, "ada@example.com", "Ada"), "CreateUser.user_id"),  # type: ignore[arg-type]
        (lambda: CreateUser("u-1", None, "Ada"), "CreateUser.email"),  # type: ignore[arg-type]
        (lambda: CreateUser("u-1", "ada@example.com", b"Ada"), "CreateUser.name"),  # type: ignore[arg-type]
        (lambda: ChangeEmail("u-1", ["a@b.co"]), "ChangeEmail.new_email"),  # type: ignore[arg-type]
        (lambda: ChangeEmail(None, "a@b.co"), "ChangeEmail.user_id"),  # type: ignore[arg-type]
        (lambda: ChangeName("u-1", 42), "ChangeName.new_name"),  # type: ignore[arg-type]
        (lambda: ChangeName("u-1", True), "ChangeName.new_name"),  # type: ignore[arg-type]
        (lambda: DeactivateUser(7), "DeactivateUser.user_id"),  # type: ignore[arg-type]
    ],
)
def test_a_field_of_the_wrong_type_is_an_invalid_command_naming_the_field(
    make: object, field: str
) -> None:
    with pytest.raises(InvalidCommand, match=rf"^{field} must be str, got "):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("blank", ["", " ", "\t", "   \n"])
@pytest.mark.parametrize(
    "command_class", [CreateUser, ChangeEmail, ChangeName, DeactivateUser], ids=lambda c: c.__name__
)
def test_an_empty_or_blank_user_id_is_an_invalid_command_naming_the_field(
    command_class: type, blank: str
) -> None:
    extra = {
        CreateUser: ("ada@example.com", "Ada"),
        ChangeEmail: ("ada@example.com",),
        ChangeName: ("Ada",),
        DeactivateUser: (),
    }[command_class]
    with pytest.raises(InvalidCommand, match=rf"^{command_class.__name__}\.user_id: .*blank"):
        command_class(blank, *extra)


def test_an_invalid_command_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        DeactivateUser("")


def test_a_missing_field_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        ChangeName("u-1")  # type: ignore[call-arg]
