"""The ``payments`` table as a projection of ``payment_events``: written with every change, rebuildable.

``rebuild(session)`` recomputes every row from the events (``shopctl`` or an operator calls
it, through the kernel's ``Projection.rebuild``); the caller commits.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from nameko_services.common.event_sourced import Projection
from nameko_services.payments.domain import Payment
from nameko_services.payments.models import PaymentRow, payment_events

payments = cast(Table, PaymentRow.__table__)


def columns(payment: Payment) -> dict[str, Any]:
    """The projection row of a payment."""
    return {"id": uuid.UUID(payment.id), "order_id": uuid.UUID(payment.order_id),
            "order_version": payment.order_version, "user_id": uuid.UUID(payment.user_id),
            "status": payment.status, "amount": payment.amount, "currency": payment.currency,
            "refunded_amount": payment.refunded_amount, "provider": payment.provider,
            "provider_reference": payment.provider_reference, "failure_reason": payment.failure_reason,
            "needs_attention": payment.needs_attention, "attention_reason": payment.attention_reason,
            "pending_action": payment.pending.action if payment.pending else None,
            "next_action": payment.next_action,
            "version": payment.version, "created_at": payment.created_at, "updated_at": payment.updated_at}


def from_row(row: Mapping[str, Any] | Any) -> Payment:
    """A payment read from its projection row (for listings; no pending details)."""
    return Payment(str(row["id"]), str(row["order_id"]), row["order_version"], str(row["user_id"]),
                   row["amount"], row["currency"], row["provider"], status=row["status"],
                   refunded_amount=row["refunded_amount"], provider_reference=row["provider_reference"],
                   failure_reason=row["failure_reason"], needs_attention=row["needs_attention"],
                   attention_reason=row["attention_reason"], next_action=row["next_action"],
                   version=row["version"],
                   created_at=row["created_at"], updated_at=row["updated_at"])


PROJECTION = Projection(payments, Payment, columns)


def rebuild(session: Session) -> int:
    """Recompute the whole ``payments`` table from ``payment_events``; return how many payments."""
    return PROJECTION.rebuild(session, payment_events)
