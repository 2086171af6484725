"""Error reporting to Sentry, switched on only when a DSN is configured."""
from __future__ import annotations

import os

import sentry_sdk


def init_sentry(dsn: str | None, service: str) -> bool:
    """Start the Sentry SDK for ``service`` if ``dsn`` is set; return whether it was started."""
    if not dsn:
        return False
    sentry_sdk.init(dsn=dsn, environment=os.environ.get("SHOP_ENV", "development"),
                    server_name=service, send_default_pii=False)
    sentry_sdk.set_tag("service", service)
    return True
