"""JSON request bodies, parsed only when they nest at most 32 levels and hold at most 10,000 values.

``json.loads`` recurses once per level: a 2 KB body of 1,000 nested arrays exhausts the
interpreter's stack (a RecursionError, a 500). So the body is scanned first, counting brackets
and commas outside strings, and refused before the parser sees it. Bodies must be UTF-8 (RFC
8259 §8.1): in UTF-8 no byte of a multi-byte character is a bracket or a quote, so the scan
cannot be misled.
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
MAX_VALUES = 10_000
# An acceptable body has at most five tokens per value (key, string, comma, both brackets); more
# means it is not JSON at all (a megabyte of quotes), and the scan stops there too.
MAX_TOKENS = 5 * MAX_VALUES

# A string (escapes included; the closing quote optional, so an unterminated string ends the
# scan instead of being retried from every later quote) or one structural character.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{},]', re.DOTALL)


class TooComplex(ValueError):
    """A body nested deeper, or holding more values, than the gateway parses; ``limit`` says which."""

    def __init__(self, message: str, limit: dict[str, int]) -> None:
        super().__init__(message)
        self.limit = limit


def loads(raw: bytes) -> Any:
    """The parsed body; ``ValueError`` (``TooComplex`` among them) when it is not acceptable JSON."""
    document = raw.decode("utf-8-sig")
    check_shape(document)
    return json.loads(document)


def check_shape(document: str) -> None:
    """Raise ``TooComplex`` as soon as ``document`` nests too deep or holds too many values.

    Every container opened and every comma is one more value (an object's member counts
    once, key and value), so the scan stops after at most the limits' worth of tokens.
    """
    depth = values = 0
    for count, token in enumerate(_TOKEN.finditer(document), 1):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            values += 1
            if depth > MAX_DEPTH:
                raise TooComplex(f"The body nests deeper than {MAX_DEPTH} levels.", {"max_depth": MAX_DEPTH})
        elif char in "]}":
            depth -= 1
        elif char == ",":
            values += 1
        if values > MAX_VALUES or count > MAX_TOKENS:
            raise TooComplex(f"The body holds more than {MAX_VALUES} values.", {"max_values": MAX_VALUES})
