"""JSON-lines logging with the service name, nameko call id, correlation id and the current
span's trace and span ids."""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

from nameko.extensions import DependencyProvider
from pythonjsonlogger.json import JsonFormatter

from nameko_services.common.broker import redact_addresses
from nameko_services.common.trace_context import TraceIdsFilter

# Under eventlet's monkey patching this is greenthread-local: one slot per worker.
_current = threading.local()


def bind(**fields: Any) -> None:
    """Attach fields (order_id, payment_id, ...) to every log line of this worker."""
    _current.__dict__.setdefault("fields", {}).update(fields)


def clear() -> None:
    _current.__dict__.pop("fields", None)


class ContextFilter(TraceIdsFilter):
    """Copies the current worker's fields, and its span's ids, onto each record."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service or os.environ.get("SHOP_SERVICE_NAME", "")

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        _redact_broker_passwords(record)
        for key, value in getattr(_current, "fields", {}).items():
            setattr(record, key, value)
        return super().filter(record)


def _redact_broker_passwords(record: logging.LogRecord) -> None:
    """nameko hides the password of the first broker address only (``sanitize_url``): with several
    (``a;b``) the others would reach the log. Every ``scheme://user:password@`` is hidden here."""
    message = record.getMessage()
    if "://" in message and "@" in message:
        record.msg, record.args = redact_addresses(message), None


def json_formatter() -> logging.Formatter:
    """The one log format of every process."""
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(service)s %(message)s",
                         rename_fields={"levelname": "level", "asctime": "time"})


def setup_logging(service: str, level: str | None = None) -> None:
    """Send JSON lines to stderr (for processes not configured by nameko's LOGGING)."""
    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("SHOP_LOG_LEVEL", "INFO"))


class LoggingContext(DependencyProvider):
    """Binds call id and correlation id to the log lines of each worker."""

    def worker_setup(self, worker_ctx: Any) -> None:
        clear()
        bind(call_id=worker_ctx.call_id,
             correlation_id=worker_ctx.context_data.get("correlation_id"))

    def worker_teardown(self, worker_ctx: Any) -> None:
        clear()
