"""Payment-gateway adapters (no nameko here): the port, the sandbox, a Stripe-style client, the registry.

A provider is configured when its settings are present: the sandbox always (it needs none),
stripe when ``STRIPE_API_KEY`` is set (``STRIPE_API_BASE`` defaults to Stripe's API).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine

from nameko_services.payments.gateways.base import (
    ActionStillRequired,
    Authorisation,
    GatewayError,
    PaymentDeclined,
    PaymentGateway,
    TransientGatewayError,
    with_retries,
)
from nameko_services.payments.gateways.registry import Adapters, ProviderNotConfigured
from nameko_services.payments.gateways.sandbox import SandboxGateway
from nameko_services.payments.gateways.sandbox_ledger import SqlSandboxLedger
from nameko_services.payments.gateways.stripe import StripeGateway

__all__ = ["ADAPTERS", "ActionStillRequired", "Adapters", "Authorisation", "GatewayError",
           "PaymentDeclined", "PaymentGateway", "ProviderNotConfigured", "SandboxGateway", "StripeGateway",
           "TransientGatewayError", "adapters_from_config", "with_retries"]

# How to build each provider's adapter from the service config and the payments database's engine;
# None when the config does not configure that provider.
AdapterFactory = Callable[[Mapping[str, Any], Engine | None], PaymentGateway | None]


def sandbox_gateway(config: Mapping[str, Any], engine: Engine | None) -> PaymentGateway:
    """The sandbox, keeping its records in the payments database (in memory without an engine)."""
    return SandboxGateway(SqlSandboxLedger(engine) if engine is not None else None)


def stripe_gateway(config: Mapping[str, Any], engine: Engine | None) -> PaymentGateway | None:
    """The Stripe adapter (``STRIPE_API_KEY``, ``STRIPE_API_BASE``), None without a key."""
    if not config.get("STRIPE_API_KEY"):
        return None
    return StripeGateway(str(config["STRIPE_API_KEY"]),
                         str(config.get("STRIPE_API_BASE") or "https://api.stripe.com"),
                         return_url=str(config.get("STRIPE_RETURN_URL") or "") or None)


ADAPTERS: dict[str, AdapterFactory] = {"sandbox": sandbox_gateway, "stripe": stripe_gateway}


def adapters_from_config(config: Mapping[str, Any], engine: Engine | None = None) -> Adapters:
    """The adapter of every configured provider; new payments go to ``PAYMENT_PROVIDER``'s."""
    provider = str(config.get("PAYMENT_PROVIDER") or "sandbox")
    if provider not in ADAPTERS:
        raise ValueError(f"unknown PAYMENT_PROVIDER {provider!r} ({' or '.join(ADAPTERS)})")
    configured = {name: adapter for name, build in ADAPTERS.items()
                  if (adapter := build(config, engine)) is not None}
    if provider not in configured:
        raise ValueError(f"PAYMENT_PROVIDER is {provider!r}, which is not configured "
                         "(stripe needs STRIPE_API_KEY)")
    return Adapters(configured, provider)
