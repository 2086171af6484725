"""Use cases of the users service against an in-memory unit of work."""
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.auth import Principal, key_map, verify_access_token
from nameko_services.common.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    NotAuthenticated,
    PermissionDenied,
    UnauthorizedClient,
    UnsupportedGrantType,
    UserNotFound,
    WeakPassword,
)
from nameko_services.common.keys import Ed25519PrivateKey, SigningKey
from nameko_services.users import handlers
from nameko_services.users.tokens import TokenSettings, hash_refresh_token

from .fakes import FakeUnitOfWork

PASSWORD = "correct horse battery"
ADMIN = Principal(user_id="00000000-0000-4000-8000-00000000ad01", roles=("customer", "admin"))


def as_user(user_id):
    return Principal(user_id=user_id, roles=("customer",))


def passwords(current, new):
    return lambda: {"current_password": current, "new_password": new}


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def tokens():
    return TokenSettings(SigningKey("access", Ed25519PrivateKey.generate()), "iss", "aud", 60, 3600)


@pytest.fixture
def ada(uow):
    return handlers.register(uow, "Ada@Example.com", PASSWORD, "  Ada ")


def login(uow, tokens, username="ada@example.com", password=PASSWORD, **extra):
    return handlers.issue_token(uow, tokens, {"grant_type": "password", "username": username,
                                              "password": password, **extra})


def refresh(uow, tokens, token, **extra):
    return handlers.issue_token(uow, tokens, {"grant_type": "refresh_token", "refresh_token": token,
                                              **extra})


def stored(uow, refresh_token):
    return uow.refresh_tokens.lock_by_hash(hash_refresh_token(refresh_token))


def claims(tokens, response):
    return verify_access_token(response["access_token"], key_map([tokens.key.public_key]),
                               issuer="iss", audience="aud")


def test_a_new_account_is_a_customer_with_a_normalised_email_and_trimmed_name(ada):
    assert (ada.email, ada.name, ada.roles) == ("ada@example.com", "Ada", ("customer",))
    assert ada.password_hash.startswith("$argon2id$") and ada.created_at is not None


def test_registering_twice_with_the_same_email_in_another_case_is_refused(uow, ada):
    with pytest.raises(EmailTaken):
        handlers.register(uow, " ADA@example.COM", PASSWORD, "Ada")


def test_a_weak_password_stores_nothing(uow):
    with pytest.raises(WeakPassword):
        handlers.register(uow, "bob@example.com", "bob-password-1", "Bob")
    assert uow.users.rows == {}


def test_a_password_grant_returns_an_oauth_response_with_a_signed_access_token(uow, tokens, ada):
    response = login(uow, tokens, username=" ADA@example.com")
    assert response["token_type"] == "Bearer" and response["expires_in"] == 60
    assert response["scope"] == "shop"
    principal = claims(tokens, response)
    assert principal.user_id == ada.id and principal.roles == ("customer",)


def test_refresh_tokens_are_stored_only_as_hashes(uow, tokens, ada):
    response = login(uow, tokens)
    [row] = uow.refresh_tokens.rows.values()
    assert row.token_hash == hash_refresh_token(response["refresh_token"])
    assert response["refresh_token"] not in repr(row)


def test_a_wrong_password_and_an_unknown_user_get_the_same_error_after_a_verification(
        uow, tokens, ada, monkeypatch):
    verified = []
    real = handlers.verify_password
    monkeypatch.setattr(handlers, "verify_password", lambda h, p: verified.append(h) or real(h, p))
    with pytest.raises(InvalidGrant) as wrong:
        login(uow, tokens, password="not the password")
    with pytest.raises(InvalidGrant) as unknown:
        login(uow, tokens, username="nobody@example.com")
    assert str(wrong.value) == str(unknown.value) == handlers.BAD_LOGIN
    assert verified == [ada.password_hash, None]  # None: checked against the dummy hash


def test_a_disabled_account_gets_no_tokens_by_password_or_refresh(uow, tokens, ada):
    token = login(uow, tokens)["refresh_token"]
    uow.users.update(replace(ada, disabled_at=datetime.now(UTC)))
    with pytest.raises(InvalidGrant):
        login(uow, tokens)
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, token)


