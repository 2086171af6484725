"""The users nameko service: thin entrypoints that load, hand the caller to the use case and dump."""
from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Any

from nameko.extensions import DependencyProvider

from nameko_services.common.db import Database
from nameko_services.common.keys import load_public_keys, load_signing_key
from nameko_services.common.rpc import rpc
from nameko_services.common.service import ShopService
from nameko_services.common.validation import load
from nameko_services.users import handlers, oauth, schemas
from nameko_services.users.repository import SqlUnitOfWork
from nameko_services.users.throttle import ThrottlePolicy
from nameko_services.users.tokens import TokenSettings

Json = dict[str, Any]
KEY_CHECK_INTERVAL = 5.0  # seconds; ops/keys.py adds it to the wait before a key is retired


class Tokens(DependencyProvider):
    """Token signing settings from config; the access key is re-read every few seconds so
    ``shopctl rotate-key`` takes effect in every running instance without a restart."""

    def setup(self) -> None:
        config = self.container.config
        self.settings = TokenSettings(
            key=load_signing_key("access"), issuer=config["TOKEN_ISSUER"],
            audience=config["TOKEN_AUDIENCE"], access_ttl=int(config["ACCESS_TOKEN_TTL"]),
            refresh_ttl=int(config["REFRESH_TOKEN_TTL"]), published=lambda: load_public_keys("access"))
        self.checked_at = time.monotonic()

    def get_dependency(self, worker_ctx: Any) -> TokenSettings:
        if time.monotonic() - self.checked_at >= KEY_CHECK_INTERVAL:
            self.checked_at = time.monotonic()
            key = load_signing_key("access")
            if key.kid != self.settings.key.kid:
                self.settings = replace(self.settings, key=key)
        return self.settings


class LoginThrottle(DependencyProvider):
    """The login throttle policy from the ``LOGIN_THROTTLE`` config section."""

    def setup(self) -> None:
        self.policy = ThrottlePolicy.from_config(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> ThrottlePolicy:
        return self.policy


class UsersService(ShopService):
    """Accounts, profiles, roles and OAuth 2.0 tokens."""

    name = "users"

    db = Database("core")
    tokens = Tokens()
    login_throttle = LoginThrottle()

    @property
    def uow(self) -> SqlUnitOfWork:
        """A unit of work over this worker's session."""
        return SqlUnitOfWork(self.db)

    @rpc
    def register(self, payload: Json) -> Json:
        """Open a customer account."""
        data = load(schemas.RegisterSchema, payload)
        return schemas.dump_user(handlers.register(self.uow, data["email"], data["password"], data["name"]))

    @rpc
    def issue_token(self, grant: Json, client_address: str | None = None) -> Json:
        """OAuth 2.0 token endpoint: password and refresh_token grants (throttled per address)."""
        address = client_address if isinstance(client_address, str) and client_address else None
        return handlers.issue_token(self.uow, self.tokens, grant if isinstance(grant, dict) else {},
                                    address, self.login_throttle)

    @rpc
    def revoke_token(self, token: str, token_type_hint: str | None = None,
                     client: Json | None = None) -> None:
        """RFC 7009 revocation of a refresh token's family by the client it was issued to (``client``:
        ``client_id`` / ``client_secret``; none means the first-party frontend); unknown tokens succeed."""
        if isinstance(token, str) and token:
            handlers.revoke_token(self.uow, token, client if isinstance(client, dict) else None)

    @rpc
    def check_authorization(self, request: Json) -> Json:
        """Validate an OAuth authorization request (the login and consent page asks first)."""
        return oauth.check_authorization(self.uow, request if isinstance(request, dict) else {},
                                         self.tokens.issuer)

    @rpc
    def approve_authorization(self, request: Json, username: str, password: str,
                              client_address: str | None = None) -> Json:
        """The user signed in and approved: an authorization code (signing in is throttled as a login)."""
        user = handlers.authenticate(self.uow, str(username), str(password),
                                     client_address if isinstance(client_address, str) else None,
                                     self.login_throttle)
        return oauth.issue_code(self.uow, request if isinstance(request, dict) else {}, user,
                                self.tokens.issuer)

    @rpc
    def get_jwks(self) -> Json:
        """The public keys that sign access tokens."""
        return self.tokens.jwks()

    @rpc
    def get_me(self) -> Json:
        """The caller's profile."""
        return schemas.dump_user(handlers.get_me(self.uow, self.caller))

    @rpc
    def update_me(self, changes: Json) -> Json:
        """Change the caller's name or shipping address."""
        read = partial(load, schemas.UpdateProfileSchema, changes)
        return schemas.dump_user(handlers.update_profile(self.uow, self.caller, read))

    @rpc
    def change_password(self, current_password: str, new_password: str) -> None:
        """Change the caller's password; every refresh token is revoked."""
        read = partial(load, schemas.ChangePasswordSchema, {
            "current_password": current_password, "new_password": new_password})
        handlers.change_password(self.uow, self.caller, read)

    @rpc
    def list_users(self, page: int = 1, per_page: int = 20) -> Json:
        """A page of accounts (admin)."""
        read = partial(load, schemas.PageSchema, {"page": page, "per_page": per_page})
        return handlers.list_users(self.uow, self.caller, read).document(schemas.dump_user)

    @rpc
    def get_user(self, user_id: str) -> Json:
        """One account (admin)."""
        return schemas.dump_user(handlers.get_user(self.uow, self.caller, user_id))

    @rpc
    def set_roles(self, user_id: str, roles: list[str]) -> Json:
        """Replace an account's roles (admin); ``customer`` is always kept."""
        read = partial(load, schemas.RolesSchema, {"roles": roles})
        return schemas.dump_user(handlers.set_roles(self.uow, self.caller, user_id, read))
