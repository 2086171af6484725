"""The storefront's OAuth client: registered on first use at the issuer's callback, first-party roles."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nameko_services.common.auth import key_map, verify_access_token
from nameko_services.common.errors import InvalidClient
from nameko_services.common.keys import Ed25519PrivateKey, SigningKey
from nameko_services.users import handlers, oauth
from nameko_services.users.authorization import s256
from nameko_services.users.clients import STOREFRONT_CLIENT
from nameko_services.users.tokens import TokenSettings

from .fakes import FakeUnitOfWork

ISSUER = "http://127.0.0.1:8000"
VERIFIER = "v" * 50
PASSWORD = "correct horse battery"


def request(redirect_uri=f"{ISSUER}/callback", **extra):
    return {"response_type": "code", "client_id": STOREFRONT_CLIENT, "redirect_uri": redirect_uri,
            "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", "state": "s1", **extra}


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def tokens():
    return TokenSettings(SigningKey("access", Ed25519PrivateKey.generate()), ISSUER, "aud", 60, 3600)


def test_the_storefront_can_start_the_code_flow_on_a_bare_database(uow):
    checked = oauth.check_authorization(uow, request(), ISSUER)
    assert "error" not in checked and checked["client_id"] == STOREFRONT_CLIENT
    assert uow.clients.get(STOREFRONT_CLIENT).redirect_uris == (f"{ISSUER}/callback",)


def test_the_storefront_follows_the_issuer_and_no_other_redirect_uri_is_accepted(uow):
    oauth.check_authorization(uow, request(), ISSUER)
    moved = "https://shop.example"
    assert "error" not in oauth.check_authorization(uow, request(f"{moved}/callback"), moved)
    with pytest.raises(Exception, match="redirect_uri"):
        oauth.check_authorization(uow, request(f"{ISSUER}/callback"), moved)
    with pytest.raises(Exception, match="redirect_uri"):
        oauth.check_authorization(uow, request("https://evil.example/callback"), moved)


def test_a_disabled_storefront_client_stays_disabled(uow):
    oauth.check_authorization(uow, request(), ISSUER)
    uow.clients.disable(STOREFRONT_CLIENT, datetime.now(UTC))
    with pytest.raises(InvalidClient):
        oauth.check_authorization(uow, request("https://shop.example/callback"), "https://shop.example")


def test_an_admin_signed_in_through_the_storefront_keeps_the_admin_role(uow, tokens):
    user = handlers.register(uow, "root@example.com", PASSWORD, "Root")
    handlers._set_roles(uow, user.id, ["customer", "admin"])
    admin = uow.users.get(user.id)
    issued = oauth.issue_code(uow, request(), admin, ISSUER)
    answer = handlers.issue_token(uow, tokens, {
        "grant_type": "authorization_code", "code": issued["code"], "code_verifier": VERIFIER,
        "redirect_uri": f"{ISSUER}/callback", "client_id": STOREFRONT_CLIENT})
    claims = verify_access_token(answer["access_token"], key_map([tokens.key.public_key]),
                                 issuer=ISSUER, audience="aud")
    assert set(claims.roles) == {"customer", "admin"}
    # Its refresh token is the storefront's: it refreshes, and the storefront may revoke it.
    refreshed = handlers.issue_token(uow, tokens, {"grant_type": "refresh_token",
                                                   "client_id": STOREFRONT_CLIENT,
                                                   "refresh_token": answer["refresh_token"]})
    handlers.revoke_token(uow, refreshed["refresh_token"], {"client_id": STOREFRONT_CLIENT})
    with pytest.raises(Exception, match="invalid|revoked|expired"):
        handlers.issue_token(uow, tokens, {"grant_type": "refresh_token", "client_id": STOREFRONT_CLIENT,
                                           "refresh_token": refreshed["refresh_token"]})
