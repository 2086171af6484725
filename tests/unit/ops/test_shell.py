"""nameko shell helper: every call carries a token for the service it goes to."""
import pytest

from nameko_services.common.shell import SignedClusterProxy, token_source


class WorkerContext:
    def __init__(self):
        self.data = {}


def test_each_service_proxy_gets_a_token_for_that_service():
    ctx = WorkerContext()
    proxy = SignedClusterProxy(ctx, reply_listener=None, token_for=lambda service: f"token-for-{service}")
    users = proxy.users
    assert users.service_name == "users"
    assert ctx.data["authorization"] == "token-for-users"
    catalog = proxy["catalog"]
    assert ctx.data["authorization"] == "token-for-catalog" and catalog.service_name == "catalog"


def test_private_attributes_are_not_mistaken_for_services():
    proxy = SignedClusterProxy(WorkerContext(), reply_listener=None, token_for=lambda service: "t")
    with pytest.raises(AttributeError):
        getattr(proxy, "_missing")  # noqa: B009


def test_a_given_token_or_shop_token_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "from-env")
    assert token_source(None, None, ())("users") == "from-env"
    assert token_source("given", None, ())("catalog") == "given"


def test_without_a_token_one_is_minted_per_service(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    monkeypatch.setenv("SHOP_KEYS_DIR", str(tmp_path))
    source = token_source(None, "u-1", ["admin"])
    import jwt

    claims = jwt.decode(source("catalog"), options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == ("shopctl", "catalog")
    assert (claims["sub"], claims["roles"]) == ("u-1", ["admin"])
