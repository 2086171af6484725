"""What the orders service is asked: commands, queries and the replies of other services. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlaceOrder:
    """A validated order request; ``items`` merged per product."""

    items: tuple[dict[str, Any], ...]
    shipping_address: dict[str, Any]
    payment_token: str = field(repr=False)
    note: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        """What the Idempotency-Key is bound to: the same key with another body is refused."""
        body = {"items": list(self.items), "shipping_address": self.shipping_address,
                "payment": {"token": self.payment_token}}
        return body if self.note is None else {**body, "note": self.note}  # keys stored before notes


@dataclass(frozen=True)
class ModifyOrder:
    """New items (``[{product_id, quantity}]``) and/or a new shipping address."""

    items: tuple[dict[str, Any], ...] | None = None
    shipping_address: dict[str, Any] | None = None


@dataclass(frozen=True)
class OrderQuery:
    """Filters and page of ``list_orders``."""

    status: str | None = None
    user_id: str | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Reply:
    """The fields of a catalog or payments event that orders reads."""

    order_id: str
    order_version: int = 0
    payment_id: str = ""
    reason: str = ""
    action: str = ""
    refunded_total: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    captured_at: str = ""  # payments' capture time (ISO 8601), for the captured → confirmed step
    next_action: dict[str, str] = field(default_factory=dict)  # payment_action_required: the step
