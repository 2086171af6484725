"""Use cases of OAuth clients at the authorization server: client authentication, the
client-credentials grant and the authorization-code grant with PKCE (RFC 6749 §4.1, §4.4, RFC 7636).
Registration is in ``client_registry``."""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nameko_services.common.auth import FIRST_PARTY_CLIENT
from nameko_services.common.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    OAuthError,
)
from nameko_services.users import authorization, clients, domain
from nameko_services.users.authorization import Redemption
from nameko_services.users.clients import Client
from nameko_services.users.domain import User
from nameko_services.users.passwords import verify_password
from nameko_services.users.ports import UnitOfWork
from nameko_services.users.tokens import TokenSettings, new_refresh_token

log = logging.getLogger(__name__)

BAD_CODE = "The authorization code is invalid, expired or was already used."
BAD_CLIENT = "Client authentication failed."


def _now() -> datetime:
    return datetime.now(UTC)


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value else None


def _hash(code: str) -> str:
    # SHA-256 is enough: codes are 256 random bits and live 60 seconds.
    return hashlib.sha256(code.encode()).hexdigest()


# --- client authentication (RFC 6749 §2.3) ----------------------------------------

def authenticate_client(uow: UnitOfWork, params: dict[str, Any]) -> Client:
    """The active client a token request comes from; none named means the first-party frontend."""
    client_id = _text(params, "client_id") or FIRST_PARTY_CLIENT
    secret = _text(params, "client_secret")
    client = _client(uow, client_id)
    if client is None or not client.is_active:
        verify_password(None, secret or "")  # as slow as a wrong secret: no probing for client ids
        raise InvalidClient(BAD_CLIENT)
    if client.is_confidential and not (secret and verify_password(client.secret_hash, secret)):
        raise InvalidClient(BAD_CLIENT)
    if not client.is_confidential and secret is not None:
        raise InvalidClient("A public client has no secret.")
    return client


def _client(uow: UnitOfWork, client_id: str) -> Client | None:
    with uow:
        client = uow.clients.get(client_id)
        if client is None and client_id == FIRST_PARTY_CLIENT:
            uow.clients.ensure(clients.first_party())  # the frontend works even on a bare database
            uow.commit()
            client = uow.clients.get(client_id)
        return client


def client_credentials_grant(tokens: TokenSettings, client: Client, scope: str | None) -> dict[str, Any]:
    """RFC 6749 §4.4: an access token for the client itself, no refresh token."""
    return tokens.client_response(client.client_id, client.machine_scope(scope))


# --- authorization code + PKCE --------------------------------------------------------

class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1; only ever sent to the redirect URI, so it never crosses RPC."""

    code = "unsupported_response_type"


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated ``/authorize`` request (RFC 6749 §4.1.1 with RFC 7636 §4.3)."""

    client_id: str
    client_name: str
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str

    def as_dict(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "client_name": self.client_name,
                "redirect_uri": self.redirect_uri, "scope": self.scope, "state": self.state,
                "code_challenge": self.code_challenge, "code_challenge_method": "S256"}


def check_authorization(uow: UnitOfWork, params: dict[str, Any], issuer: str) -> dict[str, Any]:
    """Validate an authorization request.

    A bad client or redirect URI raises (the gateway shows an error page, never redirects to an
    unverified URI, RFC 6749 §4.1.2.1); any other problem comes back as ``{"error",
    "error_description", "redirect_uri", "state"}`` for the gateway to send to the client.
    """
    client, redirect_uri = _client_and_redirect(uow, params, issuer)
    try:
        return validated_request(client, redirect_uri, params).as_dict()
    except OAuthError as error:
        return {"error": error.code, "error_description": error.message,
                "redirect_uri": redirect_uri, "state": _text(params, "state")}


def _client_and_redirect(uow: UnitOfWork, params: dict[str, Any], issuer: str) -> tuple[Client, str]:
    client_id, redirect_uri = _text(params, "client_id"), _text(params, "redirect_uri")
    if client_id is None or redirect_uri is None:
        raise InvalidRequest("client_id and redirect_uri are required.")
    with uow:
        client = uow.clients.get(client_id)
        if client_id == clients.STOREFRONT_CLIENT:
            client = _current_storefront(uow, client, issuer)
    if client is None or not client.is_active or "authorization_code" not in client.grant_types:
        raise InvalidClient("Unknown client, or it may not use the authorization code flow.")
    if not client.has_redirect_uri(redirect_uri):
        raise InvalidRequest("redirect_uri is not registered for this client.")
    return client, redirect_uri


