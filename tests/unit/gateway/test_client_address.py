"""The client address: the TCP peer, or X-Forwarded-For read from the right behind our proxies."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from gateway.client_address import UNKNOWN, TrustedProxies, client_address
from gateway.settings import Settings

PROXIES = TrustedProxies.parse(["10.0.0.0/8", "127.0.0.1", "fd00::/8"])


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("198.51.100.7", None, "198.51.100.7"),
    # Not our proxy: whatever it claims is ignored.
    ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
    # Our proxies chained: skip them from the right; what the client wrote on the left is ignored.
    ("10.1.2.3", "6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
    ("10.1.2.3", "10.9.9.9,10.0.0.5", "10.9.9.9"),
    ("10.1.2.3", "not-an-ip, 10.0.0.5", "10.0.0.5"),
    ("fd00::1", "2001:db8::42", "2001:db8::42"),
    ("10.1.2.3", " 2001:DB8::42 ", "2001:db8::42"),
    (None, "203.0.113.9", UNKNOWN),
])
def test_resolve(peer, forwarded, expected):
    assert PROXIES.resolve(peer, forwarded) == expected


def test_nothing_is_trusted_by_default():
    assert TrustedProxies().resolve("127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_a_bad_trusted_proxy_entry_is_named():
    with pytest.raises(ValueError, match="'10.0.0.300' is not an IP address or network"):
        TrustedProxies.parse(["10.0.0.1", "10.0.0.300"])


def _request(peer: str, *forwarded: str) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(trusted_proxies=PROXIES))
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers,
                    "client": (peer, 4711), "app": app})


def test_several_forwarded_for_lines_are_one_list():
    assert client_address(_request("127.0.0.1", "6.6.6.6", "203.0.113.9")) == "203.0.113.9"


def test_the_settings_read_a_comma_separated_list():
    settings = Settings.from_mapping({"TRUSTED_PROXIES": " 10.0.0.0/8, 127.0.0.1 ,"})
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert Settings.from_mapping({"TRUSTED_PROXIES": ""}).trusted_proxies == ()
