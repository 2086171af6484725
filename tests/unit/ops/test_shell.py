"""nameko shell helper: every call carries a fresh token for the service it goes to."""
import jwt
import pytest

from nameko_services.common import service_rpc
from nameko_services.common.shell import OPERATOR_USER_ID, SignedClusterProxy, token_source


class WorkerContext:
    def __init__(self):
        self.context_data = {"correlation_id": "c-1"}


class FakeContainer:
    config = {"AMQP_URI": "memory://"}


def _claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def _headers(proxy, service, method="ping"):
    method_proxy = getattr(proxy[service], method)
    return method_proxy.get_message_headers(method_proxy.worker_ctx)


@pytest.fixture
def proxy():
    ctx = WorkerContext()
    ctx.container = FakeContainer()
    minted = iter(range(100))
    return SignedClusterProxy(ctx, reply_listener=None,
                              token_for=lambda service: f"token-{next(minted)}-for-{service}")


def test_each_call_carries_a_token_for_the_service_it_goes_to(proxy):
    assert _headers(proxy, "users")["nameko.authorization"].endswith("-for-users")
    assert _headers(proxy, "catalog")["nameko.authorization"].endswith("-for-catalog")


def test_a_kept_service_proxy_still_signs_for_its_own_service_with_a_fresh_token(proxy):
    users = proxy.users
    first = _headers(proxy, "users")["nameko.authorization"]
    proxy.catalog.ping  # noqa: B018 - touching another service must not change what users gets
    again = users.ping.get_message_headers(users.worker_ctx)["nameko.authorization"]
    assert again.endswith("-for-users") and again != first


def test_the_shell_calls_through_the_same_signed_method_proxy_as_the_services(proxy):
    assert type(proxy.users.ping) is service_rpc.SignedMethodProxy


def test_the_other_context_headers_still_travel(proxy):
    assert _headers(proxy, "users")["nameko.correlation_id"] == "c-1"


def test_private_attributes_are_not_mistaken_for_services_or_methods(proxy):
    with pytest.raises(AttributeError):
        getattr(proxy, "_missing")  # noqa: B009
    with pytest.raises(AttributeError):
        getattr(proxy.users, "_missing")  # noqa: B009


def test_a_given_token_or_shop_token_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "from-env")
    assert token_source(None, None, ())("users") == "from-env"
    assert token_source("given", None, ())("catalog") == "given"


def test_without_a_token_one_is_minted_per_service_for_the_given_user(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    monkeypatch.setenv("SHOP_KEYS_DIR", str(tmp_path))
    claims = _claims(token_source(None, "u-1", ["customer"])("catalog"))
    assert (claims["iss"], claims["aud"], claims["sub"], claims["roles"]) == (
        "shopctl", "catalog", "u-1", ["customer"])


def test_without_a_user_the_calls_act_for_the_operator_with_the_given_roles(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    monkeypatch.setenv("SHOP_KEYS_DIR", str(tmp_path))
    claims = _claims(token_source(None, None, ("admin",))("users"))
    assert (claims["aud"], claims["sub"], claims["roles"]) == ("users", OPERATOR_USER_ID, ["admin"])
