"""One function per use case of the users service."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from nameko_services.common.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    UnsupportedGrantType,
    UserNotFound,
)
from nameko_services.users import domain
from nameko_services.users.domain import RefreshToken, User
from nameko_services.users.passwords import hash_password, verify_password
from nameko_services.users.ports import UnitOfWork
from nameko_services.users.tokens import TokenSettings, hash_refresh_token, new_refresh_token

BAD_LOGIN = "Invalid username or password."


def _now() -> datetime:
    return datetime.now(UTC)


def register(uow: UnitOfWork, email: str, password: str, name: str) -> User:
    """Open a customer account; the email must be new (case-insensitively)."""
    email = domain.normalise_email(email)
    domain.check_password_policy(password, email)
    with uow:
        if uow.users.get_by_email(email) is not None:
            raise EmailTaken(details={"email": ["An account with this email already exists."]})
        user = User(str(uuid.uuid4()), email, name.strip(), hash_password(password))
        uow.users.add(user)
        uow.commit()  # a concurrent registration loses here with EmailTaken
        return uow.users.get(user.id) or user


def issue_token(uow: UnitOfWork, tokens: TokenSettings, grant: dict[str, Any]) -> dict[str, Any]:
    """The OAuth 2.0 token endpoint: password and refresh_token grants."""
    grant_type = grant.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required.")
    if grant_type == "password":
        return _password_grant(uow, tokens, _param(grant, "username"), _param(grant, "password"),
                               str(grant.get("scope") or "shop"))
    if grant_type == "refresh_token":
        return _refresh_grant(uow, tokens, _param(grant, "refresh_token"))
    raise UnsupportedGrantType(f"grant_type {str(grant_type)[:40]!r} is not supported.")


def _param(grant: dict[str, Any], name: str) -> str:
    value = grant.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{name} is required.")
    return value


def _start_family(uow: UnitOfWork, tokens: TokenSettings, user: User, scope: str) -> dict[str, Any]:
    token, token_hash = new_refresh_token()
    uow.refresh_tokens.add(RefreshToken(str(uuid.uuid4()), str(uuid.uuid4()), user.id, token_hash,
                                        domain.family_expiry(_now(), tokens.refresh_ttl)))
    uow.commit()
    return tokens.response(user.id, user.roles, token, scope)


def _password_grant(uow: UnitOfWork, tokens: TokenSettings, username: str, password: str,
                    scope: str) -> dict[str, Any]:
    with uow:
        user = uow.users.get_by_email(domain.normalise_email(username))
        # Always verify (against a dummy hash when there is no user): same error, same time.
        if not verify_password(user.password_hash if user else None, password) or user is None:
            raise InvalidGrant(BAD_LOGIN)
        return _start_family(uow, tokens, user, scope)


def _refresh_grant(uow: UnitOfWork, tokens: TokenSettings, presented: str) -> dict[str, Any]:
    with uow:
        current = uow.refresh_tokens.lock_by_hash(hash_refresh_token(presented))
        if current is None:
            raise InvalidGrant("The refresh token is not valid.")
        if current.is_spent():
            # A spent token coming back means it leaked: end the whole family.
            uow.refresh_tokens.revoke_family(current.family_id)
            uow.commit()
            raise InvalidGrant("The refresh token was already used; its family is revoked.")
        now = _now()
        user = uow.users.get(current.user_id)
        if current.is_expired(now) or user is None:
            raise InvalidGrant("The refresh token has expired.")
        current.used_at = now
        uow.refresh_tokens.save(current)
        token, token_hash = new_refresh_token()
        uow.refresh_tokens.add(RefreshToken(str(uuid.uuid4()), current.family_id, user.id, token_hash,
                                            current.expires_at))
        uow.commit()
        return tokens.response(user.id, user.roles, token, "shop")


def revoke_token(uow: UnitOfWork, token: str) -> None:
    """RFC 7009: revoke a refresh token's family; unknown tokens are not an error."""
    with uow:
        found = uow.refresh_tokens.lock_by_hash(hash_refresh_token(token))
        if found is not None:
            uow.refresh_tokens.revoke_family(found.family_id)
            uow.commit()


def get_user(uow: UnitOfWork, user_id: str) -> User:
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        return user


def update_profile(uow: UnitOfWork, user_id: str, changes: dict[str, Any]) -> User:
    """Change the caller's name and/or shipping address."""
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        user = replace(user, **changes)
        uow.users.update(user)
        uow.commit()
        return user


def change_password(uow: UnitOfWork, user_id: str, current: str, new: str) -> None:
    """Set a new password after checking the current one; signs out every refresh token."""
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        if not verify_password(user.password_hash, current):
            raise InvalidCredentials(details={"current_password": ["The password is not correct."]})
        domain.check_password_policy(new, user.email)
        uow.users.update(replace(user, password_hash=hash_password(new)))
        uow.refresh_tokens.revoke_all_of_user(user.id)
        uow.commit()


def list_users(uow: UnitOfWork, page: int, per_page: int) -> tuple[list[User], int]:
    """One page of accounts, oldest first."""
    with uow:
        return uow.users.page((page - 1) * per_page, per_page)


def set_roles(uow: UnitOfWork, user_id: str, roles: list[str]) -> User:
    """Replace a user's roles; every account keeps ``customer``."""
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        user = user.with_roles(roles)
        uow.users.update(user)
        uow.commit()
        return user


def ensure_admin(uow: UnitOfWork, email: str, password: str, name: str) -> User:
    """Create the admin account, or grant admin to an existing one (its password unchanged)."""
    with uow:
        user = uow.users.get_by_email(domain.normalise_email(email))
    if user is None:
        user = register(uow, email, password, name)
    return set_roles(uow, user.id, [*user.roles, "admin"])
