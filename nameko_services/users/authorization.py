"""Authorization codes with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700); no I/O here.

A code lives ``CODE_TTL`` seconds, is stored only as a hash, and is bound to the client, the
exact redirect URI and the S256 code challenge. It is redeemed once; presenting it again ends
the refresh-token family it started (RFC 6749 §4.1.2).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from nameko_services.common.errors import InvalidRequest

CODE_TTL = 60
# A stolen code is replayed within seconds; a day of reuse detection covers that with room to spare.
KEEP_REDEEMED = timedelta(days=1)
# RFC 7636 §4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# base64url of a SHA-256 digest, unpadded: exactly 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    """The S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(challenge: str | None, method: str | None) -> str:
    """PKCE is required and only S256 is accepted (RFC 9700 §2.1.1): ``plain`` leaks the verifier."""
    if not challenge:
        raise InvalidRequest("code_challenge is required (PKCE, RFC 7636).")
    if method != "S256":
        raise InvalidRequest("code_challenge_method must be S256.")
    if not S256_CHALLENGE.fullmatch(challenge):
        raise InvalidRequest("code_challenge must be the 43-character base64url SHA-256 of the verifier.")
    return challenge


def verifier_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6, compared in constant time; a malformed verifier never matches."""
    if not VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


class Redemption(Enum):
    """What presenting a code at the token endpoint leads to."""

    ISSUE = "issue"        # tokens for the code's user
    REUSED = "reused"      # redeemed before: deny and revoke what it issued
    REFUSED = "refused"    # expired, or not the client / redirect URI / verifier it was bound to


@dataclass(frozen=True)
class AuthorizationCode:
    """An issued code, by the hash of its value."""

    code_hash: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    expires_at: datetime
    used_at: datetime | None = None
    family_id: str | None = None  # the refresh-token family the redemption started

    def redemption(self, now: datetime, client_id: str, redirect_uri: str | None,
                   verifier: str) -> Redemption:
        """Reuse is checked first: a spent code is a leak whatever else is wrong with the request."""
        if self.used_at is not None:
            return Redemption.REUSED
        bound = (client_id == self.client_id and redirect_uri == self.redirect_uri
                 and verifier_matches(verifier, self.code_challenge))
        return Redemption.ISSUE if bound and now < self.expires_at else Redemption.REFUSED

    def redeemed(self, now: datetime, family_id: str) -> AuthorizationCode:
        return replace(self, used_at=now, family_id=family_id)


def new_code(code_hash: str, client_id: str, user_id: str, redirect_uri: str, scope: str,
             code_challenge: str, now: datetime) -> AuthorizationCode:
    """A code that expires ``CODE_TTL`` seconds from ``now``."""
    return AuthorizationCode(code_hash, client_id, user_id, redirect_uri, scope, code_challenge,
                             now + timedelta(seconds=CODE_TTL))
