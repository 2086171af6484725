"""Every RPC entrypoint refuses calls without a valid service token."""
import pytest
from nameko.testing.services import dummy

from nameko_services.common import auth, keys
from nameko_services.common.errors import NotAuthenticated
from nameko_services.common.rpc import Caller, rpc


class EchoService:
    name = "echo"
    caller = Caller()

    @rpc
    def whoami(self):
        return {"user_id": self.caller.user_id, "roles": list(self.caller.roles),
                "service": self.caller.service}

    @dummy
    def unused(self):
        pass


@pytest.fixture
def echo(container_factory, rabbit_config):
    container = container_factory(EchoService, rabbit_config)
    container.start()
    return container


def test_a_call_with_a_valid_token_reaches_the_method_with_the_callers_identity(echo, call):
    assert call("echo", "whoami", as_user=("u-1", ["customer"])) == {
        "user_id": "u-1", "roles": ["customer"], "service": "gateway"}


def test_a_call_without_a_token_is_refused(echo, call):
    with pytest.raises(NotAuthenticated):
        call("echo", "whoami", token=None)


def test_a_call_with_a_forged_token_is_refused(echo, call, tmp_path, monkeypatch):
    forged_key = keys.SigningKey("forged", keys.Ed25519PrivateKey.generate())
    forged = auth.issue_service_token(forged_key, service="gateway", audience="echo")
    with pytest.raises(NotAuthenticated):
        call("echo", "whoami", token=forged)


def test_a_token_meant_for_another_service_is_refused(echo, call):
    other = auth.issue_service_token(keys.load_signing_key("service-gateway"), service="gateway",
                                     audience="users")
    with pytest.raises(NotAuthenticated):
        call("echo", "whoami", token=other)


def test_an_expired_token_is_refused(echo, call):
    old = auth.issue_service_token(keys.load_signing_key("service-gateway"), service="gateway",
                                   audience="echo", now=1_000_000)
    with pytest.raises(NotAuthenticated):
        call("echo", "whoami", token=old)
