"""Key rotation with running services: nothing valid is refused, retired keys verify nothing."""
import base64
import shutil

import jwt
import pytest

from nameko_services.common import auth, key_sets, keys, rpc
from nameko_services.common.errors import NotAuthenticated
from nameko_services.ops import keys as rotation
from nameko_services.users import service as users_service
from nameko_services.users.service import UsersService

PASSWORD = "correct horse battery"
ISSUER, AUDIENCE = "http://shop.test", "nameko-shop"


@pytest.fixture
def own_keys(keys_dir, tmp_path, monkeypatch):
    """A copy of the session's keys that this test may rotate; receivers reload at once."""
    folder = tmp_path / "keys"
    shutil.copytree(keys_dir, folder)
    monkeypatch.setenv("SHOP_KEYS_DIR", str(folder))
    rpc.TRUSTED_SERVICE_KEYS.reset()
    monkeypatch.setattr(key_sets, "KEY_RELOAD_INTERVAL", 0.0)
    yield folder
    rpc.TRUSTED_SERVICE_KEYS.reset()


def start_users(container_factory, core_config):
    config = dict(core_config, TOKEN_ISSUER=ISSUER, TOKEN_AUDIENCE=AUDIENCE, ACCESS_TOKEN_TTL=300,
                  REFRESH_TOKEN_TTL=3600, max_workers=4)
    container = container_factory(UsersService, config)
    container.start()
    return container


def login(call):
    return call("users", "issue_token", {"grant_type": "password", "username": "ada@example.com",
                                         "password": PASSWORD})["access_token"]


def verify_with_jwks(call, token):
    """Verify as the gateway does: against the JWKS the users service serves now."""
    served = call("users", "get_jwks")["keys"]
    public = [keys.Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
              for jwk in served]
    return auth.verify_access_token(token, auth.key_map(public), issuer=ISSUER, audience=AUDIENCE)


def kids(call):
    return [jwk["kid"] for jwk in call("users", "get_jwks")["keys"]]


def test_an_access_key_rotation_keeps_old_tokens_valid_until_the_key_is_retired(
        own_keys, container_factory, core_config, call, monkeypatch):
    start_users(container_factory, core_config)
    call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    old_kid = keys.load_signing_key("access").kid
    old_token = login(call)

    monkeypatch.setattr(users_service, "KEY_CHECK_INTERVAL", 3600.0)  # not yet noticed...
    new_kid = rotation.rotate("access").current_kid
    assert kids(call) == [old_kid, new_kid]  # ...yet the JWKS already serves both keys
    assert verify_with_jwks(call, old_token).user_id
    assert verify_with_jwks(call, login(call)).user_id  # the old key still signs, still verifies

    monkeypatch.setattr(users_service, "KEY_CHECK_INTERVAL", 0.0)  # noticed, without a restart
    new_token = login(call)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert kids(call) == [new_kid, old_kid]
    assert verify_with_jwks(call, old_token).user_id and verify_with_jwks(call, new_token).user_id

    assert rotation.retire("access", older_than=0) == [old_kid]
    assert kids(call) == [new_kid]
    with pytest.raises(NotAuthenticated, match="unknown key"):
        verify_with_jwks(call, old_token)
    assert verify_with_jwks(call, new_token).user_id


def test_a_service_key_rotation_is_accepted_by_running_receivers_and_retiring_refuses_the_old_key(
        own_keys, container_factory, core_config, call, monkeypatch):
    start_users(container_factory, core_config)
    old_key = keys.load_signing_key("service-gateway")
    old_call = auth.issue_service_token(old_key, service="gateway", audience="users", ttl=600)
    assert call("users", "get_jwks", token=old_call)["keys"]

    rotation.rotate("service-gateway")
    new_key = keys.load_signing_key("service-gateway")
    assert new_key.kid != old_key.kid
    new_call = auth.issue_service_token(new_key, service="gateway", audience="users", ttl=600)
    assert call("users", "get_jwks", token=new_call)["keys"]  # an unknown kid reloads the key sets
    assert call("users", "get_jwks", token=old_call)["keys"]  # the old key still verifies

    rotation.retire("service-gateway", older_than=0)
    monkeypatch.setattr(key_sets, "KEY_MAX_AGE", 0.0)  # as if a minute had passed
    with pytest.raises(NotAuthenticated, match="unknown key"):
        call("users", "get_jwks",
             token=auth.issue_service_token(old_key, service="gateway", audience="users", ttl=600))
    assert call("users", "get_jwks", token=new_call)["keys"]
