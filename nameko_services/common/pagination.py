"""The one shape of every list the platform answers with: ``{items, total, page, per_page}``.

``total`` counts the whole list, not the page (docs/API.md "Lists"); the bounds of ``page`` and
``per_page`` are ``common.limits.MAX_PAGE`` and ``MAX_PER_PAGE``. Pure, so the gateway may use it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def page_document(items: Iterable[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """One page of a list: its ``items`` (already in their public shape) and where it stands."""
    return {"items": list(items), "total": total, "page": page, "per_page": per_page}