def _current_storefront(uow: UnitOfWork, client: Client | None, issuer: str) -> Client | None:
    """The storefront's client, registered on its first sign-in and kept at this issuer's callback
    (the storefront works on a bare database, and after the gateway's address changes)."""
    wanted = clients.storefront(issuer)
    if client is None or client.redirect_uris != wanted.redirect_uris:
        uow.clients.put(wanted)
        uow.commit()
        client = uow.clients.get(wanted.client_id)
    return client


def validated_request(client: Client, redirect_uri: str, params: dict[str, Any]) -> AuthorizationRequest:
    """The request's remaining parameters, each checked; ``OAuthError`` names the first problem."""
    if params.get("response_type") != "code":
        raise UnsupportedResponseType("Only response_type=code is supported.")
    challenge = authorization.check_challenge(_text(params, "code_challenge"),
                                              _text(params, "code_challenge_method"))
    state = _text(params, "state")
    if state is not None and len(state) > 500:
        raise InvalidRequest("state is too long.")
    return AuthorizationRequest(client.client_id, client.name, redirect_uri,
                                client.user_scope(_text(params, "scope")), state, challenge)


def issue_code(uow: UnitOfWork, params: dict[str, Any], user: User, issuer: str) -> dict[str, Any]:
    """The user approved: a single-use code bound to client, redirect URI and challenge."""
    client, redirect_uri = _client_and_redirect(uow, params, issuer)
    request = validated_request(client, redirect_uri, params)
    code = secrets.token_urlsafe(32)
    with uow:
        now = _now()
        uow.codes.purge_expired(now, authorization.KEEP_REDEEMED)
        uow.codes.add(authorization.new_code(_hash(code), client.client_id, user.id, redirect_uri,
                                             request.scope, request.code_challenge, now))
        uow.commit()
    return {"redirect_uri": redirect_uri, "code": code, "state": request.state}


def authorization_code_grant(uow: UnitOfWork, tokens: TokenSettings, client: Client,
                             params: dict[str, Any]) -> dict[str, Any]:
    """RFC 6749 §4.1.3 + RFC 7636 §4.5: exchange a code and its verifier for tokens, once."""
    code, verifier = _text(params, "code"), _text(params, "code_verifier")
    if code is None or verifier is None:
        raise InvalidRequest("code and code_verifier are required.")
    with uow:
        found = uow.codes.lock_by_hash(_hash(code))  # locked: of two redemptions one sees it spent
        if found is None:
            raise InvalidGrant(BAD_CODE)
        now = _now()
        outcome = found.redemption(now, client.client_id, _text(params, "redirect_uri"), verifier)
        if outcome is Redemption.REUSED:
            _revoke_what_it_issued(uow, found.family_id, found.client_id)
            raise InvalidGrant(BAD_CODE)
        user = uow.users.get(found.user_id)
        if outcome is Redemption.REFUSED or user is None or not user.is_active:
            raise InvalidGrant(BAD_CODE)
        token, token_hash = new_refresh_token()
        family = domain.start_family(str(uuid.uuid4()), str(uuid.uuid4()), user.id, token_hash,
                                     found.scope, now, tokens.refresh_ttl, client_id=client.client_id)
        uow.refresh_tokens.add(family)
        uow.codes.save(found.redeemed(now, family.family_id))
        uow.commit()
        return tokens.response(user.id, clients.delegated_roles(client.client_id, user.roles), token,
                               found.scope, client_id=client.client_id)


def _revoke_what_it_issued(uow: UnitOfWork, family_id: str | None, client_id: str) -> None:
    # Access tokens are self-contained JWTs and expire on their own (minutes); the refresh
    # family is what would keep a thief in, so that is what ends here.
    if family_id is not None:
        uow.refresh_tokens.revoke_family(family_id)
        uow.commit()
    log.warning("Authorization code reused; what it issued is revoked.",
                extra={"client_id": client_id, "family_id": family_id})
