"""Password policy, emails, roles, scopes and refresh-token family rules, with no I/O."""
from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.auth import Principal
from nameko_services.common.countries import is_country_code
from nameko_services.common.errors import InvalidScope, NotAuthenticated, PermissionDenied, WeakPassword
from nameko_services.users import domain
from nameko_services.users.domain import Rotation
from nameko_services.users.passwords import hash_password, verify_password

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def token(**changes):
    first = domain.start_family("t1", "f1", "u1", "h1", "shop", NOW, 3600)
    return domain.RefreshToken(**{**first.__dict__, **changes})


def test_emails_are_compared_lower_cased_and_trimmed():
    assert domain.normalise_email("  Ada@Example.COM ") == "ada@example.com"


@pytest.mark.parametrize("password, problem", [
    ("short", "at least"),
    ("nine char", "at least"),
    ("x" * 64 + "y" * 65, "at most"),
    ("aaaaaaaaaaaa", "single character"),
    ("password123", "too common"),
    ("QWERTYUIOP", "too common"),
    ("my-ADA-password", "email"),
])
def test_the_password_policy_names_each_problem(password, problem):
    assert any(problem in p for p in domain.password_problems(password, "ada@example.com"))


@pytest.mark.parametrize("password", ["ten chars!", "x" * 64 + "y" * 64, "correct horse battery"])
def test_passwords_within_the_policy_pass(password):
    assert domain.password_problems(password, "ada@example.com") == []


def test_a_short_email_local_part_does_not_forbid_every_password_containing_it():
    assert domain.password_problems("a good password", "al@example.com") == []


def test_a_weak_password_raises_with_every_problem_under_the_password_field():
    with pytest.raises(WeakPassword) as caught:
        domain.check_password_policy("aaaa")
    assert len(caught.value.details["password"]) == 2


def test_every_user_stays_a_customer_whatever_roles_are_set():
    user = domain.User("1", "a@b.c", "A", "h")
    assert user.with_roles(["admin"]).roles == ("customer", "admin")
    assert user.with_roles(["admin", "customer", "admin"]).roles == ("customer", "admin")
    assert user.with_roles(["customer"]).roles == ("customer",)


def test_a_disabled_user_is_not_active():
    assert domain.User("1", "a@b.c", "A", "h").is_active
    assert not domain.User("1", "a@b.c", "A", "h", disabled_at=NOW).is_active


def test_a_fresh_token_rotates_until_its_family_expires():
    assert token().rotation(NOW) is Rotation.ROTATE
    assert token().rotation(NOW + timedelta(seconds=3599)) is Rotation.ROTATE
    assert token().rotation(NOW + timedelta(seconds=3600)) is Rotation.EXPIRED


def test_a_used_or_revoked_token_is_reuse_even_after_the_family_expired():
    assert token(used_at=NOW).rotation(NOW) is Rotation.REUSED
    assert token(revoked_at=NOW).rotation(NOW) is Rotation.REUSED
    assert token(used_at=NOW).rotation(NOW + timedelta(days=1)) is Rotation.REUSED


def test_a_successor_stays_in_the_family_with_its_absolute_expiry_and_scope():
    first = token()
    later = NOW + timedelta(seconds=1800)
    spent, successor = first.spent(later), first.successor("t2", "h2")
    assert spent.used_at == later and spent.rotation(later) is Rotation.REUSED
    assert (successor.family_id, successor.user_id, successor.scope) == ("f1", "u1", "shop")
    assert successor.expires_at == NOW + timedelta(seconds=3600)
    assert successor.rotation(later) is Rotation.ROTATE and successor.token_hash == "h2"


@pytest.mark.parametrize("requested, granted", [
    (None, "read write"), ("", "read write"), ("read", "read"), ("write read read", "write read")])
def test_a_scope_request_may_narrow_what_is_allowed(requested, granted):
    assert domain.granted_scope(requested, "read write") == granted


def test_a_scope_request_may_not_widen_what_is_allowed():
    with pytest.raises(InvalidScope):
        domain.granted_scope("read admin", "read write")


def test_only_signed_in_users_and_admins_pass_the_guards():
    with pytest.raises(NotAuthenticated):
        domain.require_user(Principal())
    assert domain.require_user(Principal(user_id="u")) == "u"
    with pytest.raises(NotAuthenticated):
        domain.require_admin(Principal(roles=("admin",)))
    with pytest.raises(PermissionDenied):
        domain.require_admin(Principal(user_id="u", roles=("customer",)))
    assert domain.require_admin(Principal(user_id="u", roles=("customer", "admin"))) == "u"


def test_passwords_are_hashed_with_argon2id_and_verified():
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


@pytest.mark.parametrize("code, valid", [("DE", True), ("US", True), ("de", False), ("XX", False),
                                         ("DEU", False)])
def test_only_assigned_upper_case_alpha_2_codes_are_countries(code, valid):
    assert is_country_code(code) is valid
