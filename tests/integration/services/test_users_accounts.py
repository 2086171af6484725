"""Accounts, profiles and roles in the users service over real RabbitMQ and PostgreSQL."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from nameko_services.common.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidGrant,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    UserNotFound,
    WeakPassword,
)
from nameko_services.users.admin import ensure_admin

from .test_users_tokens import PASSWORD, login, refresh, register, users, verify  # noqa: F401

pytestmark = pytest.mark.usefixtures("users")  # the service in a container, for every test
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}


def as_user(user, roles=("customer",)):
    return (user["id"], list(roles))


def test_registration_answers_the_new_customer(call):
    user = register(call, email=" Ada@Example.com", name=" Ada ")
    assert {k: user[k] for k in ("email", "name", "roles", "shipping_address")} == {
        "email": "ada@example.com", "name": "Ada", "roles": ["customer"], "shipping_address": None}
    assert datetime.fromisoformat(user["created_at"]).utcoffset() == timedelta(0)
    assert "password_hash" not in user


def test_an_email_is_taken_whatever_its_case(call):
    register(call)
    with pytest.raises(EmailTaken):
        register(call, email="ADA@Example.COM")


def test_registration_names_every_bad_field(call):
    with pytest.raises(InvalidInput) as caught:
        call("users", "register", {"email": "not-an-email", "password": PASSWORD, "name": " ",
                                   "admin": True})
    assert set(caught.value.details) == {"email", "name", "admin"}


def test_a_weak_password_is_refused_with_the_reasons(call):
    with pytest.raises(WeakPassword) as caught:
        register(call, password="ada-is-great")
    assert caught.value.details["password"] == ["Must not contain the email address."]


def test_a_customer_reads_and_updates_their_profile(call):
    user = register(call)
    assert call("users", "get_me", as_user=as_user(user)) == user
    updated = call("users", "update_me", {"name": "Ada L.", "shipping_address": ADDRESS},
                   as_user=as_user(user))
    assert updated["name"] == "Ada L." and updated["shipping_address"] == {
        **ADDRESS, "line2": None, "region": None, "phone": None}
    assert call("users", "update_me", {"shipping_address": None},
                as_user=as_user(user))["shipping_address"] is None


def test_profile_changes_are_validated_field_by_field(call):
    user = register(call)
    with pytest.raises(InvalidInput) as caught:
        call("users", "update_me", {"email": "x@y.z", "name": "", "shipping_address": {
            "line1": "x", "country": "de", "planet": "Mars"}}, as_user=as_user(user))
    details = caught.value.details
    assert details["email"] == ["Unknown field."] and "name" in details
    assert set(details["shipping_address"]) == {"name", "city", "postal_code", "country", "planet"}
    assert call("users", "get_me", as_user=as_user(user))["name"] == "Ada"


def test_profile_calls_need_a_user_who_still_exists(call, core_db):
    with pytest.raises(NotAuthenticated):
        call("users", "get_me")
    with pytest.raises(NotAuthenticated):
        call("users", "update_me", {"name": "x"})
    user = register(call)
    with core_db.begin() as conn:
        conn.execute(text("DELETE FROM users"))
    with pytest.raises(UserNotFound):
        call("users", "get_me", as_user=as_user(user))
    with pytest.raises(UserNotFound):
        call("users", "get_me", as_user=("not-a-uuid", ["customer"]))


def test_changing_the_password_checks_the_old_one_and_signs_out_refresh_tokens(call):
    user = register(call)
    token = login(call)["refresh_token"]
    with pytest.raises(NotAuthenticated):
        call("users", "change_password", PASSWORD, "a much better secret")
    with pytest.raises(InvalidCredentials):
        call("users", "change_password", "wrong password!!", "a much better secret",
             as_user=as_user(user))
    with pytest.raises(WeakPassword):
        call("users", "change_password", PASSWORD, "short", as_user=as_user(user))
    call("users", "change_password", current_password=PASSWORD, new_password="a much better secret",
         as_user=as_user(user))
    with pytest.raises(InvalidGrant):
        refresh(call, token)
    with pytest.raises(InvalidGrant):
        login(call)
    assert login(call, password="a much better secret")["access_token"]


def test_admins_list_users_read_one_and_change_roles(call):
    ada = register(call)
    bob = register(call, email="bob@example.com", name="Bob")
    admin = as_user(ada, ["customer", "admin"])
    page = call("users", "list_users", page=2, per_page=1, as_user=admin)
    assert page == {"items": [bob], "total": 2, "page": 2, "per_page": 1}
    assert call("users", "list_users", as_user=admin)["per_page"] == 20
    assert call("users", "set_roles", bob["id"], ["admin"], as_user=admin)["roles"] == ["customer", "admin"]
    assert call("users", "get_user", bob["id"], as_user=admin)["roles"] == ["customer", "admin"]
    assert call("users", "set_roles", bob["id"], ["customer"], as_user=admin)["roles"] == ["customer"]
    assert verify(login(call, email="bob@example.com")["access_token"]).roles == ("customer",)


def test_admin_calls_refuse_bad_input_and_unknown_or_malformed_ids(call):
    bob = register(call, email="bob@example.com", name="Bob")
    admin = ("00000000-0000-0000-0000-000000000001", ["customer", "admin"])
    for roles in (["root"], [], "admin"):
        with pytest.raises(InvalidInput):
            call("users", "set_roles", bob["id"], roles, as_user=admin)
    for paging in ({"per_page": 1000}, {"per_page": 0}, {"page": 0}):
        with pytest.raises(InvalidInput):
            call("users", "list_users", as_user=admin, **paging)
    for user_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(UserNotFound):
            call("users", "get_user", user_id, as_user=admin)
        with pytest.raises(UserNotFound):
            call("users", "set_roles", user_id, ["admin"], as_user=admin)


def test_customers_and_anonymous_callers_cannot_use_admin_calls(call):
    ada = register(call)
    for method, args in (("list_users", ()), ("get_user", (ada["id"],)),
                         ("set_roles", (ada["id"], ["admin"]))):
        with pytest.raises(PermissionDenied):
            call("users", method, *args, as_user=as_user(ada))
        with pytest.raises(NotAuthenticated):
            call("users", method, *args)
    assert call("users", "get_me", as_user=as_user(ada))["roles"] == ["customer"]


def test_ensure_admin_creates_the_admin_once_and_promotes_without_touching_passwords(
        call, core_config):
    url = core_config["DATABASE_URL"]
    first = ensure_admin(url, "root@example.com", PASSWORD)
    assert ensure_admin(url, "ROOT@example.com", "ignored password 123") == first
    assert set(verify(login(call, email="root@example.com")["access_token"]).roles) == {"customer", "admin"}
    ada = register(call)
    assert ensure_admin(url, "ada@example.com", "ignored password 123", "Ignored") == ada["id"]
    promoted = verify(login(call)["access_token"])
    assert set(promoted.roles) == {"customer", "admin"}
    admin = as_user(ada, ["customer", "admin"])
    assert call("users", "list_users", as_user=admin)["total"] == 2
    with pytest.raises(WeakPassword):
        ensure_admin(url, "new@example.com", "short")
