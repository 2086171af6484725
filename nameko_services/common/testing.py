"""Helpers for the test suites (and anyone running the platform against throw-away state)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nameko_services.common.auth import ensure_signing_keys


@contextmanager
def temporary_keys(path: Path) -> Iterator[Path]:
    """Use (and fill) ``path`` as SHOP_KEYS_DIR inside the block, then restore the old value.

    Every key is made up front, before several processes start and race to create them.
    """
    previous = os.environ.get("SHOP_KEYS_DIR")
    os.environ["SHOP_KEYS_DIR"] = str(path)
    try:
        ensure_signing_keys()
        yield path
    finally:
        if previous is None:
            os.environ.pop("SHOP_KEYS_DIR", None)
        else:
            os.environ["SHOP_KEYS_DIR"] = previous
