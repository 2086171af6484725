"""One function per use case of the users service.

A use case for a signed-in user or an admin is given the caller (``principal``) and checks it
first (``domain.require_user``, ``require_admin``); one with input then reads it through ``read``,
the entrypoint's load of the payload, so a refused caller learns nothing of its rules.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from nameko_services.common.auth import Principal
from nameko_services.common.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
    UserNotFound,
)
from nameko_services.common.pagination import Page
from nameko_services.users import domain, oauth, throttle
from nameko_services.users.clients import delegated_roles
from nameko_services.users.domain import Rotation, User
from nameko_services.users.passwords import hash_password, verify_password
from nameko_services.users.ports import UnitOfWork
from nameko_services.users.throttle import ThrottlePolicy
from nameko_services.users.tokens import TokenSettings, hash_refresh_token, new_refresh_token

log = logging.getLogger(__name__)

BAD_LOGIN = "Invalid username or password."
BAD_REFRESH = "The refresh token is invalid, expired or revoked."
# No implicit grant (RFC 9700 §2.1.2); the password grant is for the first-party frontend only.
GRANT_TYPES = ("password", "refresh_token", "authorization_code", "client_credentials")


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


def register(uow: UnitOfWork, email: str, password: str, name: str) -> User:
    """Open a customer account; the email must be new (case-insensitively)."""
    email = domain.normalise_email(email)
    domain.check_password_policy(password, email)
    with uow:
        if uow.users.get_by_email(email) is not None:
            raise EmailTaken(details={"email": ["An account with this email already exists."]})
        user = User(_new_id(), email, name.strip(), hash_password(password))
        uow.users.add(user)
        uow.commit()  # a concurrent registration of the same email loses here with EmailTaken
        return uow.users.get(user.id) or user


def issue_token(uow: UnitOfWork, tokens: TokenSettings, grant: dict[str, Any],
                client_address: str | None = None,
                policy: ThrottlePolicy = throttle.DEFAULT_POLICY) -> dict[str, Any]:
    """The OAuth 2.0 token endpoint: every grant, after authenticating the client (RFC 6749 §3.2.1)."""
    grant_type = _param(grant, "grant_type")
    scope = grant.get("scope") if isinstance(grant.get("scope"), str) else None
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(f"grant_type {grant_type[:40]!r} is not supported.")
    client = oauth.authenticate_client(uow, grant)
    client.require_grant(grant_type)  # the password grant: only the first-party frontend
    if grant_type == "password":
        user = authenticate(uow, _param(grant, "username"), _param(grant, "password"),
                            client_address, policy)
        return _password_grant(uow, tokens, user, scope)
    if grant_type == "refresh_token":
        return _refresh_grant(uow, tokens, _param(grant, "refresh_token"), scope, client.client_id)
    if grant_type == "client_credentials":
        return oauth.client_credentials_grant(tokens, client, scope)
    return oauth.authorization_code_grant(uow, tokens, client, grant)


def _param(grant: dict[str, Any], name: str) -> str:
    value = grant.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{name} is required.")
    return value


def authenticate(uow: UnitOfWork, username: str, password: str, client_address: str | None,
                 policy: ThrottlePolicy = throttle.DEFAULT_POLICY) -> User:
    """The active account these credentials prove, throttled per account and per address.

    ``LoginThrottled`` (429) while backing off, without checking the password;
    ``InvalidGrant`` for a wrong password and an unknown email alike (same error, same work).
    """
    email = domain.normalise_email(username)
    keys = throttle.keys_for(email, client_address)
    with uow:
        throttle.admit(uow.login_attempts, keys, policy, _now())
        uow.commit()  # counted (as a failure until proven otherwise) before the slow check
    with uow:
        user = uow.users.get_by_email(email)
        # Always verify (against a dummy hash when there is no user): same error, same time.
        if not verify_password(user.password_hash if user else None, password) or user is None:
            raise InvalidGrant(BAD_LOGIN)
        throttle.succeeded(uow.login_attempts, keys, policy, _now())
        uow.commit()
    if not user.is_active:
        raise InvalidGrant("The account is disabled.")
    return user


def _password_grant(uow: UnitOfWork, tokens: TokenSettings, user: User,
                    scope: str | None) -> dict[str, Any]:
    with uow:
        granted = domain.granted_scope(scope, domain.DEFAULT_SCOPE)
        now = _now()
        uow.refresh_tokens.purge_expired(user.id, now)  # keeps the table as small as the live families
        token, token_hash = new_refresh_token()
        uow.refresh_tokens.add(domain.start_family(_new_id(), _new_id(), user.id, token_hash,
                                                   domain.DEFAULT_SCOPE, now, tokens.refresh_ttl))
        uow.commit()
        return tokens.response(user.id, user.roles, token, granted)


def _refresh_grant(uow: UnitOfWork, tokens: TokenSettings, presented: str,
                   scope: str | None, client_id: str) -> dict[str, Any]:
    with uow:
        # Locked until commit: of two concurrent refreshes the second sees the token spent.
        current = uow.refresh_tokens.lock_by_hash(hash_refresh_token(presented))
        if current is None:
            raise InvalidGrant(BAD_REFRESH)
        now = _now()
        rotation = current.rotation(now)
        if rotation is Rotation.REUSED:
            uow.refresh_tokens.revoke_family(current.family_id)
            uow.commit()
            log.warning("Refresh token reused; its family is revoked.",
                        extra={"user_id": current.user_id, "family_id": current.family_id})
            raise InvalidGrant(BAD_REFRESH)
        user = uow.users.get(current.user_id)
        if (rotation is Rotation.EXPIRED or user is None or not user.is_active
                or current.client_id != client_id):  # RFC 6749 §6: bound to the client it was issued to
            raise InvalidGrant(BAD_REFRESH)
        granted = domain.granted_scope(scope, current.scope)
        token, token_hash = new_refresh_token()
        uow.refresh_tokens.save(current.spent(now))
        uow.refresh_tokens.add(current.successor(_new_id(), token_hash))
        uow.commit()
        return tokens.response(user.id, delegated_roles(client_id, user.roles), token, granted,
                               client_id=client_id)


def revoke_token(uow: UnitOfWork, token: str, client_params: dict[str, Any] | None = None) -> None:
    """RFC 7009: revoke a refresh token's whole family; unknown tokens are not an error.

    The client is authenticated first (none named: the first-party frontend) and may revoke
    only its own tokens (§2.1).
    """
    client = oauth.authenticate_client(uow, client_params or {})
    with uow:
        found = uow.refresh_tokens.lock_by_hash(hash_refresh_token(token))
        if found is not None and found.client_id != client.client_id:
            raise UnauthorizedClient("This token was not issued to this client.")
        if found is not None:
            uow.refresh_tokens.revoke_family(found.family_id)
            uow.commit()


def get_me(uow: UnitOfWork, principal: Principal) -> User:
    """The caller's own account."""
    user_id = domain.require_user(principal)
    with uow:
        return _existing(uow, user_id)


