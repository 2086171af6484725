"""The address a request really comes from, for rate limits and login throttling.

The TCP peer is the client unless it is one of our own reverse proxies (``TRUSTED_PROXIES``);
then ``X-Forwarded-For`` is read from the right, skipping our proxies, and the first address
that is not ours is the client. Entries left of it were written by the client and are ignored,
so nobody can pick their own address by sending the header.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"  # no peer at all (an in-process test transport without a client)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class TrustedProxies:
    """The networks our own reverse proxies connect from (addresses or CIDR blocks)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """``["10.0.0.0/8", "127.0.0.1"]`` → networks; ValueError names a bad entry."""
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
        return cls(tuple(networks))

    def trusts(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client address, given the TCP peer and the X-Forwarded-For header (if any)."""
        if not peer:
            return UNKNOWN
        if not forwarded_for or not self.trusts(peer):
            return peer
        nearest = peer
        for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
            if _ip(hop) is None:
                break  # garbage our proxy did not write: trust no further than the last good hop
            if not self.trusts(hop):
                return str(_ip(hop))
            nearest = hop
        return nearest


def client_address(connection: HTTPConnection) -> str:
    """The resolved client address of a request, by the app's ``TRUSTED_PROXIES``."""
    trusted: TrustedProxies = getattr(connection.app.state, "trusted_proxies", TrustedProxies())
    peer = connection.client.host if connection.client else None
    # Several X-Forwarded-For lines are one list, in order (RFC 9110 §5.3).
    forwarded = ",".join(connection.headers.getlist("x-forwarded-for")) or None
    return trusted.resolve(peer, forwarded)
