"""OAuth 2.0 clients: what a client may be registered with and what it may ask for; no I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from nameko_services.common.auth import FIRST_PARTY_CLIENT, MACHINE_SCOPES
from nameko_services.common.errors import InvalidInput, InvalidScope, UnauthorizedClient
from nameko_services.users.domain import USER_SCOPES, granted_scope

CLIENT_TYPES = ("public", "confidential")
# Never the implicit grant (RFC 9700 §2.1.2); the password grant only for the first party.
REGISTRABLE_GRANTS = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_GRANTS = {"public": ("authorization_code", "refresh_token"),
                  "confidential": ("client_credentials",)}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# The storefront the gateway serves (web/): a public client of the authorization code flow,
# first-party like the password grant's frontend, redirected back to <issuer>/callback.
STOREFRONT_CLIENT = "shop-storefront"
STOREFRONT_CALLBACK = "/callback"
FIRST_PARTY_CLIENTS = (FIRST_PARTY_CLIENT, STOREFRONT_CLIENT)
MAX_REDIRECT_URIS = 10


@dataclass(frozen=True)
class Client:
    """A registered OAuth client; confidential ones keep an argon2id hash of their secret."""

    client_id: str
    name: str
    type: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    created_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def is_confidential(self) -> bool:
        return self.type == "confidential"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def require_grant(self, grant_type: str) -> None:
        """RFC 6749 §5.2 ``unauthorized_client`` for a grant the client was not registered for."""
        if grant_type not in self.grant_types:
            raise UnauthorizedClient(f"This client may not use grant_type {grant_type[:40]!r}.")

    def has_redirect_uri(self, uri: str) -> bool:
        """Exact string match (RFC 9700 §2.1): no prefixes, no patterns, no normalisation."""
        return uri in self.redirect_uris

    def user_scope(self, requested: str | None) -> str:
        """The scope a user delegates to this client: within the client's and a user's scopes."""
        return _within(requested, [s for s in self.scopes if s in USER_SCOPES])

    def machine_scope(self, requested: str | None) -> str:
        """The scope of a client-credentials token: within the machine scopes it was given."""
        return _within(requested, [s for s in self.scopes if s in MACHINE_SCOPES])


def _within(requested: str | None, allowed: list[str]) -> str:
    if not allowed:
        raise InvalidScope("This client was granted no scope for this kind of token.")
    return granted_scope(requested, " ".join(allowed))


def delegated_roles(client_id: str, roles: tuple[str, ...]) -> tuple[str, ...]:
    """Roles a user's token carries: admin powers only through the first-party frontend, so a
    third-party app an admin signs in to acts as a customer."""
    return roles if client_id in FIRST_PARTY_CLIENTS else tuple(r for r in roles if r == "customer")


def first_party() -> Client:
    """The first-party frontend: public, password and refresh_token grants, user scopes."""
    return Client(FIRST_PARTY_CLIENT, "nameko-shop frontend", "public", None, (),
                  ("password", "refresh_token"), USER_SCOPES)


def storefront(issuer: str) -> Client:
    """The storefront's client: its one redirect URI is on the gateway, which is the issuer."""
    return Client(STOREFRONT_CLIENT, "nameko-shop storefront", "public", None,
                  (issuer.rstrip("/") + STOREFRONT_CALLBACK,), ("authorization_code", "refresh_token"),
                  USER_SCOPES)


def new_client(client_id: str, name: str, type_: str, secret_hash: str | None,
               redirect_uris: list[str], grant_types: list[str], scopes: list[str]) -> Client:
    """A client to register; ``InvalidInput`` names every field that breaks the rules."""
    grants = tuple(dict.fromkeys(grant_types)) or DEFAULT_GRANTS.get(type_, ())
    wanted_scopes = tuple(dict.fromkeys(scopes)) or (USER_SCOPES if "authorization_code" in grants else ())
    problems = _problems(name, type_, tuple(redirect_uris), grants, wanted_scopes)
    if problems:
        raise InvalidInput("The client registration is invalid.", problems)
    return Client(client_id, name.strip(), type_, secret_hash, tuple(dict.fromkeys(redirect_uris)),
                  grants, wanted_scopes)


def _problems(name: str, type_: str, uris: tuple[str, ...], grants: tuple[str, ...],
              scopes: tuple[str, ...]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if not name.strip() or len(name) > 100:
        add("name", "Must be 1 to 100 characters.")
    if type_ not in CLIENT_TYPES:
        add("type", f"Must be one of {', '.join(CLIENT_TYPES)}.")
    for grant in grants:
        if grant not in REGISTRABLE_GRANTS:
            add("grant_types", f"{grant!r} cannot be registered; use {', '.join(REGISTRABLE_GRANTS)}.")
    if "client_credentials" in grants and type_ != "confidential":
        add("grant_types", "client_credentials needs a confidential client (RFC 6749 §4.4).")
    if "authorization_code" in grants and not uris:
        add("redirect_uris", "authorization_code needs at least one redirect URI.")
    if "client_credentials" in grants and not set(scopes) & set(MACHINE_SCOPES):
        add("scopes", f"A machine client needs one of {', '.join(MACHINE_SCOPES)}.")
    for scope in scopes:
        if scope not in (*USER_SCOPES, *MACHINE_SCOPES):
            add("scopes", f"Unknown scope {scope!r}; known: {', '.join((*USER_SCOPES, *MACHINE_SCOPES))}.")
    if len(uris) > MAX_REDIRECT_URIS:
        add("redirect_uris", f"At most {MAX_REDIRECT_URIS}.")
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            add("redirect_uris", f"{uri[:200]!r}: {problem}")
    return problems


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be registered: absolute https (http only on loopback), no fragment."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "Not a valid URL."
    if len(uri) > 500 or not parts.netloc or parts.fragment or "#" in uri or any(c.isspace() for c in uri):
        return "Must be an absolute URL without a fragment, at most 500 characters."
    if "@" in parts.netloc:
        return "Must not carry credentials."
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return None
    return "Must use https (http only for a loopback address, RFC 8252 §7.3)."
