"""The users service over real RabbitMQ and PostgreSQL."""
import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from nameko_services.common import auth, keys
from nameko_services.common.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidGrant,
    InvalidInput,
    InvalidRequest,
    NotAuthenticated,
    PermissionDenied,
    UnsupportedGrantType,
    UserNotFound,
    WeakPassword,
)
from nameko_services.users.admin import ensure_admin
from nameko_services.users.service import UsersService

PASSWORD = "correct horse battery"
ISSUER, AUDIENCE = "http://shop.test", "nameko-shop"


@pytest.fixture
def users(container_factory, core_config):
    config = dict(core_config, TOKEN_ISSUER=ISSUER, TOKEN_AUDIENCE=AUDIENCE, ACCESS_TOKEN_TTL=300,
                  REFRESH_TOKEN_TTL=3600, max_workers=20)
    container = container_factory(UsersService, config)
    container.start()
    return container


def register(call, email="ada@example.com", password=PASSWORD, name="Ada"):
    return call("users", "register", {"email": email, "password": password, "name": name})


def login(call, email="ada@example.com", password=PASSWORD):
    return call("users", "issue_token", {"grant_type": "password", "username": email,
                                         "password": password})


def as_user(user, roles=("customer",)):
    return (user["id"], list(roles))


def test_a_registered_customer_gets_a_verifiable_access_token(users, call):
    user = register(call)
    assert user["email"] == "ada@example.com" and user["roles"] == ["customer"]
    response = login(call)
    assert response["token_type"] == "Bearer" and response["expires_in"] == 300
    jwks = call("users", "get_jwks")
    public_keys = auth.key_map([keys.load_public_key("access")])
    assert {k["kid"] for k in jwks["keys"]} == set(public_keys)
    principal = auth.verify_access_token(response["access_token"], public_keys, issuer=ISSUER,
                                         audience=AUDIENCE)
    assert principal.user_id == user["id"] and principal.roles == ("customer",)


def test_an_email_is_taken_whatever_its_case(users, call):
    register(call)
    with pytest.raises(EmailTaken):
        register(call, email="ADA@Example.COM")


def test_registration_names_every_bad_field(users, call):
    with pytest.raises(InvalidInput) as caught:
        call("users", "register", {"email": "not-an-email", "password": PASSWORD, "name": " ",
                                   "admin": True})
    assert set(caught.value.details) == {"email", "name", "admin"}


def test_a_weak_password_is_refused_with_the_reason(users, call):
    with pytest.raises(WeakPassword) as caught:
        register(call, password="short")
    assert caught.value.details["password"]


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(users, call):
    register(call)
    with pytest.raises(InvalidGrant) as wrong:
        login(call, password="wrong password!!")
    with pytest.raises(InvalidGrant) as unknown:
        login(call, email="nobody@example.com")
    assert str(wrong.value) == str(unknown.value)


def test_bad_grants_get_oauth_errors(users, call):
    with pytest.raises(UnsupportedGrantType):
        call("users", "issue_token", {"grant_type": "implicit"})
    with pytest.raises(InvalidRequest):
        call("users", "issue_token", {"grant_type": "password", "username": "a@b.c"})


