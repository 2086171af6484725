"""SQL repositories and the unit of work of the users service."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nameko_services.common import unit_of_work
from nameko_services.common.errors import EmailTaken
from nameko_services.users.authorization import AuthorizationCode
from nameko_services.users.clients import Client
from nameko_services.users.domain import RefreshToken, User
from nameko_services.users.models import (
    EMAIL_UNIQUE_INDEX,
    AuthorizationCodeRow,
    LoginThrottleRow,
    OAuthClientRow,
    RefreshTokenRow,
    UserRow,
)
from nameko_services.users.throttle import Counter, ThrottleKey


def _as_uuid(value: str) -> uuid.UUID | None:
    """Malformed ids find nothing (a 404), never a database error."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _locked(session: Session, column: Any, value: str) -> Any:
    """The row whose unique ``column`` is ``value``, locked until the unit of work ends and read
    afresh (not the session's cached copy): what a single-use secret is redeemed under."""
    return session.scalars(select(column.class_).where(column == value).with_for_update()
                           .execution_options(populate_existing=True)).first()


def _user(row: UserRow) -> User:
    return User(str(row.id), row.email, row.name, row.password_hash, tuple(row.roles),
                row.shipping_address, row.created_at, row.disabled_at)


def _token(row: RefreshTokenRow) -> RefreshToken:
    return RefreshToken(str(row.id), str(row.family_id), str(row.user_id), row.token_hash, row.scope,
                        row.expires_at, row.used_at, row.revoked_at, row.client_id)


class SqlUsers:
    """Accounts in the ``users`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: str) -> User | None:
        key = _as_uuid(user_id)
        row = self.session.get(UserRow, key) if key else None
        return None if row is None else _user(row)

    def get_by_email(self, email: str) -> User | None:
        # lower() on both sides so the lookup uses the unique index on lower(email).
        row = self.session.scalars(select(UserRow).where(func.lower(UserRow.email) == email.lower())).first()
        return None if row is None else _user(row)

    def add(self, user: User) -> None:
        self.session.add(UserRow(id=uuid.UUID(user.id), email=user.email, name=user.name,
                                 password_hash=user.password_hash, roles=list(user.roles),
                                 shipping_address=user.shipping_address, disabled_at=user.disabled_at))

    def update(self, user: User) -> None:
        self.session.execute(update(UserRow).where(UserRow.id == uuid.UUID(user.id)).values(
            name=user.name, password_hash=user.password_hash, roles=list(user.roles),
            shipping_address=user.shipping_address, disabled_at=user.disabled_at))

    def page(self, offset: int, limit: int) -> tuple[list[User], int]:
        rows = self.session.scalars(select(UserRow).order_by(UserRow.created_at, UserRow.id)
                                    .offset(offset).limit(limit))
        users = [_user(row) for row in rows]
        total = self.session.scalar(select(func.count()).select_from(UserRow)) or 0
        return users, total


class SqlRefreshTokens:
    """Refresh tokens (by hash) in the ``refresh_tokens`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: RefreshToken) -> None:
        self.session.add(RefreshTokenRow(
            id=uuid.UUID(token.id), family_id=uuid.UUID(token.family_id),
            user_id=uuid.UUID(token.user_id), token_hash=token.token_hash, scope=token.scope,
            expires_at=token.expires_at, used_at=token.used_at, revoked_at=token.revoked_at,
            client_id=token.client_id))

    def lock_by_hash(self, token_hash: str) -> RefreshToken | None:
        row = _locked(self.session, RefreshTokenRow.token_hash, token_hash)
        return None if row is None else _token(row)

    def save(self, token: RefreshToken) -> None:
        self.session.execute(update(RefreshTokenRow).where(RefreshTokenRow.id == uuid.UUID(token.id))
                             .values(used_at=token.used_at, revoked_at=token.revoked_at))

    def revoke_family(self, family_id: str) -> None:
        self._revoke(RefreshTokenRow.family_id == uuid.UUID(family_id))

    def revoke_all_of_user(self, user_id: str) -> None:
        self._revoke(RefreshTokenRow.user_id == uuid.UUID(user_id))

    def purge_expired(self, user_id: str, now: datetime) -> None:
        self.session.execute(delete(RefreshTokenRow).where(
            RefreshTokenRow.user_id == uuid.UUID(user_id), RefreshTokenRow.expires_at <= now))

    def _revoke(self, condition: ColumnElement[bool]) -> None:
        self.session.execute(update(RefreshTokenRow)
                             .where(condition, RefreshTokenRow.revoked_at.is_(None))
                             .values(revoked_at=datetime.now(UTC)))


SWEEP_LIMIT = 1000  # stale throttle rows dropped per successful sign-in, at most


class SqlLoginAttempts:
    """Login throttle counters in the ``login_throttle`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, keys: list[ThrottleKey]) -> dict[ThrottleKey, Counter]:
        # Insert-if-missing first, so there is always a row to lock: a concurrent first attempt
        # on a new key waits here instead of both seeing "no failures yet".
        self.session.execute(insert(LoginThrottleRow).values(
            [{"scope": key.scope, "key_hash": key.key_hash} for key in keys]).on_conflict_do_nothing())
        rows = self.session.scalars(
            select(LoginThrottleRow)
            .where(tuple_(LoginThrottleRow.scope, LoginThrottleRow.key_hash).in_(
                [(key.scope, key.key_hash) for key in keys]))
            .order_by(LoginThrottleRow.scope, LoginThrottleRow.key_hash)
            .with_for_update().execution_options(populate_existing=True))
        return {ThrottleKey(row.scope, row.key_hash): Counter(row.failures, row.last_failure_at)
                for row in rows}

    def save(self, key: ThrottleKey, counter: Counter) -> None:
        self.session.execute(update(LoginThrottleRow).where(
            LoginThrottleRow.scope == key.scope, LoginThrottleRow.key_hash == key.key_hash).values(
            failures=counter.failures, last_failure_at=counter.last_failure_at))

    def forget(self, key: ThrottleKey) -> None:
        self.session.execute(delete(LoginThrottleRow).where(
            LoginThrottleRow.scope == key.scope, LoginThrottleRow.key_hash == key.key_hash))

    def forget_quiet_since(self, moment: datetime) -> None:
        # SKIP LOCKED: a sweep never waits for (or deadlocks with) a sign-in holding a row.
        stale = (select(LoginThrottleRow.scope, LoginThrottleRow.key_hash)
                 .where(LoginThrottleRow.updated_at < moment)
                 .limit(SWEEP_LIMIT).with_for_update(skip_locked=True))
        self.session.execute(delete(LoginThrottleRow).where(
            tuple_(LoginThrottleRow.scope, LoginThrottleRow.key_hash).in_(stale)))