def get_user(uow: UnitOfWork, principal: Principal, user_id: str) -> User:
    """One account (admins); ``UserNotFound`` for unknown or malformed ids."""
    domain.require_admin(principal)
    with uow:
        return _existing(uow, user_id)


def _existing(uow: UnitOfWork, user_id: str) -> User:
    user = uow.users.get(user_id)
    if user is None:
        raise UserNotFound()
    return user


def update_profile(uow: UnitOfWork, principal: Principal, read: Callable[[], dict[str, Any]]) -> User:
    """Change the caller's name and/or shipping address."""
    user_id = domain.require_user(principal)
    changes = read()
    if "name" in changes:
        changes = {**changes, "name": changes["name"].strip()}
    with uow:
        user = replace(_existing(uow, user_id), **changes)
        uow.users.update(user)
        uow.commit()
        return user


def change_password(uow: UnitOfWork, principal: Principal, read: Callable[[], dict[str, Any]]) -> None:
    """Set a new password after checking the current one; ends every refresh-token family.

    ``read`` gives ``current_password`` and ``new_password``.
    """
    user_id = domain.require_user(principal)
    passwords = read()
    current, new = passwords["current_password"], passwords["new_password"]
    with uow:
        user = _existing(uow, user_id)
        if not verify_password(user.password_hash, current):
            raise InvalidCredentials(details={"current_password": ["The password is not correct."]})
        domain.check_password_policy(new, user.email)
        uow.users.update(replace(user, password_hash=hash_password(new)))
        uow.refresh_tokens.revoke_all_of_user(user.id)
        uow.commit()


def list_users(uow: UnitOfWork, principal: Principal, read: Callable[[], dict[str, int]]) -> Page[User]:
    """One page of accounts, oldest first (admins; ``read`` gives ``page`` and ``per_page``)."""
    domain.require_admin(principal)
    query = read()
    page, per_page = query["page"], query["per_page"]
    with uow:
        users, total = uow.users.page((page - 1) * per_page, per_page)
    return Page(users, total, page, per_page)


def set_roles(uow: UnitOfWork, principal: Principal, user_id: str,
              read: Callable[[], dict[str, list[str]]]) -> User:
    """Replace a user's roles (admins; ``read`` gives ``roles``); every account keeps ``customer``."""
    domain.require_admin(principal)
    return _set_roles(uow, user_id, read()["roles"])


def _set_roles(uow: UnitOfWork, user_id: str, roles: list[str]) -> User:
    with uow:
        user = _existing(uow, user_id).with_roles(roles)
        uow.users.update(user)
        uow.commit()
        return user


def ensure_admin(uow: UnitOfWork, email: str, password: str, name: str) -> User:
    """Create the admin account, or grant admin to an existing one (its password unchanged)."""
    with uow:
        user = uow.users.get_by_email(domain.normalise_email(email))
    if user is None:
        user = register(uow, email, password, name)
    if user.is_admin:
        return user
    return _set_roles(uow, user.id, [*user.roles, "admin"])
