"""OAuth clients in the users service over real RabbitMQ and PostgreSQL: registration through the
ops function, client credentials, and the authorization-code flow with PKCE."""
import pytest
from sqlalchemy import text

from nameko_services.common import auth, keys
from nameko_services.common.errors import (
    ClientNotFound,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
)
from nameko_services.ops import clients as ops_clients
from nameko_services.users.authorization import s256
from nameko_services.users.service import UsersService

PASSWORD = "correct horse battery"
ISSUER, AUDIENCE = "http://shop.test", "nameko-shop"
CALLBACK = "http://127.0.0.1:8123/callback"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnop"


@pytest.fixture
def users(container_factory, core_config):
    config = dict(core_config, TOKEN_ISSUER=ISSUER, TOKEN_AUDIENCE=AUDIENCE, ACCESS_TOKEN_TTL=300,
                  REFRESH_TOKEN_TTL=3600, max_workers=10)
    container = container_factory(UsersService, config)
    container.start()
    return container


@pytest.fixture
def db_url(core_config):
    return core_config["DATABASE_URL"]


@pytest.fixture
def robot(users, db_url):
    client, secret = ops_clients.register_client("Stock robot", "confidential", [], [], ["catalog:write"],
                                                 database_url=db_url)
    return client["client_id"], secret


@pytest.fixture
def app(users, db_url):
    client, secret = ops_clients.register_client("Pet app", "public", [CALLBACK], [], [], database_url=db_url)
    assert secret is None
    return client["client_id"]


@pytest.fixture
def ada(users, call):
    return call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})


def verify(access_token):
    return auth.verify_access_token(access_token, auth.key_map([keys.load_public_key("access")]),
                                    issuer=ISSUER, audience=AUDIENCE)


def token(call, **grant):
    return call("users", "issue_token", grant)


