"""An OTLP/HTTP trace receiver for tests: processes export to it, tests read the spans back.

It answers ``POST /v1/traces`` (protobuf ``ExportTraceServiceRequest``, gzip or not) on a free
loopback port and keeps the most recent spans (a bounded number: a whole suite exports to it).
Point a process at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint``. With
``decode=False`` it only counts what it gets, as cheaply as it can (a benchmark's receiver).
"""
from __future__ import annotations

import collections
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.local_http import LocalHttpServer

KEPT_SPANS = 50_000
KINDS = {Span.SPAN_KIND_INTERNAL: "internal", Span.SPAN_KIND_SERVER: "server",
         Span.SPAN_KIND_CLIENT: "client", Span.SPAN_KIND_PRODUCER: "producer",
         Span.SPAN_KIND_CONSUMER: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, its ids in lowercase hex as the log lines carry them."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str | None
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def decode(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """The spans of one export request, each with its resource's ``service.name``."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(ReceivedSpan(
                    service=str(resource.get("service.name")), name=span.name, kind=KINDS.get(span.kind, "?"),
                    trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex() or None, start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano, error=span.status.code == Status.STATUS_CODE_ERROR,
                    attributes={a.key: _value(a.value) for a in span.attributes}))
    return spans


class OtlpReceiver:
    """Receives spans at ``endpoint`` (a base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` wants it)."""

    def __init__(self, kept: int = KEPT_SPANS, decode: bool = True) -> None:
        self._spans: collections.deque[ReceivedSpan] = collections.deque(maxlen=kept)
        self._lock = threading.Lock()
        self.decode = decode
        self.received = 0  # spans decoded, kept or not
        self.requests = self.received_bytes = 0
        self.server = LocalHttpServer(self._respond)
        self.endpoint = self.server.base_url

    def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if method != "POST" or path != "/v1/traces":
            return 404, b"{}"
        with self._lock:
            self.requests, self.received_bytes = self.requests + 1, self.received_bytes + len(body)
        if not self.decode:
            return 200, b""
        if {k.lower(): v for k, v in headers.items()}.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        spans = decode(ExportTraceServiceRequest.FromString(body))
        with self._lock:
            self._spans.extend(spans)
            self.received += len(spans)
        return 200, b""

    def spans(self, trace_id: str | None = None) -> list[ReceivedSpan]:
        """Every span kept (of one trace if ``trace_id``), in the order they arrived."""
        with self._lock:
            return [span for span in self._spans if trace_id is None or span.trace_id == trace_id]

    def wait_until(self, check: Callable[[], Any], timeout: float = 20.0) -> Any:
        """``check()``'s first truthy answer, asked every 0.1 s until ``timeout``; else its last."""
        deadline = time.monotonic() + timeout
        while not (result := check()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return result

    def close(self) -> None:
        self.server.close()
