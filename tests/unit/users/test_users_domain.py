"""Password policy, email rules, roles and refresh-token rules, with no I/O."""
from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.auth import Principal
from nameko_services.common.errors import NotAuthenticated, PermissionDenied, WeakPassword
from nameko_services.users import domain
from nameko_services.users.passwords import hash_password, verify_password


def test_emails_are_compared_lower_cased_and_trimmed():
    assert domain.normalise_email("  Ada@Example.COM ") == "ada@example.com"


@pytest.mark.parametrize("password, problem", [
    ("short", "at least"),
    ("x" * 129, "at most"),
    ("aaaaaaaaaaaa", "single character"),
    ("password123", "too common"),
    ("my-ada-password", "email"),
])
def test_the_password_policy_names_each_problem(password, problem):
    assert any(problem in p for p in domain.password_problems(password, "ada@example.com"))


def test_a_good_password_passes_the_policy():
    domain.check_password_policy("correct horse battery", "ada@example.com")


def test_a_weak_password_raises_with_details_for_the_password_field():
    with pytest.raises(WeakPassword) as caught:
        domain.check_password_policy("short")
    assert "password" in caught.value.details


def test_every_user_stays_a_customer_whatever_roles_are_set():
    user = domain.User("1", "a@b.c", "A", "h")
    assert user.with_roles(["admin"]).roles == ("customer", "admin")
    assert user.with_roles(["customer"]).roles == ("customer",)


def test_a_used_or_revoked_refresh_token_is_spent_and_expiry_is_absolute():
    now = datetime.now(UTC)
    token = domain.RefreshToken("1", "f", "u", "h", domain.family_expiry(now, 60))
    assert not token.is_spent() and not token.is_expired(now)
    assert token.is_expired(now + timedelta(seconds=61))
    token.used_at = now
    assert token.is_spent()


def test_only_signed_in_users_and_admins_pass_the_guards():
    with pytest.raises(NotAuthenticated):
        domain.require_user(Principal())
    assert domain.require_user(Principal(user_id="u")) == "u"
    with pytest.raises(PermissionDenied):
        domain.require_admin(Principal(user_id="u", roles=("customer",)))
    domain.require_admin(Principal(user_id="u", roles=("admin",)))


def test_passwords_are_hashed_with_argon2id_and_verified():
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")