def test_a_refresh_token_is_rotated_and_its_reuse_revokes_the_family(users, call):
    register(call)
    first = login(call)
    second = call("users", "issue_token", {"grant_type": "refresh_token",
                                           "refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"]
    with pytest.raises(InvalidGrant):  # the spent one again: stolen, so the family ends
        call("users", "issue_token", {"grant_type": "refresh_token",
                                      "refresh_token": first["refresh_token"]})
    with pytest.raises(InvalidGrant):  # the newest one died with its family
        call("users", "issue_token", {"grant_type": "refresh_token",
                                      "refresh_token": second["refresh_token"]})


def test_two_concurrent_refreshes_of_one_token_have_exactly_one_winner(users, call, rabbit_config):
    register(call)
    refresh = login(call)["refresh_token"]
    token = auth.issue_service_token(keys.load_signing_key("service-gateway"), service="gateway",
                                     audience="users")
    with ClusterRpcProxy(rabbit_config, context_data={"authorization": token}, timeout=10) as proxy:
        replies = [proxy.users.issue_token.call_async(
            {"grant_type": "refresh_token", "refresh_token": refresh}) for _ in range(6)]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except InvalidGrant:
                outcomes.append(None)
    assert len([o for o in outcomes if o]) == 1


def test_a_revoked_refresh_token_no_longer_works(users, call):
    register(call)
    refresh = login(call)["refresh_token"]
    call("users", "revoke_token", refresh)
    call("users", "revoke_token", "never-issued")  # RFC 7009: not an error
    with pytest.raises(InvalidGrant):
        call("users", "issue_token", {"grant_type": "refresh_token", "refresh_token": refresh})


def test_a_customer_reads_and_updates_their_profile(users, call):
    user = register(call)
    assert call("users", "get_me", as_user=as_user(user))["id"] == user["id"]
    address = {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    updated = call("users", "update_me", {"name": "Ada L.", "shipping_address": address},
                   as_user=as_user(user))
    assert updated["name"] == "Ada L." and updated["shipping_address"]["city"] == "Berlin"
    with pytest.raises(InvalidInput) as caught:
        call("users", "update_me", {"email": "x@y.z", "shipping_address": {"line1": "x"}},
             as_user=as_user(user))
    assert "email" in caught.value.details and "shipping_address" in caught.value.details


def test_profile_calls_without_a_user_are_refused(users, call):
    with pytest.raises(NotAuthenticated):
        call("users", "get_me")


def test_changing_the_password_checks_the_old_one_and_signs_out_refresh_tokens(users, call):
    user = register(call)
    refresh = login(call)["refresh_token"]
    with pytest.raises(InvalidCredentials):
        call("users", "change_password", "wrong password!!", "a much better secret", as_user=as_user(user))
    call("users", "change_password", PASSWORD, "a much better secret", as_user=as_user(user))
    with pytest.raises(InvalidGrant):
        call("users", "issue_token", {"grant_type": "refresh_token", "refresh_token": refresh})
    assert login(call, password="a much better secret")["access_token"]


def test_admins_list_users_and_change_roles_but_customers_cannot(users, call):
    ada = register(call)
    bob = register(call, email="bob@example.com", name="Bob")
    admin = as_user(ada, ["customer", "admin"])
    page = call("users", "list_users", page=1, per_page=1, as_user=admin)
    assert page["total"] == 2 and len(page["items"]) == 1 and page["per_page"] == 1
    assert call("users", "set_roles", bob["id"], ["admin"], as_user=admin)["roles"] == ["customer", "admin"]
    assert call("users", "get_user", bob["id"], as_user=admin)["roles"] == ["customer", "admin"]
    with pytest.raises(PermissionDenied):
        call("users", "list_users", as_user=as_user(ada))
    with pytest.raises(PermissionDenied):
        call("users", "get_user", bob["id"])
    with pytest.raises(InvalidInput):
        call("users", "set_roles", bob["id"], ["root"], as_user=admin)
    with pytest.raises(InvalidInput):
        call("users", "list_users", per_page=1000, as_user=admin)
    with pytest.raises(UserNotFound):
        call("users", "get_user", "not-a-uuid", as_user=admin)


def test_ensure_admin_creates_the_admin_once(users, call, core_config):
    url = core_config["DATABASE_URL"]
    first = ensure_admin(url, "root@example.com", PASSWORD)
    assert ensure_admin(url, "ROOT@example.com", "ignored password 123") == first
    token = login(call, email="root@example.com")["access_token"]
    principal = auth.verify_access_token(token, auth.key_map([keys.load_public_key("access")]),
                                         issuer=ISSUER, audience=AUDIENCE)
    assert set(principal.roles) == {"customer", "admin"}


def test_many_logins_at_once_are_served_concurrently(users, call, rabbit_config):
    register(call)
    token = auth.issue_service_token(keys.load_signing_key("service-gateway"), service="gateway",
                                     audience="users")
    with ClusterRpcProxy(rabbit_config, context_data={"authorization": token}, timeout=30) as proxy:
        started = eventlet.hubs.get_hub().clock()
        replies = [proxy.users.issue_token.call_async(
            {"grant_type": "password", "username": "ada@example.com", "password": PASSWORD})
            for _ in range(10)]
        assert all(r.result()["access_token"] for r in replies)
        assert eventlet.hubs.get_hub().clock() - started < 30