def _client(row: OAuthClientRow) -> Client:
    return Client(row.client_id, row.name, row.type, row.secret_hash, tuple(row.redirect_uris),
                  tuple(row.grant_types), tuple(row.scopes), row.created_at, row.disabled_at)


class SqlClients:
    """OAuth clients in the ``oauth_clients`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, client_id: str) -> Client | None:
        row = self.session.get(OAuthClientRow, client_id, populate_existing=True)
        return None if row is None else _client(row)

    def add(self, client: Client) -> None:
        self.session.add(OAuthClientRow(**self._values(client)))

    def ensure(self, client: Client) -> None:
        """Insert ``client`` unless a client with its id exists (then nothing changes)."""
        self.session.execute(insert(OAuthClientRow).values(**self._values(client))
                             .on_conflict_do_nothing(index_elements=["client_id"]))

    def put(self, client: Client) -> None:
        """Insert ``client``, or bring its registration up to date (a disabled one stays so)."""
        values = self._values(client)
        changed = {name: values[name] for name in ("name", "redirect_uris", "grant_types", "scopes")}
        self.session.execute(insert(OAuthClientRow).values(**values)
                             .on_conflict_do_update(index_elements=["client_id"], set_=changed))

    def disable(self, client_id: str, now: datetime) -> bool:
        """Disable the client (once); False if there is no such client."""
        result = self.session.execute(update(OAuthClientRow)
                                      .where(OAuthClientRow.client_id == client_id)
                                      .values(disabled_at=func.coalesce(OAuthClientRow.disabled_at, now)))
        return bool(getattr(result, "rowcount", 0))

    def all(self) -> list[Client]:
        rows = self.session.scalars(select(OAuthClientRow).order_by(OAuthClientRow.created_at,
                                                                    OAuthClientRow.client_id))
        return [_client(row) for row in rows]

    @staticmethod
    def _values(client: Client) -> dict[str, object]:
        return {"client_id": client.client_id, "name": client.name, "type": client.type,
                "secret_hash": client.secret_hash, "redirect_uris": list(client.redirect_uris),
                "grant_types": list(client.grant_types), "scopes": list(client.scopes),
                "disabled_at": client.disabled_at}


def _code(row: AuthorizationCodeRow) -> AuthorizationCode:
    return AuthorizationCode(row.code_hash, row.client_id, str(row.user_id), row.redirect_uri, row.scope,
                             row.code_challenge, row.expires_at, row.used_at,
                             None if row.family_id is None else str(row.family_id))


class SqlAuthorizationCodes:
    """Authorization codes (by hash) in the ``authorization_codes`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, code: AuthorizationCode) -> None:
        self.session.add(AuthorizationCodeRow(
            code_hash=code.code_hash, client_id=code.client_id, user_id=uuid.UUID(code.user_id),
            redirect_uri=code.redirect_uri, scope=code.scope, code_challenge=code.code_challenge,
            expires_at=code.expires_at))

    def lock_by_hash(self, code_hash: str) -> AuthorizationCode | None:
        row = _locked(self.session, AuthorizationCodeRow.code_hash, code_hash)
        return None if row is None else _code(row)

    def save(self, code: AuthorizationCode) -> None:
        family = None if code.family_id is None else uuid.UUID(code.family_id)
        self.session.execute(update(AuthorizationCodeRow)
                             .where(AuthorizationCodeRow.code_hash == code.code_hash)
                             .values(used_at=code.used_at, family_id=family))

    def purge_expired(self, now: datetime, keep_redeemed: timedelta) -> None:
        """Expired codes never redeemed can go; redeemed ones stay ``keep_redeemed`` for reuse detection."""
        code = AuthorizationCodeRow
        self.session.execute(delete(code).where(
            code.expires_at <= now, code.used_at.is_(None) | (code.expires_at <= now - keep_redeemed)))


def _constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


class SqlUnitOfWork(unit_of_work.SqlUnitOfWork):
    """The users service's repositories over one session; a taken email is ``EmailTaken``."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.users = SqlUsers(session)
        self.refresh_tokens = SqlRefreshTokens(session)
        self.clients = SqlClients(session)
        self.codes = SqlAuthorizationCodes(session)
        self.login_attempts = SqlLoginAttempts(session)

    def translate(self, error: IntegrityError) -> Exception | None:
        if _constraint(error) == EMAIL_UNIQUE_INDEX:
            return EmailTaken(details={"email": ["An account with this email already exists."]})
        return None
