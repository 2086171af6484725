"""PKCE, authorization codes and client registration rules: pure domain, no I/O."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.errors import InvalidInput, InvalidRequest, InvalidScope, UnauthorizedClient
from nameko_services.users import authorization, clients
from nameko_services.users.authorization import Redemption

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CALLBACK = "https://app.test/callback"


def code(**changes):
    issued = authorization.new_code("hash", "app", "user-1", CALLBACK, "shop", CHALLENGE, NOW)
    return issued if not changes else authorization.AuthorizationCode(**{**issued.__dict__, **changes})


def test_the_s256_challenge_matches_the_rfc_7636_example():
    assert authorization.s256(VERIFIER) == CHALLENGE
    assert authorization.verifier_matches(VERIFIER, CHALLENGE)
    assert not authorization.verifier_matches(VERIFIER[:-1] + "j", CHALLENGE)


@pytest.mark.parametrize("verifier", ["short", "x" * 129, VERIFIER[:-1] + "+", ""])
def test_a_verifier_outside_rfc_7636_syntax_never_matches(verifier):
    assert not authorization.verifier_matches(verifier, authorization.s256(verifier or "x"))


@pytest.mark.parametrize(("challenge", "method"), [
    (None, "S256"), (CHALLENGE, "plain"), (CHALLENGE, None), ("too-short", "S256"), (CHALLENGE + "=", "S256"),
])
def test_pkce_is_required_and_only_s256_is_accepted(challenge, method):
    with pytest.raises(InvalidRequest):
        authorization.check_challenge(challenge, method)


def test_a_fresh_code_is_redeemed_by_its_client_redirect_and_verifier_within_60_seconds():
    assert code().expires_at == NOW + timedelta(seconds=60)
    assert code().redemption(NOW + timedelta(seconds=59), "app", CALLBACK, VERIFIER) is Redemption.ISSUE


@pytest.mark.parametrize(("client_id", "redirect_uri", "verifier", "after"), [
    ("other-app", CALLBACK, VERIFIER, 1),            # another client
    ("app", CALLBACK + "/", VERIFIER, 1),            # not the exact redirect URI
    ("app", None, VERIFIER, 1),                      # the redirect URI is required when it was sent
    ("app", CALLBACK, "x" * 43, 1),                  # the wrong verifier
    ("app", CALLBACK, VERIFIER, 60),                 # expired
])
def test_a_code_is_refused_to_anything_it_was_not_bound_to(client_id, redirect_uri, verifier, after):
    outcome = code().redemption(NOW + timedelta(seconds=after), client_id, redirect_uri, verifier)
    assert outcome is Redemption.REFUSED


def test_a_redeemed_code_presented_again_is_reuse_even_when_everything_else_is_right():
    spent = code().redeemed(NOW, "family-1")
    assert spent.family_id == "family-1"
    assert spent.redemption(NOW, "app", CALLBACK, VERIFIER) is Redemption.REUSED


def register(**changes):
    arguments = {"client_id": "id", "name": "Pet Shop", "type_": "public", "secret_hash": None,
                 "redirect_uris": [CALLBACK], "grant_types": [], "scopes": []}
    return clients.new_client(**{**arguments, **changes})


def test_a_public_client_defaults_to_the_code_flow_with_the_user_scope():
    client = register()
    assert client.grant_types == ("authorization_code", "refresh_token") and client.scopes == ("shop",)
    assert client.has_redirect_uri(CALLBACK) and not client.has_redirect_uri(CALLBACK.upper())


def test_a_confidential_client_defaults_to_client_credentials_and_needs_a_machine_scope():
    client = register(type_="confidential", secret_hash="h", redirect_uris=[], scopes=["catalog:write"])
    assert client.grant_types == ("client_credentials",)
    with pytest.raises(InvalidInput) as missing:
        register(type_="confidential", secret_hash="h", redirect_uris=[])
    assert "scopes" in missing.value.details


@pytest.mark.parametrize(("changes", "field"), [
    ({"type_": "trusted"}, "type"),
    ({"name": " "}, "name"),
    ({"grant_types": ["password"]}, "grant_types"),
    ({"grant_types": ["implicit"]}, "grant_types"),
    ({"grant_types": ["client_credentials"], "scopes": ["catalog:write"]}, "grant_types"),  # public
    ({"redirect_uris": []}, "redirect_uris"),
    ({"redirect_uris": ["http://app.test/cb"]}, "redirect_uris"),      # plain http off loopback
    ({"redirect_uris": ["https://app.test/cb#frag"]}, "redirect_uris"),
    ({"redirect_uris": ["/relative"]}, "redirect_uris"),
    ({"redirect_uris": ["https://user:pw@app.test/cb"]}, "redirect_uris"),
    ({"scopes": ["everything"]}, "scopes"),
])
def test_a_registration_breaking_a_rule_names_the_field(changes, field):
    with pytest.raises(InvalidInput) as error:
        register(**changes)
    assert field in error.value.details


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8123/cb", "http://localhost/cb", "http://[::1]:9/cb",
                                 "https://app.test/cb?x=1"])
def test_loopback_http_and_https_redirect_uris_are_accepted(uri):
    assert clients.redirect_uri_problem(uri) is None


def test_scopes_are_split_between_users_and_machines():
    client = register(type_="confidential", secret_hash="h", grant_types=["authorization_code",
                      "client_credentials"], scopes=["shop", "catalog:write"])
    assert client.user_scope(None) == "shop" and client.machine_scope(None) == "catalog:write"
    with pytest.raises(InvalidScope):
        client.user_scope("catalog:write")  # a user cannot hand a third party catalog:write
    with pytest.raises(InvalidScope):
        register().machine_scope(None)


def test_the_password_grant_is_the_first_party_frontends_alone():
    clients.first_party().require_grant("password")
    with pytest.raises(UnauthorizedClient):
        register().require_grant("password")


def test_only_the_first_party_frontend_carries_the_admin_role():
    assert clients.delegated_roles("shop-frontend", ("admin", "customer")) == ("admin", "customer")
    assert clients.delegated_roles("third-party", ("admin", "customer")) == ("customer",)
