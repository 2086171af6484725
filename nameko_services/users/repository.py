"""SQL repositories and the unit of work of the users service."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nameko_services.common.errors import EmailTaken
from nameko_services.users.domain import RefreshToken, User
from nameko_services.users.models import EMAIL_UNIQUE_INDEX, RefreshTokenRow, UserRow


def _as_uuid(value: str) -> uuid.UUID | None:
    """Malformed ids find nothing (a 404), never a database error."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _user(row: UserRow) -> User:
    return User(str(row.id), row.email, row.name, row.password_hash, tuple(row.roles),
                row.shipping_address, row.created_at, row.disabled_at)


def _token(row: RefreshTokenRow) -> RefreshToken:
    return RefreshToken(str(row.id), str(row.family_id), str(row.user_id), row.token_hash, row.scope,
                        row.expires_at, row.used_at, row.revoked_at)


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
            expires_at=token.expires_at, used_at=token.used_at, revoked_at=token.revoked_at))

    def lock_by_hash(self, token_hash: str) -> RefreshToken | None:
        row = self.session.scalars(select(RefreshTokenRow)
                                   .where(RefreshTokenRow.token_hash == token_hash)
                                   .with_for_update()
                                   .execution_options(populate_existing=True)).first()
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


def _constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


class SqlUnitOfWork:
    """Repositories over one session; leaving the block rolls back what was not committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.users = SqlUsers(session)
        self.refresh_tokens = SqlRefreshTokens(session)

    def __enter__(self) -> SqlUnitOfWork:
        return self

    def __exit__(self, exc_type: object, error: object, traceback: object) -> None:
        self.session.rollback()

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as error:
            self.session.rollback()
            if _constraint(error) == EMAIL_UNIQUE_INDEX:
                raise EmailTaken(details={"email": ["An account with this email already exists."]}) \
                    from None
            raise
