"""Users, roles, the password policy and refresh-token rules; no I/O here."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from nameko_services.common.auth import Principal
from nameko_services.common.errors import NotAuthenticated, PermissionDenied, WeakPassword

ROLES = ("customer", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 128  # argon2 hashes anything, but a megabyte password is a denial of service
COMMON_PASSWORDS = frozenset({
    "password123", "password1234", "1234567890", "12345678910", "qwertyuiop", "qwerty1234",
    "letmein123", "iloveyou12", "welcome123", "administrator", "abc1234567", "passw0rd123",
    "changeme123", "football123", "trustno1234", "0987654321", "1q2w3e4r5t",
})


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

    def with_roles(self, roles: list[str]) -> User:
        # Every account stays a customer; admin is granted on top.
        return replace(self, roles=tuple(r for r in ROLES if r in set(roles) | {"customer"}))


@dataclass
class RefreshToken:
    """One refresh token of a family; the family shares its absolute expiry."""

    id: str
    family_id: str
    user_id: str
    token_hash: str
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime | None = field(default=None)

    def is_spent(self) -> bool:
        return self.used_at is not None or self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def family_expiry(now: datetime, ttl_seconds: int) -> datetime:
    """A family lives ``ttl_seconds`` from the login that started it, however often rotated."""
    return now + timedelta(seconds=ttl_seconds)


def normalise_email(email: str) -> str:
    """Emails are unique case-insensitively; we store them lower-cased."""
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


def require_admin(principal: Principal) -> None:
    """Only admins manage other accounts."""
    if not principal.is_admin:
        raise PermissionDenied("Only an admin may do this.")
