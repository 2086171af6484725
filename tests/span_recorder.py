"""Spans recorded in memory, for tests: a provider of our own making (``common.telemetry``'s
sampler and resource) whose spans end up in an ``InMemorySpanExporter``.

``recorder()`` gives a provider for one test, to hand to the code under test (its module's
``tracer``). ``installed()`` makes one the process's global provider, once (OpenTelemetry allows
no second), for tests that run whole containers: every later container of the process records too.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from nameko_services.common.telemetry import tracer_provider


@dataclass
class Recorder:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def tracer(self, name: str = "test") -> trace.Tracer:
        return self.provider.get_tracer(name)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``."""
        found = [span for span in self.spans() if span.name == name]
        assert len(found) == 1, f"{len(found)} spans named {name!r} in {[s.name for s in self.spans()]}"
        return found[0]

    def wait_for(self, *names: str, timeout: float = 5.0) -> None:
        """Until a span of each name has ended (work in other threads: a relay, a handler)."""
        deadline = time.monotonic() + timeout
        while not {*names} <= {span.name for span in self.spans()} and time.monotonic() < deadline:
            time.sleep(0.01)


def traceparent_of(span_context: trace.SpanContext) -> str:
    """The W3C traceparent naming ``span_context``."""
    return (f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
            f"{int(span_context.trace_flags):02x}")


def recorder(service: str = "test") -> Recorder:
    exporter = InMemorySpanExporter()
    return Recorder(tracer_provider(service, SimpleSpanProcessor(exporter)), exporter)


_installed: Recorder | None = None


def installed() -> Recorder:
    """The process's global recorder (installed on first use), emptied."""
    global _installed
    if _installed is None:
        _installed = recorder("integration")
        trace.set_tracer_provider(_installed.provider)
    assert trace.get_tracer_provider() is _installed.provider, "another tracer provider is installed"
    _installed.exporter.clear()
    return _installed
