"""Error reporting to Sentry, switched on only when a DSN is configured.

``sentry_sdk`` is imported inside the functions, never at module level: at import time it
probes whether eventlet has patched threading to pick how it keeps per-worker scopes, so it
must be imported after ``nameko run`` has patched (and not at all by a gateway without a DSN).
"""
from __future__ import annotations

import os
from typing import Any

from nameko.extensions import DependencyProvider

from nameko_services.common.errors import ServiceError, ServiceUnavailable

# nameko logs every failed worker here; the reporter sends those failures itself, with tags.
NAMEKO_WORKER_LOGGER = "nameko.containers"


def init_sentry(dsn: str | None, service: str, **options: Any) -> bool:
    """Start the Sentry SDK for ``service`` if ``dsn`` is set; return whether it was started.

    ``options`` go to ``sentry_sdk.init`` as they are (tests pass a recording ``transport``).
    """
    if not dsn:
        return False
    import sentry_sdk

    # Neither frame locals (a failed entrypoint's are its arguments: payloads, passwords, payment
    # tokens) nor request bodies: what the logs may not show, Sentry may not either.
    sentry_sdk.init(dsn=dsn, environment=os.environ.get("SHOP_ENV", "development"),
                    server_name=service, send_default_pii=False, include_local_variables=False,
                    max_request_body_size="never", **options)
    sentry_sdk.set_tag("service", service)
    return True


def reportable(error: BaseException) -> bool:
    """Whether a worker's exception is worth a Sentry event.

    Errors raised on purpose for the caller (not found, conflict, invalid input...) are
    answers, not faults; an unavailable dependency or anything unexpected is reported.
    """
    return not isinstance(error, ServiceError) or isinstance(error, ServiceUnavailable)


class SentryReporter(DependencyProvider):
    """Reports the exceptions of a service's workers to Sentry when ``SENTRY_DSN`` is configured.

    Each event is tagged with the service, the entrypoint, nameko's call id and the
    correlation id of the request that caused it. Without a DSN it does nothing at all.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options  # for sentry_sdk.init, e.g. a test's recording transport
        self.enabled = False

    def setup(self) -> None:
        dsn = self.container.config.get("SENTRY_DSN")
        if not dsn:
            return
        import sentry_sdk
        from sentry_sdk.integrations.logging import ignore_logger

        # Once per process: with several services in one `nameko run`, the first starts the SDK.
        self.enabled = sentry_sdk.get_client().is_active() or init_sentry(
            dsn, self.container.service_name, **self.options)
        ignore_logger(NAMEKO_WORKER_LOGGER)  # else each failure would be sent twice, untagged

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        if not self.enabled or exc_info is None or not reportable(exc_info[1]):
            return
        import sentry_sdk

        with sentry_sdk.new_scope() as scope:
            scope.set_tag("service", self.container.service_name)
            scope.set_tag("entrypoint", worker_ctx.entrypoint.method_name)
            scope.set_tag("call_id", worker_ctx.call_id)
            correlation_id = worker_ctx.context_data.get("correlation_id")
            if correlation_id:
                scope.set_tag("correlation_id", correlation_id)
            scope.capture_exception(exc_info)
