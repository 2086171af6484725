"""Per-request context: the correlation id, carried to RPC headers and log lines (with the
current span's trace and span ids)."""
from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from nameko_services.common.text import matches
from nameko_services.common.trace_context import TraceIdsFilter

REQUEST_ID_HEADER = "X-Request-ID"
# A client-supplied id is echoed and logged: accept only short, plain tokens.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def accept_request_id(supplied: str | None) -> str:
    """The client's X-Request-ID if it is a plain short token, else a new uuid."""
    if supplied and matches(_SAFE_ID, supplied):
        return supplied
    return str(uuid.uuid4())


def current_request_id() -> str:
    """The id of the request being handled (a fresh one outside a request)."""
    return request_id.get() or str(uuid.uuid4())


class RequestIdFilter(logging.Filter):
    """Adds ``correlation_id`` to every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None:
            record.correlation_id = current
        return True


class ServiceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.service = "gateway"
        return True


def configure_logging(level: str) -> None:
    """JSON log lines on stderr, in the format of nameko_services.common.logging (which we do
    not import: it pulls in nameko's runtime and eventlet), plus the request's correlation id
    and its span's ``trace_id`` and ``span_id``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(service)s %(message)s",
                                       rename_fields={"levelname": "level", "asctime": "time"}))
    handler.addFilter(ServiceFilter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(TraceIdsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
