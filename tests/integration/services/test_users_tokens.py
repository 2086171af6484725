"""The users service's OAuth token endpoint over real RabbitMQ and PostgreSQL."""
import hashlib

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from nameko_services.common import auth, keys
from nameko_services.common.errors import InvalidGrant, InvalidRequest, InvalidScope, UnsupportedGrantType
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


def login(call, email="ada@example.com", password=PASSWORD, **extra):
    return call("users", "issue_token", {"grant_type": "password", "username": email,
                                         "password": password, **extra})


def refresh(call, token, **extra):
    return call("users", "issue_token", {"grant_type": "refresh_token", "refresh_token": token, **extra})


def verify(access_token):
    return auth.verify_access_token(access_token, auth.key_map([keys.load_public_key("access")]),
                                    issuer=ISSUER, audience=AUDIENCE)


def test_a_password_grant_gives_an_access_token_the_jwks_verifies(users, call):
    user = register(call)
    response = login(call, email="ADA@example.com")
    assert response["token_type"] == "Bearer" and response["expires_in"] == 300
    assert response["scope"] == "shop" and response["refresh_token"]
    jwks = call("users", "get_jwks")
    assert [k["kid"] for k in jwks["keys"]] == list(auth.key_map([keys.load_public_key("access")]))
    assert all(set(k) >= {"kty", "crv", "x", "kid"} and "d" not in k for k in jwks["keys"])
    principal = verify(response["access_token"])
    assert principal.user_id == user["id"] and principal.roles == ("customer",)


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(users, call):
    register(call)
    with pytest.raises(InvalidGrant) as wrong:
        login(call, password="wrong password!!")
    with pytest.raises(InvalidGrant) as unknown:
        login(call, email="nobody@example.com")
    assert str(wrong.value) == str(unknown.value) == "Invalid username or password."


def test_bad_grants_get_oauth_errors(users, call):
    with pytest.raises(UnsupportedGrantType):
        call("users", "issue_token", {"grant_type": "implicit"})
    with pytest.raises(InvalidRequest):
        call("users", "issue_token", {"grant_type": "password", "username": "a@b.c"})
    with pytest.raises(InvalidRequest):
        call("users", "issue_token", "not a dict")
    register(call)
    with pytest.raises(InvalidScope):
        login(call, scope="shop admin")


def test_refresh_tokens_are_stored_only_as_sha256_hashes(users, call, core_db):
    register(call)
    token = login(call)["refresh_token"]
    with core_db.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM refresh_tokens")).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_a_refresh_token_is_rotated_and_its_reuse_revokes_the_family(users, call):
    user = register(call)
    first = login(call)
    second = refresh(call, first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert verify(second["access_token"]).user_id == user["id"]
    third = refresh(call, second["refresh_token"])
    with pytest.raises(InvalidGrant):  # a spent one again: it leaked, so the family ends
        refresh(call, first["refresh_token"])
    with pytest.raises(InvalidGrant):  # the newest one died with its family
        refresh(call, third["refresh_token"])


def test_a_family_ends_at_its_absolute_lifetime(users, call, core_db):
    register(call)
    token = refresh(call, login(call)["refresh_token"])["refresh_token"]
    with core_db.begin() as conn:
        expiries = conn.execute(text("SELECT DISTINCT expires_at FROM refresh_tokens")).scalars().all()
        conn.execute(text("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"))
    assert len(expiries) == 1  # rotation never extends the family
    with pytest.raises(InvalidGrant):
        refresh(call, token)
    login(call)  # signing in again clears the dead family away
    with core_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM refresh_tokens")).scalar() == 1


def test_two_concurrent_refreshes_of_one_token_have_exactly_one_winner(users, call, rabbit_config,
                                                                       core_db):
    register(call)
    token = login(call)["refresh_token"]
    service_token = auth.issue_service_token(keys.load_signing_key("service-gateway"),
                                             service="gateway", audience="users")
    with ClusterRpcProxy(rabbit_config, context_data={"authorization": service_token},
                         timeout=20) as proxy:
        # Hold the token's row so that every refresh is in flight at once when it is released.
        with core_db.begin() as conn:
            conn.execute(text("SELECT 1 FROM refresh_tokens FOR UPDATE"))
            replies = [proxy.users.issue_token.call_async(
                {"grant_type": "refresh_token", "refresh_token": token}) for _ in range(4)]
            eventlet.sleep(1)
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except InvalidGrant:
                outcomes.append(None)
    winners = [o for o in outcomes if o]
    assert len(winners) == 1
    with core_db.connect() as conn:
        issued = conn.execute(text("SELECT count(*) FROM refresh_tokens")).scalar()
    assert issued == 2  # the presented token and exactly one successor
    # The losers presented a spent token: reuse, so even the winner's new token is revoked.
    with pytest.raises(InvalidGrant):
        refresh(call, winners[0]["refresh_token"])


def test_a_revoked_refresh_token_no_longer_works_and_unknown_tokens_are_fine(users, call):
    register(call)
    token = login(call)["refresh_token"]
    assert call("users", "revoke_token", token, token_type_hint="refresh_token") is None
    assert call("users", "revoke_token", "never-issued") is None  # RFC 7009: not an error
    with pytest.raises(InvalidGrant):
        refresh(call, token)


def test_a_disabled_account_gets_no_tokens(users, call, core_db):
    user = register(call)
    token = login(call)["refresh_token"]
    with core_db.begin() as conn:
        conn.execute(text("UPDATE users SET disabled_at = now() WHERE id = :id"), {"id": user["id"]})
    with pytest.raises(InvalidGrant):
        login(call)
    with pytest.raises(InvalidGrant):
        refresh(call, token)
