"""Login throttling: failed sign-ins counted per account key and per client address.

Every attempt is counted as a failure *before* the password is checked, under a row lock,
and given back when the password was right. So twenty parallel guesses cannot all slip
through while the counter still reads zero: the sixth waits for the fifth's lock and finds
the account throttled. Unknown emails are counted exactly like real ones, so the throttle
does not reveal which accounts exist. The back-off is derived from ``(failures,
last_failure_at)`` rather than stored, so giving an attempt back stays consistent.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from nameko_services.common.errors import LoginThrottled

ACCOUNT, ADDRESS = "account", "address"


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, when counters forget, and how the back-off grows."""

    account_free_failures: int = 5
    address_free_failures: int = 20
    window: timedelta = timedelta(hours=1)  # a counter quiet this long starts again from zero
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)

    def free_failures(self, scope: str) -> int:
        return self.account_free_failures if scope == ACCOUNT else self.address_free_failures

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ThrottlePolicy:
        """The policy of the service config's ``LOGIN_THROTTLE`` (missing values: defaults)."""
        section = config.get("LOGIN_THROTTLE") or {}
        assert isinstance(section, Mapping), "LOGIN_THROTTLE must be a mapping"
        default = cls()

        def seconds(name: str, fallback: timedelta) -> timedelta:
            return timedelta(seconds=float(section.get(name, fallback.total_seconds())))

        return cls(
            account_free_failures=int(section.get("ACCOUNT_FREE_FAILURES", default.account_free_failures)),
            address_free_failures=int(section.get("ADDRESS_FREE_FAILURES", default.address_free_failures)),
            window=seconds("WINDOW", default.window), base_delay=seconds("BASE_DELAY", default.base_delay),
            max_delay=seconds("MAX_DELAY", default.max_delay))


DEFAULT_POLICY = ThrottlePolicy()


@dataclass(frozen=True)
class Counter:
    """Failed attempts of one key; ``last_failure_at`` is None for a fresh key."""

    failures: int = 0
    last_failure_at: datetime | None = None


@dataclass(frozen=True, order=True)
class ThrottleKey:
    """A throttled key: a scope and the SHA-256 of the normalised email or address."""

    scope: str
    key_hash: str


def _hash(scope: str, value: str) -> ThrottleKey:
    return ThrottleKey(scope, hashlib.sha256(f"{scope}:{value}".encode()).hexdigest())


def account_key(email: str) -> ThrottleKey:
    """The key of an email, whether or not an account has it (already normalised)."""
    return _hash(ACCOUNT, email)


def address_key(address: str) -> ThrottleKey:
    """The key of a client address; an IPv6 client is one /64, as it usually owns all of it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _hash(ADDRESS, address)
    if ip.version == 6:
        return _hash(ADDRESS, str(ipaddress.ip_network(f"{ip}/64", strict=False)))
    return _hash(ADDRESS, str(ip))


def keys_for(email: str, client_address: str | None) -> list[ThrottleKey]:
    """The keys one attempt counts against, in lock order (sorted: no deadlocks)."""
    keys = [account_key(email)]
    if client_address:
        keys.append(address_key(client_address))
    return sorted(keys)


def current(counter: Counter, policy: ThrottlePolicy, now: datetime) -> Counter:
    """The counter as it stands now: one quiet for a whole window is forgotten."""
    if counter.last_failure_at is not None and now - counter.last_failure_at >= policy.window:
        return Counter()
    return counter


def wait_seconds(counter: Counter, free: int, policy: ThrottlePolicy, now: datetime) -> float:
    """Seconds until the next attempt may be tried (0: allowed now)."""
    counter = current(counter, policy, now)
    if counter.failures < free or counter.last_failure_at is None:
        return 0.0
    doublings = min(counter.failures - free, 32)  # 2**32 s is far beyond any cap
    delay = min(policy.base_delay * 2 ** doublings, policy.max_delay)
    return max(0.0, (counter.last_failure_at + delay - now).total_seconds())


def after_failure(counter: Counter, policy: ThrottlePolicy, now: datetime) -> Counter:
    """The counter once one more failure is counted."""
    return Counter(current(counter, policy, now).failures + 1, now)


def given_back(counter: Counter) -> Counter:
    """The counter once an attempt counted in advance turned out to be a success."""
    return replace(counter, failures=max(0, counter.failures - 1))


class LoginAttempts(Protocol):
    """Storage of counters; ``lock`` holds the rows until the unit of work ends."""

    def lock(self, keys: list[ThrottleKey]) -> Mapping[ThrottleKey, Counter]: ...
    def save(self, key: ThrottleKey, counter: Counter) -> None: ...
    def forget(self, key: ThrottleKey) -> None: ...
    def forget_quiet_since(self, moment: datetime) -> None:
        """Drop every counter untouched since ``moment`` (they would read as zero anyway)."""


def admit(attempts: LoginAttempts, keys: list[ThrottleKey], policy: ThrottlePolicy,
          now: datetime) -> None:
    """Let one attempt through and count it as a failure; ``LoginThrottled`` while backing off.

    The caller commits straight after, before the (slow) password check.
    """
    counters = attempts.lock(keys)
    wait = max(wait_seconds(counters[key], policy.free_failures(key.scope), policy, now) for key in keys)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        unit = "second" if retry_after == 1 else "seconds"
        raise LoginThrottled(f"Too many failed sign-ins. Try again in {retry_after} {unit}.",
                             details={"retry_after": retry_after})
    for key in keys:
        attempts.save(key, after_failure(counters[key], policy, now))


def succeeded(attempts: LoginAttempts, keys: list[ThrottleKey], policy: ThrottlePolicy,
              now: datetime) -> None:
    """The password was right: the account starts afresh; the address gets its attempt back.

    The address is not reset, or one valid account would clear it for guessing at others.
    Counters quiet for a whole window are swept here too, so guesses at random emails do not
    pile up rows (the sweep uses the ``updated_at`` index).
    """
    attempts.forget_quiet_since(now - policy.window)
    counters = attempts.lock(keys)
    for key in keys:
        if key.scope == ACCOUNT:
            attempts.forget(key)
        else:
            attempts.save(key, given_back(counters[key]))
