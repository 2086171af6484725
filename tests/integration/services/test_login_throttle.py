"""Login throttling in the users service over real RabbitMQ and PostgreSQL.

Concurrency: parallel wrong guesses cannot slip past the limit. Timing: an unknown email and a
wrong password cost about the same and answer the same.
"""
import statistics
import time

import eventlet
import pytest
from sqlalchemy import text

from nameko_services.common.errors import InvalidGrant, LoginThrottled
from nameko_services.users.service import UsersService

PASSWORD = "correct horse battery"


def start_users(container_factory, core_config, **throttle):
    config = dict(core_config, TOKEN_ISSUER="http://shop.test", TOKEN_AUDIENCE="nameko-shop",
                  ACCESS_TOKEN_TTL=300, REFRESH_TOKEN_TTL=3600, max_workers=20,
                  LOGIN_THROTTLE=dict({"BASE_DELAY": 60, "MAX_DELAY": 900}, **throttle))
    container = container_factory(UsersService, config)
    container.start()
    return container


def login(call, email, password, address="192.0.2.10"):
    grant = {"grant_type": "password", "username": email, "password": password}
    return call("users", "issue_token", grant, client_address=address, timeout=30)


def outcome(call, email, password, address="192.0.2.10"):
    try:
        login(call, email, password, address)
        return "ok"
    except InvalidGrant:
        return "invalid_grant"
    except LoginThrottled as exc:
        return f"slow_down:{exc.details['retry_after']}"


def test_twenty_parallel_wrong_guesses_get_exactly_the_free_failures_through(container_factory,
                                                                              core_config, call, core_db):
    start_users(container_factory, core_config, ACCOUNT_FREE_FAILURES=5, ADDRESS_FREE_FAILURES=100)
    call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    pool = eventlet.GreenPool(20)
    results = list(pool.imap(lambda n: outcome(call, "ada@example.com", f"guess number {n}",
                                               f"192.0.2.{n + 1}"), range(20)))
    assert results.count("invalid_grant") == 5
    assert sum(result.startswith("slow_down:") for result in results) == 15
    assert outcome(call, "ada@example.com", PASSWORD).startswith("slow_down:")  # not even the right one
    with core_db.connect() as conn:
        assert conn.execute(text("SELECT failures FROM login_throttle WHERE scope = 'account'")).scalar() == 5


def test_one_address_guessing_at_many_emails_is_throttled_and_others_are_not(container_factory,
                                                                              core_config, call):
    start_users(container_factory, core_config, ACCOUNT_FREE_FAILURES=5, ADDRESS_FREE_FAILURES=3)
    call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    assert [outcome(call, f"user{n}@example.com", "wrong password!") for n in range(4)] == [
        "invalid_grant", "invalid_grant", "invalid_grant", "slow_down:60"]
    assert outcome(call, "ada@example.com", PASSWORD) == "slow_down:60"
    assert outcome(call, "ada@example.com", PASSWORD, address="198.51.100.20") == "ok"


def test_a_success_resets_the_account_and_unknown_emails_are_counted_alike(container_factory,
                                                                            core_config, call):
    start_users(container_factory, core_config, ACCOUNT_FREE_FAILURES=2, ADDRESS_FREE_FAILURES=100)
    call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    assert outcome(call, "ada@example.com", "wrong password!") == "invalid_grant"
    assert outcome(call, "ada@example.com", PASSWORD) == "ok"
    known = [outcome(call, "ADA@example.com", "wrong password!") for _ in range(3)]
    unknown = [outcome(call, "nobody@example.com", "wrong password!") for _ in range(3)]
    assert known == unknown == ["invalid_grant", "invalid_grant", "slow_down:60"]


def timed_error(call, email, password):
    started = time.perf_counter()
    with pytest.raises(InvalidGrant) as raised:
        login(call, email, password)
    error = raised.value
    return time.perf_counter() - started, (type(error).__name__, error.message, repr(error.details))


def test_an_unknown_email_and_a_wrong_password_take_similar_time_and_answer_the_same(container_factory,
                                                                                     core_config, call):
    start_users(container_factory, core_config, ACCOUNT_FREE_FAILURES=1000, ADDRESS_FREE_FAILURES=1000)
    call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    answers = set()
    timed_error(call, "warm@example.com", "wrong password!")  # first call pays for connections
    for n in range(10):  # interleaved, so load from other processes hits both alike
        for kind, email in (("wrong", "ada@example.com"), ("unknown", f"nobody{n}@example.com")):
            seconds, answer = timed_error(call, email, "wrong password!")
            timings[kind].append(seconds)
            answers.add(answer)
    assert len(answers) == 1
    wrong, unknown = statistics.median(timings["wrong"]), statistics.median(timings["unknown"])
    assert abs(wrong - unknown) <= 0.25 * max(wrong, unknown), timings


def test_a_successful_sign_in_sweeps_counters_quiet_for_a_whole_window(container_factory, core_config,
                                                                        call, core_db):
    start_users(container_factory, core_config, ACCOUNT_FREE_FAILURES=5, ADDRESS_FREE_FAILURES=100)
    call("users", "register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    for n in range(3):
        outcome(call, f"guess{n}@example.com", "wrong password!", address=f"198.51.100.{n}")
    with core_db.begin() as conn:
        conn.execute(text("UPDATE login_throttle SET updated_at = now() - interval '2 hours', "
                          "last_failure_at = now() - interval '2 hours' "
                          "WHERE key_hash IN (SELECT key_hash FROM login_throttle LIMIT 4)"))
        fresh = conn.execute(text("SELECT count(*) FROM login_throttle "
                                  "WHERE updated_at > now() - interval '1 hour'")).scalar()
    assert outcome(call, "ada@example.com", PASSWORD) == "ok"
    with core_db.connect() as conn:  # the stale four are gone; the fresh ones and the address stay
        left = conn.execute(text("SELECT count(*) FROM login_throttle")).scalar()
    assert left == fresh + 1
