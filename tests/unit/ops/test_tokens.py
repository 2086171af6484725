"""Service tokens minted by shopctl for operators."""
import jwt
import pytest

from nameko_services.common import auth, keys
from nameko_services.ops.tokens import mint, parse_roles


@pytest.fixture(autouse=True)
def keys_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_KEYS_DIR", str(tmp_path))
    monkeypatch.setenv("SHOP_ENV", "development")
    return tmp_path


def _verify(token, audience):
    trusted = auth.key_map([keys.load_public_key("service-shopctl")])
    return auth.verify_service_token(token, trusted, audience=audience)


def test_a_token_for_users_is_accepted_by_users_as_coming_from_shopctl_for_an_admin():
    token = mint("users", user_id="u-1", roles=parse_roles("admin, customer"))
    principal = _verify(token, "users")
    assert (principal.service, principal.user_id) == ("shopctl", "u-1")
    assert principal.roles == ("admin", "customer")


def test_a_token_for_users_is_refused_by_catalog():
    with pytest.raises(auth.NotAuthenticated):
        _verify(mint("users"), "catalog")


def test_the_lifetime_is_chosen_by_the_operator_and_defaults_to_a_minute():
    long_lived = jwt.decode(mint("users", ttl=3600), options={"verify_signature": False})
    default = jwt.decode(mint("users"), options={"verify_signature": False})
    assert long_lived["exp"] - long_lived["iat"] == 3600
    assert default["exp"] - default["iat"] == auth.SERVICE_TOKEN_TTL == 60


def test_without_a_user_the_token_speaks_only_for_shopctl():
    principal = _verify(mint("catalog", roles=("admin",)), "catalog")
    assert principal.user_id is None and principal.roles == ()


def test_roles_are_read_from_a_comma_separated_list():
    assert parse_roles(" admin,,customer ") == ("admin", "customer")
    assert parse_roles(None) == ()
