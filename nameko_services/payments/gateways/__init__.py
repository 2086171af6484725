"""Payment-gateway adapters (no nameko here): the port, the sandbox and a Stripe-style client."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko_services.payments.gateways.base import (
    Authorisation,
    GatewayError,
    PaymentDeclined,
    PaymentGateway,
    TransientGatewayError,
    with_retries,
)
from nameko_services.payments.gateways.sandbox import SandboxGateway
from nameko_services.payments.gateways.stripe import StripeGateway

__all__ = ["Authorisation", "GatewayError", "PaymentDeclined", "PaymentGateway", "SandboxGateway",
           "StripeGateway", "TransientGatewayError", "gateway_from_config", "with_retries"]


def gateway_from_config(config: Mapping[str, Any]) -> PaymentGateway:
    """The adapter ``PAYMENT_PROVIDER`` names (``sandbox`` or ``stripe``)."""
    provider = str(config.get("PAYMENT_PROVIDER") or "sandbox")
    if provider == "sandbox":
        return SandboxGateway()
    if provider == "stripe":
        return StripeGateway(str(config.get("STRIPE_API_KEY") or ""),
                             str(config.get("STRIPE_API_BASE") or "https://api.stripe.com"))
    raise ValueError(f"unknown PAYMENT_PROVIDER {provider!r} (sandbox or stripe)")
