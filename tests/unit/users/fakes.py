"""An in-memory unit of work for the users handlers: what is not committed is rolled back."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from nameko_services.common.errors import EmailTaken
from nameko_services.users.authorization import AuthorizationCode
from nameko_services.users.clients import Client
from nameko_services.users.domain import RefreshToken, User
from nameko_services.users.throttle import Counter, ThrottleKey


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[str, User] = {}

    def get(self, user_id: str) -> User | None:
        return self.rows.get(user_id)

    def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email.lower() == email.lower()), None)

    def add(self, user: User) -> None:
        if self.get_by_email(user.email):
            raise EmailTaken()
        self.rows[user.id] = replace(user, created_at=datetime.now(UTC))

    def update(self, user: User) -> None:
        self.rows[user.id] = user

    def page(self, offset: int, limit: int) -> tuple[list[User], int]:
        users = list(self.rows.values())
        return users[offset:offset + limit], len(users)


class FakeRefreshTokens:
    def __init__(self) -> None:
        self.rows: dict[str, RefreshToken] = {}

    def add(self, token: RefreshToken) -> None:
        self.rows[token.id] = token

    def lock_by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self.rows.values() if t.token_hash == token_hash), None)

    def save(self, token: RefreshToken) -> None:
        self.rows[token.id] = token

    def revoke_family(self, family_id: str) -> None:
        self._revoke(lambda t: t.family_id == family_id)

    def revoke_all_of_user(self, user_id: str) -> None:
        self._revoke(lambda t: t.user_id == user_id)

    def purge_expired(self, user_id: str, now: datetime) -> None:
        self.rows = {key: t for key, t in self.rows.items()
                     if not (t.user_id == user_id and t.expires_at <= now)}

    def _revoke(self, matches) -> None:
        now = datetime.now(UTC)
        for key, token in self.rows.items():
            if matches(token) and token.revoked_at is None:
                self.rows[key] = replace(token, revoked_at=now)


class FakeLoginAttempts:
    def __init__(self) -> None:
        self.rows: dict[ThrottleKey, Counter] = {}

    def lock(self, keys: list[ThrottleKey]) -> dict[ThrottleKey, Counter]:
        return {key: self.rows.get(key, Counter()) for key in keys}

    def save(self, key: ThrottleKey, counter: Counter) -> None:
        self.rows[key] = counter

    def forget(self, key: ThrottleKey) -> None:
        self.rows.pop(key, None)

    def forget_quiet_since(self, moment: datetime) -> None:
        self.rows = {key: counter for key, counter in self.rows.items()
                     if counter.last_failure_at is None or counter.last_failure_at >= moment}


class FakeClients:
    def __init__(self) -> None:
        self.rows: dict[str, Client] = {}

    def get(self, client_id: str) -> Client | None:
        return self.rows.get(client_id)

    def add(self, client: Client) -> None:
        self.rows[client.client_id] = replace(client, created_at=datetime.now(UTC))

    def ensure(self, client: Client) -> None:
        if client.client_id not in self.rows:
            self.add(client)

    def put(self, client: Client) -> None:
        found = self.rows.get(client.client_id)
        self.rows[client.client_id] = client if found is None else replace(
            client, created_at=found.created_at, disabled_at=found.disabled_at)

    def disable(self, client_id: str, now: datetime) -> bool:
        found = self.rows.get(client_id)
        if found is not None:
            self.rows[client_id] = replace(found, disabled_at=found.disabled_at or now)
        return found is not None

    def all(self) -> list[Client]:
        return list(self.rows.values())


class FakeCodes:
    def __init__(self) -> None:
        self.rows: dict[str, AuthorizationCode] = {}

    def add(self, code: AuthorizationCode) -> None:
        self.rows[code.code_hash] = code

    def lock_by_hash(self, code_hash: str) -> AuthorizationCode | None:
        return self.rows.get(code_hash)

    def save(self, code: AuthorizationCode) -> None:
        self.rows[code.code_hash] = code

    def purge_expired(self, now: datetime, keep_redeemed: timedelta) -> None:
        self.rows = {k: c for k, c in self.rows.items()
                     if c.expires_at > now or (c.used_at and c.expires_at > now - keep_redeemed)}


class FakeUnitOfWork:
    """Entities are frozen, so a shallow copy of each table is a snapshot."""

    def __init__(self) -> None:
        self.users = FakeUsers()
        self.refresh_tokens = FakeRefreshTokens()
        self.login_attempts = FakeLoginAttempts()
        self.clients = FakeClients()
        self.codes = FakeCodes()
        self.commits = 0
        self._committed = self._snapshot()

    def _snapshot(self) -> tuple[dict, ...]:
        return (dict(self.users.rows), dict(self.refresh_tokens.rows), dict(self.login_attempts.rows),
                dict(self.clients.rows), dict(self.codes.rows))

    def __enter__(self) -> FakeUnitOfWork:
        self._committed = self._snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        (self.users.rows, self.refresh_tokens.rows, self.login_attempts.rows, self.clients.rows,
         self.codes.rows) = (dict(t) for t in self._committed)

    def commit(self) -> None:
        self._committed = self._snapshot()
        self.commits += 1
