"""Sentry is switched on only by a DSN."""
import sentry_sdk

from nameko_services.common.sentry import init_sentry


def test_no_dsn_means_no_sentry():
    assert init_sentry(None, "users") is False
    assert init_sentry("", "users") is False
    assert not sentry_sdk.get_client().is_active()


def test_a_dsn_starts_sentry_tagged_with_the_service():
    try:
        assert init_sentry("https://public@sentry.example.com/1", "catalog") is True
        client = sentry_sdk.get_client()
        assert client.is_active() and client.options["server_name"] == "catalog"
        assert sentry_sdk.get_isolation_scope()._tags["service"] == "catalog"
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client


def test_sentry_events_carry_neither_local_variables_nor_request_bodies():
    # Frame locals of a failed entrypoint hold its arguments: payloads, passwords, payment tokens.
    try:
        assert init_sentry("https://public@sentry.example.com/1", "users") is True
        options = sentry_sdk.get_client().options
        assert options["include_local_variables"] is False
        assert options["max_request_body_size"] == "never"
        assert options["send_default_pii"] is False
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
