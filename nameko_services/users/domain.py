"""Users, roles, the password policy, OAuth scopes and refresh-token family rules; no I/O here."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from nameko_services.common.auth import FIRST_PARTY_CLIENT, Principal
from nameko_services.common.errors import InvalidScope, NotAuthenticated, PermissionDenied, WeakPassword

ROLES = ("customer", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 128  # argon2 hashes anything, but a megabyte password is a denial of service
COMMON_PASSWORDS = frozenset({
    "password123", "password1234", "1234567890", "12345678910", "qwertyuiop", "qwerty1234",
    "letmein123", "iloveyou12", "welcome123", "administrator", "abc1234567", "passw0rd123",
    "changeme123", "football123", "trustno1234", "0987654321", "1q2w3e4r5t", "qwertyuiop123",
    "password12345", "1qaz2wsx3edc", "sunshine123", "princess123", "monkey12345", "dragon12345",
})
# What an account may ask for in the OAuth ``scope`` parameter (RFC 6749 §3.3).
USER_SCOPES = ("shop",)
DEFAULT_SCOPE = "shop"


@dataclass(frozen=True)
class User:
    """A registered account."""

    id: str
    email: str
    name: str
    password_hash: str
    roles: tuple[str, ...] = ("customer",)
    shipping_address: dict[str, Any] | None = None
    created_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        """Disabled accounts keep their data but get no tokens."""
        return self.disabled_at is None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def with_roles(self, roles: list[str]) -> User:
        """The account with ``roles``; every account stays a customer, admin comes on top."""
        return replace(self, roles=tuple(r for r in ROLES if r in set(roles) | {"customer"}))


class Rotation(Enum):
    """What presenting a refresh token leads to."""

    ROTATE = "rotate"    # spend it, issue its successor
    REUSED = "reused"    # already spent or revoked: it leaked, end the family
    EXPIRED = "expired"  # the family outlived its absolute lifetime


@dataclass(frozen=True)
class RefreshToken:
    """One refresh token of a family; the family shares its scope and absolute expiry."""

    id: str
    family_id: str
    user_id: str
    token_hash: str
    scope: str
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    client_id: str = FIRST_PARTY_CLIENT  # a refresh token only works for the client it was issued to

    def is_spent(self) -> bool:
        return self.used_at is not None or self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def rotation(self, now: datetime) -> Rotation:
        """Reuse is checked first: a spent token is a leak even after the family expired."""
        if self.is_spent():
            return Rotation.REUSED
        return Rotation.EXPIRED if self.is_expired(now) else Rotation.ROTATE

    def spent(self, now: datetime) -> RefreshToken:
        return replace(self, used_at=now)

    def successor(self, token_id: str, token_hash: str) -> RefreshToken:
        """The next token of the family: same user, client, scope and absolute expiry."""
        return RefreshToken(token_id, self.family_id, self.user_id, token_hash, self.scope,
                            self.expires_at, client_id=self.client_id)


def start_family(token_id: str, family_id: str, user_id: str, token_hash: str, scope: str,
                 now: datetime, ttl_seconds: int, client_id: str = FIRST_PARTY_CLIENT) -> RefreshToken:
    """The first token of a family, which lives ``ttl_seconds`` from this login however often rotated."""
    return RefreshToken(token_id, family_id, user_id, token_hash, scope,
                        now + timedelta(seconds=ttl_seconds), client_id=client_id)


def granted_scope(requested: str | None, allowed: str) -> str:
    """RFC 6749 §3.3: a request may narrow the ``allowed`` scope, never widen it; none asks for all."""
    wanted = (requested or "").split()
    if not wanted:
        return allowed
    if not set(wanted) <= set(allowed.split()):
        raise InvalidScope(f"Allowed scope: {allowed!r}.")
    return " ".join(dict.fromkeys(wanted))


def normalise_email(email: str) -> str:
    """Emails are unique case-insensitively; we store them trimmed and lower-cased."""
    return email.strip().lower()


def password_problems(password: str, email: str = "") -> list[str]:
    """Every way ``password`` breaks the policy (empty when it is fine)."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"Must be at least {MIN_PASSWORD} characters long.")
    if len(password) > MAX_PASSWORD:
        problems.append(f"Must be at most {MAX_PASSWORD} characters long.")
    if password and len(set(password)) == 1:
        problems.append("Must not repeat a single character.")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("Is too common.")
    local = normalise_email(email).split("@")[0]
    if len(local) >= 3 and local in password.lower():
        problems.append("Must not contain the email address.")
    return problems


def check_password_policy(password: str, email: str = "") -> None:
    """Raise ``WeakPassword`` naming every problem."""
    problems = password_problems(password, email)
    if problems:
        raise WeakPassword(details={"password": problems})


def require_user(principal: Principal) -> str:
    """The calling user's id; anonymous callers are refused."""
    if not principal.user_id:
        raise NotAuthenticated("Sign in to do this.")
    return principal.user_id


def require_admin(principal: Principal) -> str:
    """Only admins manage other accounts; anonymous callers must sign in first."""
    user_id = require_user(principal)
    if not principal.is_admin:
        raise PermissionDenied("Only an admin may do this.")
    return user_id