def test_a_refresh_spends_the_token_and_issues_its_successor_in_the_same_family(uow, tokens, ada):
    first = login(uow, tokens)["refresh_token"]
    second = refresh(uow, tokens, first)
    old, new = stored(uow, first), stored(uow, second["refresh_token"])
    assert old.used_at is not None and new.used_at is None
    assert (new.family_id, new.expires_at) == (old.family_id, old.expires_at)
    assert claims(tokens, second).user_id == ada.id


def test_a_replayed_token_revokes_the_whole_family_for_good(uow, tokens, ada):
    first = login(uow, tokens)["refresh_token"]
    other_family = login(uow, tokens)["refresh_token"]
    second = refresh(uow, tokens, first)["refresh_token"]
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, first)
    # The revocation was committed, not rolled back with the error.
    assert stored(uow, second).revoked_at is not None
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, second)
    assert refresh(uow, tokens, other_family)["access_token"]


def test_a_family_ends_at_its_absolute_lifetime_however_often_it_was_rotated(uow, tokens, ada):
    token = refresh(uow, tokens, login(uow, tokens)["refresh_token"])["refresh_token"]
    row = stored(uow, token)
    uow.refresh_tokens.save(replace(row, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, token)


def test_signing_in_deletes_the_users_expired_families_only(uow, tokens, ada):
    expired = login(uow, tokens)["refresh_token"]
    live = login(uow, tokens)["refresh_token"]
    row = stored(uow, expired)
    uow.refresh_tokens.save(replace(row, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    login(uow, tokens)
    assert stored(uow, expired) is None and stored(uow, live) is not None
    assert len(uow.refresh_tokens.rows) == 2


def test_refreshing_for_a_deleted_user_is_an_invalid_grant(uow, tokens, ada):
    token = login(uow, tokens)["refresh_token"]
    del uow.users.rows[ada.id]
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, token)


def test_a_scope_may_be_narrowed_but_not_widened(uow, tokens, ada):
    assert login(uow, tokens, scope="shop")["scope"] == "shop"
    with pytest.raises(InvalidScope):
        login(uow, tokens, scope="shop admin")
    token = login(uow, tokens)["refresh_token"]
    with pytest.raises(InvalidScope):
        refresh(uow, tokens, token, scope="admin")
    assert stored(uow, token).used_at is None  # a refused refresh spends nothing


def test_unknown_grant_types_and_missing_parameters_are_refused(uow, tokens):
    with pytest.raises(UnsupportedGrantType):
        handlers.issue_token(uow, tokens, {"grant_type": "implicit"})
    with pytest.raises(UnauthorizedClient):  # the first-party frontend is no machine client
        handlers.issue_token(uow, tokens, {"grant_type": "client_credentials"})
    with pytest.raises(InvalidRequest):
        handlers.issue_token(uow, tokens, {})
    with pytest.raises(InvalidRequest):
        handlers.issue_token(uow, tokens, {"grant_type": "password", "username": "a@b.c"})
    with pytest.raises(InvalidRequest):
        handlers.issue_token(uow, tokens, {"grant_type": "refresh_token", "refresh_token": 5})


def test_revoking_a_token_ends_its_family_and_unknown_tokens_are_fine(uow, tokens, ada):
    first = login(uow, tokens)["refresh_token"]
    second = refresh(uow, tokens, first)["refresh_token"]
    handlers.revoke_token(uow, first)
    handlers.revoke_token(uow, "never issued")
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, second)


def test_changing_the_password_needs_the_current_one_and_revokes_refresh_tokens(uow, tokens, ada):
    token = login(uow, tokens)["refresh_token"]
    with pytest.raises(InvalidCredentials):
        handlers.change_password(uow, as_user(ada.id), passwords("wrong", "another good secret"))
    with pytest.raises(WeakPassword):
        handlers.change_password(uow, as_user(ada.id), passwords(PASSWORD, "short"))
    assert refresh(uow, tokens, token)["access_token"]  # refusals changed nothing
    token = login(uow, tokens)["refresh_token"]
    handlers.change_password(uow, as_user(ada.id), passwords(PASSWORD, "another good secret"))
    with pytest.raises(InvalidGrant):
        refresh(uow, tokens, token)
    with pytest.raises(InvalidGrant):
        login(uow, tokens)
    assert login(uow, tokens, password="another good secret")["access_token"]


def test_a_profile_update_changes_only_the_given_fields(uow, ada):
    address = {"name": "Ada Lovelace", "line1": "1 Main St", "line2": None, "city": "Berlin",
               "region": None, "postal_code": "10115", "country": "DE", "phone": None}
    updated = handlers.update_profile(uow, as_user(ada.id), lambda: {"shipping_address": address})
    assert (updated.name, updated.shipping_address) == ("Ada", address)
    renamed = handlers.update_profile(uow, as_user(ada.id), lambda: {"name": " Ada L. "})
    assert renamed.shipping_address == address
    assert handlers.get_me(uow, as_user(ada.id)).name == "Ada L."


def test_a_missing_user_is_not_found(uow):
    with pytest.raises(UserNotFound):
        handlers.update_profile(uow, as_user("missing"), lambda: {"name": "x"})
    with pytest.raises(UserNotFound):
        handlers.get_user(uow, ADMIN, "not-a-uuid")
    with pytest.raises(UserNotFound):
        handlers.set_roles(uow, ADMIN, "missing", lambda: {"roles": ["admin"]})


def test_roles_are_replaced_but_customer_is_kept(uow, ada):
    assert handlers.set_roles(uow, ADMIN, ada.id, lambda: {"roles": ["admin"]}).roles == ("customer", "admin")
    assert handlers.set_roles(uow, ADMIN, ada.id, lambda: {"roles": ["customer"]}).roles == ("customer",)


def test_users_are_listed_a_page_at_a_time_with_the_total(uow):
    for n in range(3):
        handlers.register(uow, f"user{n}@example.com", PASSWORD, f"User {n}")
    listed = handlers.list_users(uow, ADMIN, lambda: {"page": 2, "per_page": 2})
    users, total = listed.items, listed.total
    assert total == 3 and [u.email for u in users] == ["user2@example.com"]


def test_ensure_admin_creates_the_admin_once_and_keeps_its_password(uow, tokens):
    first = handlers.ensure_admin(uow, "root@example.com", PASSWORD, "Root")
    again = handlers.ensure_admin(uow, "ROOT@example.com", "other password 123", "Root")
    assert first.id == again.id and again.roles == ("customer", "admin")
    assert len(uow.users.rows) == 1
    assert login(uow, tokens, username="root@example.com")["access_token"]


def test_ensure_admin_promotes_an_existing_customer(uow, ada):
    assert handlers.ensure_admin(uow, "ada@example.com", "ignored password", "X").roles == (
        "customer", "admin")
    assert handlers.get_user(uow, ADMIN, ada.id).name == "Ada"


def refused_input():
    raise AssertionError("the input of a refused caller must not be read")


@pytest.mark.parametrize(("caller", "refusal"), [(Principal(), NotAuthenticated),
                                                 (as_user("u-1"), PermissionDenied)])
def test_only_admins_list_read_and_change_other_accounts_before_any_input_is_read(uow, ada, caller,
                                                                                  refusal):
    with pytest.raises(refusal):
        handlers.list_users(uow, caller, refused_input)
    with pytest.raises(refusal):
        handlers.get_user(uow, caller, ada.id)
    with pytest.raises(refusal):
        handlers.set_roles(uow, caller, ada.id, refused_input)


def test_an_anonymous_caller_has_no_profile_to_read_or_change(uow):
    for use_case in (lambda: handlers.get_me(uow, Principal()),
                     lambda: handlers.update_profile(uow, Principal(), refused_input),
                     lambda: handlers.change_password(uow, Principal(), refused_input)):
        with pytest.raises(NotAuthenticated):
            use_case()
