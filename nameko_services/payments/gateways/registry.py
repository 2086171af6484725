"""The configured adapters by provider name: a payment's calls go to the provider that authorised it.

``PAYMENT_PROVIDER`` only chooses where new payments are authorised. A payment records its
provider, and its captures, voids, refunds and resumed calls go to that provider's adapter.
If that provider is not configured any more, its calls fail with ``ProviderNotConfigured``.
They never go to another provider, which would not know the payment.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nameko_services.payments.gateways.base import GatewayError, PaymentGateway


class ProviderNotConfigured(GatewayError):
    """The payment's provider has no adapter here (its settings were removed): permanent."""

    def __init__(self, provider: str) -> None:
        super().__init__("provider_not_configured",
                         f"The payment's provider {provider!r} is not configured in the payments "
                         "service; its calls go to no other provider.")
        self.provider = provider
        self.reason = f"provider_not_configured: {provider}"  # as PaymentDeclined.reason


@dataclass(frozen=True)
class Adapters:
    """Every configured provider's adapter, and the provider new payments are authorised with."""

    by_provider: Mapping[str, PaymentGateway]
    for_new_payments: str

    def __post_init__(self) -> None:
        if self.for_new_payments not in self.by_provider:
            raise ValueError(f"no adapter for new payments' provider {self.for_new_payments!r}")

    @classmethod
    def of(cls, current: PaymentGateway, *others: PaymentGateway) -> Adapters:
        """These adapters; new payments go to ``current``."""
        return cls({gateway.name: gateway for gateway in (*others, current)}, current.name)

    def of_provider(self, provider: str) -> PaymentGateway:
        """The adapter of ``provider``; ``ProviderNotConfigured`` if it has none."""
        gateway = self.by_provider.get(provider)
        if gateway is None:
            raise ProviderNotConfigured(provider)
        return gateway