def authorization_request(client_id, **changes):
    return {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "state": "s1",
            "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **changes}


def get_code(call, client_id, **changes):
    issued = call("users", "approve_authorization", authorization_request(client_id, **changes),
                  "ada@example.com", PASSWORD)
    assert issued["redirect_uri"] == CALLBACK and issued["state"] == "s1"
    return issued["code"]


def redeem(call, client_id, issued_code, **changes):
    grant = {"grant_type": "authorization_code", "client_id": client_id, "code": issued_code,
             "redirect_uri": CALLBACK, "code_verifier": VERIFIER, **changes}
    return token(call, **{name: value for name, value in grant.items() if value is not None})


def test_registered_clients_are_listed_with_the_first_party_one_and_can_be_disabled(robot, app, db_url):
    listed = {c["client_id"]: c for c in ops_clients.list_clients(database_url=db_url)}
    assert set(listed) == {"shop-frontend", robot[0], app}
    assert listed[robot[0]]["grant_types"] == ["client_credentials"]
    assert listed["shop-frontend"]["type"] == "public"
    assert all("secret" not in key for c in listed.values() for key in c)
    ops_clients.disable_client(app, database_url=db_url)
    assert {c["client_id"]: c["disabled"] for c in ops_clients.list_clients(database_url=db_url)}[app]
    with pytest.raises(ClientNotFound):
        ops_clients.disable_client("no-such-client", database_url=db_url)


def test_the_secret_is_stored_only_as_an_argon2id_hash(robot, core_db):
    with core_db.connect() as conn:
        stored = conn.execute(text("SELECT secret_hash FROM oauth_clients WHERE client_id = :id"),
                              {"id": robot[0]}).scalar_one()
    assert stored.startswith("$argon2id$") and robot[1] not in stored


def test_client_credentials_give_a_machine_token_without_roles_or_refresh_token(robot, call):
    client_id, secret = robot
    answer = token(call, grant_type="client_credentials", client_id=client_id, client_secret=secret)
    assert answer["scope"] == "catalog:write" and "refresh_token" not in answer
    principal = verify(answer["access_token"])
    assert principal.user_id == client_id == principal.client_id and principal.is_client
    assert principal.roles == () and principal.scopes == ("catalog:write",)


@pytest.mark.parametrize("grant", [
    {"client_secret": "wrong"}, {"client_secret": None}, {"client_id": "unknown", "client_secret": "x"},
])
def test_a_wrong_secret_missing_secret_or_unknown_client_is_invalid_client(robot, call, grant):
    request = {"grant_type": "client_credentials", "client_id": robot[0], "client_secret": robot[1], **grant}
    with pytest.raises(InvalidClient):
        token(call, **{k: v for k, v in request.items() if v is not None})


def test_a_machine_client_gets_no_scope_beyond_its_own_nor_other_grants(robot, call, ada):
    with pytest.raises(InvalidScope):
        token(call, grant_type="client_credentials", client_id=robot[0], client_secret=robot[1], scope="shop")
    with pytest.raises(UnauthorizedClient):
        token(call, grant_type="password", client_id=robot[0], client_secret=robot[1],
              username="ada@example.com", password=PASSWORD)


def test_a_disabled_client_gets_no_more_tokens(robot, call, db_url):
    ops_clients.disable_client(robot[0], database_url=db_url)
    with pytest.raises(InvalidClient):
        token(call, grant_type="client_credentials", client_id=robot[0], client_secret=robot[1])


def test_the_code_flow_issues_tokens_for_the_client_that_refresh_only_for_it(app, ada, call):
    checked = call("users", "check_authorization", authorization_request(app))
    assert checked["client_name"] == "Pet app" and checked["scope"] == "shop" and "error" not in checked
    answer = redeem(call, app, get_code(call, app))
    principal = verify(answer["access_token"])
    assert principal.user_id == ada["id"] and principal.client_id == app and not principal.is_client
    refreshed = token(call, grant_type="refresh_token", refresh_token=answer["refresh_token"], client_id=app)
    assert verify(refreshed["access_token"]).client_id == app
    with pytest.raises(InvalidGrant):  # the first-party frontend cannot use the app's refresh token
        token(call, grant_type="refresh_token", refresh_token=refreshed["refresh_token"])


def test_a_reused_code_is_refused_and_revokes_the_tokens_it_issued(app, ada, call):
    code = get_code(call, app)
    first = redeem(call, app, code)
    with pytest.raises(InvalidGrant):
        redeem(call, app, code)
    with pytest.raises(InvalidGrant):
        token(call, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=app)


@pytest.mark.parametrize("changes", [
    {"code_verifier": "w" * 50}, {"redirect_uri": CALLBACK + "/other"}, {"redirect_uri": None},
    {"code": "never-issued"},
])
def test_a_wrong_verifier_redirect_uri_or_code_is_invalid_grant(app, ada, call, changes):
    code = get_code(call, app)
    with pytest.raises(InvalidGrant):
        redeem(call, app, code, **changes)
    assert redeem(call, app, code)["access_token"]  # a failed attempt does not spend the code


def test_an_expired_code_is_invalid_grant(app, ada, call, core_db):
    code = get_code(call, app)
    with core_db.begin() as conn:
        conn.execute(text("UPDATE authorization_codes SET expires_at = now() - interval '1 second'"))
    with pytest.raises(InvalidGrant):
        redeem(call, app, code)


def test_a_code_for_another_client_is_invalid_grant(app, ada, call, db_url):
    other, _ = ops_clients.register_client("Other app", "public", [CALLBACK], [], [], database_url=db_url)
    with pytest.raises(InvalidGrant):
        redeem(call, other["client_id"], get_code(call, app))


def test_an_unknown_client_or_unregistered_redirect_uri_is_raised_not_redirected(app, call):
    with pytest.raises(InvalidClient):
        call("users", "check_authorization", authorization_request("unknown"))
    with pytest.raises(InvalidRequest):
        call("users", "check_authorization", authorization_request(app, redirect_uri=CALLBACK + "x"))


@pytest.mark.parametrize(("changes", "error"), [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "catalog:write"}, "invalid_scope"),
])
def test_other_problems_come_back_as_errors_for_the_redirect_uri(app, call, changes, error):
    request = {k: v for k, v in authorization_request(app, **changes).items() if v is not None}
    checked = call("users", "check_authorization", request)
    assert checked["error"] == error and checked["redirect_uri"] == CALLBACK and checked["state"] == "s1"


def test_approving_with_a_wrong_password_issues_no_code(app, ada, call):
    with pytest.raises(InvalidGrant):
        call("users", "approve_authorization", authorization_request(app), "ada@example.com",
             "wrong password!")


def test_a_confidential_code_client_must_authenticate_at_the_token_endpoint(users, ada, call, db_url):
    client, secret = ops_clients.register_client(
        "Server app", "confidential", [CALLBACK], ["authorization_code", "refresh_token"], [],
        database_url=db_url)
    with pytest.raises(InvalidClient):
        redeem(call, client["client_id"], get_code(call, client["client_id"]))
    answer = redeem(call, client["client_id"], get_code(call, client["client_id"]), client_secret=secret)
    assert verify(answer["access_token"]).client_id == client["client_id"]


def test_a_client_revokes_only_its_own_refresh_tokens(app, ada, call):
    answer = redeem(call, app, get_code(call, app))
    with pytest.raises(UnauthorizedClient):  # no client named: the first-party frontend
        call("users", "revoke_token", answer["refresh_token"])
    call("users", "revoke_token", answer["refresh_token"], client={"client_id": app})
    with pytest.raises(InvalidGrant):
        token(call, grant_type="refresh_token", refresh_token=answer["refresh_token"], client_id=app)
