"""Payment-gateway adapters (no nameko here): the port, the sandbox and a Stripe-style client."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine

from nameko_services.payments.gateways.base import (
    Authorisation,
    GatewayError,
    PaymentDeclined,
    PaymentGateway,
    TransientGatewayError,
    with_retries,
)
from nameko_services.payments.gateways.sandbox import SandboxGateway
from nameko_services.payments.gateways.sandbox_ledger import SqlSandboxLedger
from nameko_services.payments.gateways.stripe import StripeGateway

__all__ = ["ADAPTERS", "Authorisation", "GatewayError", "PaymentDeclined", "PaymentGateway",
           "SandboxGateway", "StripeGateway", "TransientGatewayError", "gateway_from_config",
           "with_retries"]

# How to build each provider's adapter from the service config and the payments database's engine.
AdapterFactory = Callable[[Mapping[str, Any], Engine | None], PaymentGateway]


def sandbox_gateway(config: Mapping[str, Any], engine: Engine | None) -> PaymentGateway:
    """The sandbox, keeping its records in the payments database (in memory without an engine)."""
    return SandboxGateway(SqlSandboxLedger(engine) if engine is not None else None)


def stripe_gateway(config: Mapping[str, Any], engine: Engine | None) -> PaymentGateway:
    """The Stripe adapter (``STRIPE_API_KEY``, ``STRIPE_API_BASE``); it keeps nothing itself."""
    return StripeGateway(str(config.get("STRIPE_API_KEY") or ""),
                         str(config.get("STRIPE_API_BASE") or "https://api.stripe.com"))


ADAPTERS: dict[str, AdapterFactory] = {"sandbox": sandbox_gateway, "stripe": stripe_gateway}


def gateway_from_config(config: Mapping[str, Any], engine: Engine | None = None) -> PaymentGateway:
    """The adapter ``PAYMENT_PROVIDER`` names (``sandbox`` or ``stripe``)."""
    provider = str(config.get("PAYMENT_PROVIDER") or "sandbox")
    if provider not in ADAPTERS:
        raise ValueError(f"unknown PAYMENT_PROVIDER {provider!r} (sandbox or stripe)")
    return ADAPTERS[provider](config, engine)
