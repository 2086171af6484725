"""Text rules below every schema: what PostgreSQL can store, and what matching a pattern means.

Standard library only, so domain modules use them as well as the schemas
(``common.validation``) and the gateway.
"""
from __future__ import annotations

import re

# PostgreSQL text cannot hold U+0000, and UTF-8 has no encoding for a lone UTF-16 surrogate,
# which JSON lets a client send as the escape "\ud800" (json.loads joins a valid pair into one
# character, so any surrogate left in a str is a lone one). Either makes the database refuse
# the statement: a 5xx instead of the client's 422.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must be valid Unicode text (no NUL, no lone surrogate)."


def is_storable(text: str) -> bool:
    """Whether PostgreSQL can store ``text``: no NUL and no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def escaped(text: str) -> str:
    """``text`` with each unstorable character as a ``\\uXXXX`` escape, safe to echo in an error."""
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def matches(pattern: re.Pattern[str], value: str) -> bool:
    """Whether all of ``value`` matches ``pattern``.

    ``re.match`` with a ``$``-anchored pattern (what marshmallow's ``Regexp`` does) also accepts
    a trailing newline: ``"abc\\n"`` passed for a SKU. ``fullmatch`` does not.
    """
    return pattern.fullmatch(value) is not None
