"""Login throttling: the pure back-off rules, then the password grant that applies them."""
from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.errors import InvalidGrant, LoginThrottled
from nameko_services.users import handlers, throttle
from nameko_services.users.throttle import ACCOUNT, ADDRESS, Counter, ThrottlePolicy

from .fakes import FakeUnitOfWork

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(account_free_failures=3, address_free_failures=5, window=timedelta(hours=1),
                        base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=60))
PASSWORD = "correct horse battery"


def failures(n: int, at: datetime = T0) -> Counter:
    return Counter(n, at if n else None)


def test_the_free_failures_cost_no_wait():
    assert [throttle.wait_seconds(failures(n), 3, POLICY, T0) for n in range(3)] == [0, 0, 0]


def test_past_the_free_failures_the_wait_doubles_from_the_last_failure_up_to_the_cap():
    waits = [throttle.wait_seconds(failures(n), 3, POLICY, T0) for n in range(3, 11)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert throttle.wait_seconds(failures(5), 3, POLICY, T0 + timedelta(seconds=3)) == 1


def test_a_huge_failure_count_stays_at_the_cap():
    assert throttle.wait_seconds(failures(10_000), 3, POLICY, T0) == 60


def test_a_counter_quiet_for_a_whole_window_is_forgotten():
    later = T0 + timedelta(hours=1)
    assert throttle.current(failures(50), POLICY, later) == Counter()
    assert throttle.after_failure(failures(50), POLICY, later) == Counter(1, later)
    assert throttle.after_failure(failures(50), POLICY, later - timedelta(seconds=1)).failures == 51


def test_an_attempt_given_back_never_goes_below_zero():
    assert throttle.given_back(failures(2)) == Counter(1, T0)
    assert throttle.given_back(Counter()) == Counter()


def test_emails_and_addresses_are_stored_hashed_and_ipv6_counts_per_64_block():
    key = throttle.account_key("ada@example.com")
    assert key.scope == ACCOUNT and "ada" not in key.key_hash and len(key.key_hash) == 64
    assert throttle.address_key("2001:db8::1") == throttle.address_key("2001:db8::ffff:1")
    assert throttle.address_key("2001:db8:0:1::1") != throttle.address_key("2001:db8::1")
    assert throttle.address_key("10.0.0.1").scope == ADDRESS
    assert throttle.address_key("10.0.0.1") != throttle.address_key("10.0.0.2")


def test_the_policy_reads_the_config_section_and_defaults_the_rest():
    policy = ThrottlePolicy.from_config({"LOGIN_THROTTLE": {"ACCOUNT_FREE_FAILURES": "2", "MAX_DELAY": "30"}})
    assert policy.account_free_failures == 2 and policy.max_delay == timedelta(seconds=30)
    assert policy.address_free_failures == 20 and ThrottlePolicy.from_config({}) == ThrottlePolicy()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(handlers, "_now", clock)
    return clock


@pytest.fixture
def uow():
    uow = FakeUnitOfWork()
    handlers.register(uow, "ada@example.com", PASSWORD, "Ada")
    return uow


@pytest.fixture
def tokens():
    return None  # the throttle needs no signing; kept so the helpers read like the grant's


def login(uow, tokens, username="ada@example.com", password=PASSWORD, address="192.0.2.1"):
    """The check both the password grant and the authorization-code login page make."""
    return handlers.authenticate(uow, username, password, address, POLICY)


def fail(uow, tokens, times, **kwargs):
    for _ in range(times):
        with pytest.raises(InvalidGrant):
            login(uow, tokens, password="wrong password!", **kwargs)


def test_after_the_free_failures_even_the_right_password_is_not_checked(uow, tokens, clock):
    fail(uow, tokens, 3)
    with pytest.raises(LoginThrottled) as raised:
        login(uow, tokens)
    assert raised.value.details == {"retry_after": 1} and raised.value.code == "slow_down"
    clock.now += timedelta(seconds=1)
    assert login(uow, tokens).email == "ada@example.com"


def test_the_back_off_grows_with_each_failure_past_the_free_ones(uow, tokens, clock):
    fail(uow, tokens, 3)
    retry_afters = []
    for _ in range(4):
        with pytest.raises(LoginThrottled) as raised:
            login(uow, tokens, password="wrong password!")
        retry_afters.append(raised.value.details["retry_after"])
        clock.now += timedelta(seconds=retry_afters[-1])
        fail(uow, tokens, 1)
    assert retry_afters == [1, 2, 4, 8]


def test_a_success_resets_the_account_counter(uow, tokens, clock):
    fail(uow, tokens, 2)
    login(uow, tokens)
    fail(uow, tokens, 3)  # three free failures again, not one


def test_an_unknown_email_is_throttled_exactly_like_a_real_one(uow, tokens, clock):
    outcomes = []
    for username in ("ada@example.com", "nobody@example.com"):
        fail(uow, tokens, 3, username=username, address=None)
        with pytest.raises(LoginThrottled) as raised:
            login(uow, tokens, username=username, address=None)
        outcomes.append((raised.value.message, raised.value.details))
    assert outcomes[0] == outcomes[1]


def test_the_account_key_is_the_normalised_email(uow, tokens, clock):
    fail(uow, tokens, 3, username=" ADA@example.com")
    with pytest.raises(LoginThrottled):
        login(uow, tokens, username="ada@EXAMPLE.com ")


def test_one_address_guessing_at_many_accounts_is_throttled(uow, tokens, clock):
    for n in range(5):
        fail(uow, tokens, 1, username=f"user{n}@example.com")
    with pytest.raises(LoginThrottled):
        login(uow, tokens, username="someone-else@example.com")
    assert login(uow, tokens, address="198.51.100.7").email == "ada@example.com"  # other addresses are not


def test_a_success_gives_the_address_its_attempt_back_but_does_not_clear_it(uow, tokens, clock):
    for n in range(4):
        fail(uow, tokens, 1, username=f"other{n}@example.com")
    login(uow, tokens)  # counted in advance, given back
    fail(uow, tokens, 1, username="third@example.com")  # the fifth failure from this address
    with pytest.raises(LoginThrottled):
        login(uow, tokens)
