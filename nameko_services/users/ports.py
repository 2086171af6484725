"""What the handlers need from storage (SQL in production, in-memory fakes in unit tests)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from nameko_services.common import unit_of_work
from nameko_services.users.authorization import AuthorizationCode
from nameko_services.users.clients import Client
from nameko_services.users.domain import RefreshToken, User
from nameko_services.users.throttle import LoginAttempts


class UserRepository(Protocol):
    """Accounts, found by id or (lower-cased) email."""

    def get(self, user_id: str) -> User | None: ...
    def get_by_email(self, email: str) -> User | None: ...
    def add(self, user: User) -> None:
        """Raises ``EmailTaken`` at commit if the email is taken."""
    def update(self, user: User) -> None: ...
    def page(self, offset: int, limit: int) -> tuple[list[User], int]: ...


class RefreshTokenRepository(Protocol):
    """Refresh tokens, found only by the hash of the token."""

    def add(self, token: RefreshToken) -> None: ...
    def lock_by_hash(self, token_hash: str) -> RefreshToken | None:
        """The token row, locked until the unit of work ends (rotation is a race otherwise)."""
    def save(self, token: RefreshToken) -> None: ...
    def revoke_family(self, family_id: str) -> None: ...
    def revoke_all_of_user(self, user_id: str) -> None: ...
    def purge_expired(self, user_id: str, now: datetime) -> None:
        """Delete the user's tokens whose family has expired: they can never be used again."""


class ClientRepository(Protocol):
    """Registered OAuth clients, by client id."""

    def get(self, client_id: str) -> Client | None: ...
    def add(self, client: Client) -> None: ...
    def ensure(self, client: Client) -> None:
        """Insert unless a client with that id exists (the first-party client, concurrently)."""
    def put(self, client: Client) -> None:
        """Insert, or update its registration (name, redirect URIs, grants, scopes) but not
        whether it is disabled (the storefront's client, which follows the issuer)."""
    def disable(self, client_id: str, now: datetime) -> bool: ...
    def all(self) -> list[Client]: ...


class AuthorizationCodeRepository(Protocol):
    """Authorization codes, found only by the hash of the code."""

    def add(self, code: AuthorizationCode) -> None: ...
    def lock_by_hash(self, code_hash: str) -> AuthorizationCode | None:
        """Locked until the unit of work ends, so a code is redeemed once under any race."""
    def save(self, code: AuthorizationCode) -> None: ...
    def purge_expired(self, now: datetime, keep_redeemed: timedelta) -> None: ...


class UnitOfWork(unit_of_work.UnitOfWork, Protocol):
    """One transaction over the users service's repositories."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...
    @property
    def login_attempts(self) -> LoginAttempts: ...
    @property
    def clients(self) -> ClientRepository: ...
    @property
    def codes(self) -> AuthorizationCodeRepository: ...
