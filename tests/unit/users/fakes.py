"""An in-memory unit of work for the users handlers."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from nameko_services.common.errors import EmailTaken
from nameko_services.users.domain import RefreshToken, User


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[str, User] = {}

    def get(self, user_id):
        return self.rows.get(user_id)

    def get_by_email(self, email):
        return next((u for u in self.rows.values() if u.email == email), None)

    def add(self, user):
        if self.get_by_email(user.email):
            raise EmailTaken()
        self.rows[user.id] = replace(user, created_at=datetime.now(UTC))

    def update(self, user):
        self.rows[user.id] = user

    def page(self, offset, limit):
        users = list(self.rows.values())
        return users[offset:offset + limit], len(users)


class FakeRefreshTokens:
    def __init__(self) -> None:
        self.rows: dict[str, RefreshToken] = {}

    def add(self, token):
        self.rows[token.token_hash] = token

    def lock_by_hash(self, token_hash):
        token = self.rows.get(token_hash)
        return None if token is None else replace(token)

    def save(self, token):
        self.rows[token.token_hash] = token

    def revoke_family(self, family_id):
        for token in self.rows.values():
            if token.family_id == family_id:
                token.revoked_at = token.revoked_at or datetime.now(UTC)

    def revoke_all_of_user(self, user_id):
        for token in self.rows.values():
            if token.user_id == user_id:
                token.revoked_at = token.revoked_at or datetime.now(UTC)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.users = FakeUsers()
        self.refresh_tokens = FakeRefreshTokens()
        self.commits = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def commit(self):
        self.commits += 1
