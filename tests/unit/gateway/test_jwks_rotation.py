"""The gateway's JWKS cache through a key rotation: no downtime, and retired keys stop working."""
from __future__ import annotations

import pytest

from gateway.auth import JWKS_MAX_AGE, REFETCH_INTERVAL, TokenVerifier
from gateway.errors import InvalidToken
from nameko_services.common.errors import ServiceUnavailable
from tests.unit.gateway.gateway_fakes import access_token, new_key


class UsersService:
    """Serves the JWKS of whatever keys are current; can be down."""

    def __init__(self, *keys) -> None:
        self.keys = list(keys)
        self.down = False
        self.fetches = 0

    async def jwks(self) -> dict:
        self.fetches += 1
        if self.down:
            raise ServiceUnavailable()
        return {"keys": [key.jwk() for key in self.keys]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(users, clock):
    return TokenVerifier(users.jwks, issuer="https://shop.test", audience="nameko-shop", clock=clock)


async def test_both_keys_verify_during_a_rotation_and_the_new_kid_is_fetched_at_once():
    old, new, clock = new_key(), new_key(), Clock()
    users = UsersService(old)
    gateway = verifier(users, clock)
    old_token = access_token(old)
    assert (await gateway.verify(old_token)).user_id
    users.keys = [new, old]  # rotated: the new key signs, the old one is still served
    assert (await gateway.verify(access_token(new))).user_id  # the unknown kid refetched at once
    assert (await gateway.verify(old_token)).user_id
    assert users.fetches == 2


async def test_a_retired_key_is_refused_once_the_cached_jwks_is_older_than_its_max_age():
    old, new, clock = new_key(), new_key(), Clock()
    users = UsersService(new, old)
    gateway = verifier(users, clock)
    old_token = access_token(old, ttl=3600)
    assert (await gateway.verify(old_token)).user_id
    users.keys = [new]  # shopctl rotate-key --retire
    clock.now += JWKS_MAX_AGE
    with pytest.raises(InvalidToken, match="unknown key"):
        await gateway.verify(old_token)
    assert (await gateway.jwks())["keys"] == [new.jwk()]


async def test_the_served_jwks_follows_the_max_age_too():
    old, new, clock = new_key(), new_key(), Clock()
    users = UsersService(old)
    gateway = verifier(users, clock)
    assert (await gateway.jwks())["keys"] == [old.jwk()]
    users.keys = [new, old]
    clock.now += JWKS_MAX_AGE
    assert [jwk["kid"] for jwk in (await gateway.jwks())["keys"]] == [new.kid, old.kid]


async def test_if_the_users_service_is_down_the_cached_keys_keep_working():
    key, clock = new_key(), Clock()
    users = UsersService(key)
    gateway = verifier(users, clock)
    await gateway.verify(access_token(key))
    users.down = True
    clock.now += JWKS_MAX_AGE
    assert (await gateway.verify(access_token(key))).user_id
    assert (await gateway.verify(access_token(key))).user_id
    assert users.fetches == 2  # one failed refetch, then the cache is trusted for another max age


async def test_forged_kids_cannot_make_the_gateway_hammer_the_users_service():
    key, clock = new_key(), Clock()
    users = UsersService(key)
    gateway = verifier(users, clock)
    await gateway.verify(access_token(key))
    clock.now += REFETCH_INTERVAL
    for _ in range(50):
        with pytest.raises(InvalidToken):
            await gateway.verify(access_token(new_key()))
    assert users.fetches == 2


async def test_with_no_cached_jwks_a_users_outage_is_not_hidden():
    users, clock = UsersService(new_key()), Clock()
    users.down = True
    with pytest.raises(ServiceUnavailable):
        await verifier(users, clock).verify(access_token(new_key()))
