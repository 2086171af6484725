"""Use cases of the users service against an in-memory unit of work."""
import pytest

from nameko_services.common.auth import key_map, verify_access_token
from nameko_services.common.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    UnsupportedGrantType,
    UserNotFound,
)
from nameko_services.common.keys import Ed25519PrivateKey, SigningKey
from nameko_services.users import handlers
from nameko_services.users.tokens import TokenSettings

from .fakes import FakeUnitOfWork

PASSWORD = "correct horse battery"


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def tokens():
    return TokenSettings(SigningKey("access", Ed25519PrivateKey.generate()), "iss", "aud", 60, 3600)


def login(uow, tokens, password=PASSWORD):
    return handlers.issue_token(uow, tokens, {"grant_type": "password", "username": "Ada@example.com",
                                              "password": password})


def refresh(uow, tokens, token):
    return handlers.issue_token(uow, tokens, {"grant_type": "refresh_token", "refresh_token": token})


def test_registering_twice_with_the_same_email_is_refused(uow):
    handlers.register(uow, "ada@example.com", PASSWORD, "Ada")
    with pytest.raises(EmailTaken):
        handlers.register(uow, "ADA@example.com", PASSWORD, "Ada")


def test_a_password_grant_returns_a_signed_token_for_the_user(uow, tokens):
    user = handlers.register(uow, "ada@example.com", PASSWORD, "Ada")
    response = login(uow, tokens)
    principal = verify_access_token(response["access_token"], key_map([tokens.key.public_key]),
                                    issuer="iss", audience="aud")
    assert principal.user_id == user.id and response["refresh_token"]


def test_a_wrong_password_is_an_invalid_grant(uow, tokens):
    handlers.register(uow, "ada@example.com", PASSWORD, "Ada")
    with pytest.raises(InvalidGrant):
        login(uow, tokens, password="not the password")


def test_a_refresh_rotates_and_a_replayed_token_revokes_the_family(uow, tokens):
    handlers.register(uow, "ada@example.com", PASSWORD, "Ada")
    first = login(uow, tokens)["refresh_token"]
    second = refresh(uow, tokens, first)["refresh_token"]
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, first)
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, second)


def test_unknown_grant_types_and_missing_parameters_are_refused(uow, tokens):
    with pytest.raises(UnsupportedGrantType):
        handlers.issue_token(uow, tokens, {"grant_type": "client_credentials"})
    with pytest.raises(InvalidRequest):
        handlers.issue_token(uow, tokens, {})
    with pytest.raises(InvalidRequest):
        handlers.issue_token(uow, tokens, {"grant_type": "refresh_token"})


def test_changing_the_password_needs_the_current_one_and_revokes_refresh_tokens(uow, tokens):
    user = handlers.register(uow, "ada@example.com", PASSWORD, "Ada")
    token = login(uow, tokens)["refresh_token"]
    with pytest.raises(InvalidCredentials):
        handlers.change_password(uow, user.id, "wrong", "another good secret")
    handlers.change_password(uow, user.id, PASSWORD, "another good secret")
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, token)


def test_ensure_admin_grants_admin_once_and_keeps_the_password(uow, tokens):
    first = handlers.ensure_admin(uow, "ada@example.com", PASSWORD, "Ada")
    again = handlers.ensure_admin(uow, "ada@example.com", "other password 123", "Ada")
    assert first.id == again.id and again.roles == ("customer", "admin")
    assert login(uow, tokens)["access_token"]


def test_profile_changes_for_a_missing_user_are_not_found(uow):
    with pytest.raises(UserNotFound):
        handlers.update_profile(uow, "missing", {"name": "x"})
