"""The one shape of every list the platform answers with: ``{items, total, page, per_page}``.

``total`` counts the whole list, not the page (docs/API.md "Lists"); the bounds of ``page`` and
``per_page`` are ``common.limits.MAX_PAGE`` and ``MAX_PER_PAGE``. Pure, so the gateway may use it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def page_document(items: Iterable[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """One page of a list: its ``items`` (already in their public shape) and where it stands."""
    return {"items": list(items), "total": total, "page": page, "per_page": per_page}


@dataclass(frozen=True)
class Page(Generic[T]):
    """What a list use case returns: one page of ``items`` and the count of the whole list."""

    items: list[T]
    total: int
    page: int
    per_page: int

    def document(self, dump: Callable[[T], Any]) -> dict[str, Any]:
        """The page in its public shape, each item dumped by ``dump``."""
        return page_document(map(dump, self.items), self.total, self.page, self.per_page)
