"""The payments nameko service: saga participant (orders events in, payments events out) and RPC.

Entrypoints only wire dependencies, load, hand the caller to the use case and dump; the rules live in
``domain.py``, the processor protocol (intent, call, result) in ``processor.py``.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from nameko_services.common.db import Database
from nameko_services.common.events import event_handler
from nameko_services.common.logging import bind
from nameko_services.common.relay import OutboxRelayRunner
from nameko_services.common.rpc import rpc
from nameko_services.common.service import ShopService
from nameko_services.common.validation import load
from nameko_services.payments import handlers, saga, schemas
from nameko_services.payments.gateways import adapters_from_config
from nameko_services.payments.models import outbox
from nameko_services.payments.processor import Processor, resume_pending
from nameko_services.payments.repository import SqlUnitOfWork

Json = dict[str, Any]
RECOVERY_INTERVAL = 30  # seconds between looks for interrupted processor calls


class PaymentProcessor(DependencyProvider):
    """Every configured provider's adapter and the retry delays, one per process.

    Built in ``start``, not ``setup``: the sandbox keeps its records through the engine of the
    ``db`` dependency, which exists once every ``setup`` has run (as for the outbox relay).
    """

    def __init__(self, database_attr: str = "db") -> None:
        self.database_attr = database_attr

    def start(self) -> None:
        config = self.container.config
        database = next(dep for dep in self.container.dependencies
                        if getattr(dep, "attr_name", None) == self.database_attr)
        delays = tuple(float(d) for d in config.get("PAYMENT_RETRY_DELAYS", (0.2, 0.5, 1.0)))
        self.processor = Processor(adapters_from_config(config, database.engine), delays,
                                   resume_after=float(config.get("PAYMENT_RESUME_AFTER", 60)))

    def get_dependency(self, worker_ctx: Any) -> Processor:
        return self.processor


class PaymentsService(ShopService):
    """Authorises, captures, voids and refunds order payments; event-sourced."""

    name = "payments"

    db = Database("payments")
    processor = PaymentProcessor()
    relay = OutboxRelayRunner(outbox)

    @property
    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    @event_handler("orders", "payment_requested")
    def on_payment_requested(self, payload: Json) -> None:
        """Authorise the payment of an order version (once), capture it at once if asked, and answer."""
        event_id = self.handling(payload, "order_id", "payment_id")
        cmd = load(schemas.PaymentRequestedSchema, payload)
        saga.on_payment_requested(self.uow, self.processor, event_id, cmd)

    @event_handler("orders", "capture_requested")
    def on_capture_requested(self, payload: Json) -> None:
        """Capture an authorised payment and answer captured or failed(capture_failed)."""
        event_id = self.handling(payload, "order_id", "payment_id")
        order_id, version, payment_id = load(schemas.CaptureRequestedSchema, payload)
        saga.on_capture_requested(self.uow, self.processor, event_id, order_id, version, payment_id)

    @event_handler("orders", "void_requested")
    def on_void_requested(self, payload: Json) -> None:
        """Void a stale or unwanted authorisation (refund one captured at once) and answer."""
        event_id = self.handling(payload, "order_id", "payment_id")
        order_id, payment_id = load(schemas.VoidRequestedSchema, payload)
        saga.on_void_requested(self.uow, self.processor, event_id, order_id, payment_id)

    @event_handler("orders", "order_cancelled")
    def on_order_cancelled(self, payload: Json) -> None:
        """Remember the cancellation; void or refund the order's payments."""
        event_id = self.handling(payload, "order_id", "payment_id")
        order_id = load(schemas.OrderCancelledSchema, payload)
        saga.on_order_cancelled(self.uow, self.processor, event_id, order_id)

    @timer(interval=RECOVERY_INTERVAL)
    def resume_interrupted(self) -> None:
        """Finish processor calls whose process died before recording the result."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.processor.resume_after)
        resume_pending(self.uow, self.processor, cutoff)

    @rpc
    def ping(self) -> str:
        """Readiness probe: answers when the service is up and consuming."""
        return "pong"

    @rpc
    def list_payments(self, order_id: str | None = None, page: int = 1, per_page: int = 20) -> Json:
        """A page of payments, newest first: a customer's own, or all for admins."""
        query = load(schemas.PaymentQuerySchema,
                             {"order_id": order_id, "page": page, "per_page": per_page})
        return handlers.list_payments(self.uow, self.caller, query).document(schemas.dump_payment)

    @rpc
    def get_payment(self, payment_id: str) -> Json:
        """One payment (owner or admin)."""
        bind(payment_id=payment_id)
        payment_id = schemas.payment_id(payment_id)
        return schemas.dump_payment(handlers.get_payment(self.uow, self.caller, payment_id))

    @rpc
    def get_payment_events(self, payment_id: str) -> list[Json]:
        """The payment's history ``[{version, type, data, occurred_at}]``, oldest first."""
        bind(payment_id=payment_id)
        return handlers.get_payment_events(self.uow, self.caller, schemas.payment_id(payment_id))

    @rpc
    def confirm_payment_action(self, payment_id: str) -> Json:
        """The customer is back from the card's challenge: the payment as the provider now says (owner)."""
        bind(payment_id=payment_id)
        payment_id = schemas.payment_id(payment_id)
        return schemas.dump_payment(handlers.confirm_payment_action(self.uow, self.processor, self.caller,
                                                                    payment_id))

    @rpc
    def get_sandbox_challenge(self, reference: str) -> Json:
        """What the sandbox's challenge page shows: the payment waiting for this reference."""
        return schemas.dump_challenge(handlers.sandbox_challenge(self.uow, self.processor,
                                                                 schemas.sandbox_reference(reference)))

    @rpc
    def answer_sandbox_challenge(self, reference: str, passed: bool) -> Json:
        """The customer passed or failed the sandbox's challenge; the payment as it ends up."""
        reference = schemas.sandbox_reference(reference)
        return schemas.dump_challenge(handlers.answer_sandbox_challenge(self.uow, self.processor, reference,
                                                                        passed is True))

    @rpc
    def refund_payment(self, payment_id: str, amount: int | None = None) -> Json:
        """Refund all or part of what remains of a captured payment (admin)."""
        bind(payment_id=payment_id)
        payment_id, amount = load(schemas.RefundSchema, {"payment_id": payment_id,
                                                                   "amount": amount})
        return schemas.dump_payment(handlers.refund_payment(self.uow, self.processor, self.caller,
                                                            payment_id, amount))
