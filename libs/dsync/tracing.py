"""Opt-in OpenTelemetry tracing: gateway → Kafka record headers → directory.

Off by default (`DSYNC_OTEL_ENABLED=false`): then every call here is a no-op and the
OpenTelemetry packages are not even imported. On, it needs the `otel` extra
(`pip install 'dsync[otel]'`, in the image) and exports spans over OTLP/HTTP to
`OTEL_EXPORTER_OTLP_ENDPOINT` (standard OpenTelemetry variables; service name
`dsync-<service>`). The gateway's command span travels in the command record's W3C
`traceparent` / `tracestate` headers; the directory's batch span continues that trace
(child of the one command of a one-command batch, linked to each command otherwise).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from dsync.settings import _Frozen

log = logging.getLogger(__name__)
Headers = list[tuple[str, bytes]]


class TracingSettings(_Frozen):
    otel_enabled: bool = False
    """Export traces with OpenTelemetry (needs the `otel` extra and an OTLP endpoint)."""


class Tracing:
    """Spans and header propagation; every method is a no-op when tracing is off."""

    def __init__(self, tracer: Any = None, provider: Any = None) -> None:
        self._tracer = tracer
        self._provider = provider
        self._propagator: Any = None
        if tracer is not None:
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
            self._propagator = TraceContextTextMapPropagator()

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def headers(self) -> Headers:
        """W3C trace context of the current span, as Kafka record headers."""
        if self._propagator is None:
            return []
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return [(k, v.encode()) for k, v in carrier.items()]

    def _context(self, headers: Sequence[tuple[str, bytes]] | None) -> Any:
        carrier = {k: v.decode(errors="replace") for k, v in headers or ()
                   if k in ("traceparent", "tracestate")}
        return self._propagator.extract(carrier) if carrier else None

    @contextlib.contextmanager
    def span(self, name: str, *, kind: str = "INTERNAL",
             from_records: Sequence[Sequence[tuple[str, bytes]] | None] = (),
             attributes: dict[str, str | int] | None = None) -> Iterator[None]:
        """A span around the block. `from_records`: the headers of the records it handles;
        one traced record makes this span its child, several are linked."""
        if self._tracer is None:
            yield
            return
        from opentelemetry import trace

        contexts = [c for c in (self._context(h) for h in from_records) if c is not None]
        parent = contexts[0] if len(contexts) == 1 else None
        links = [trace.Link(trace.get_current_span(c).get_span_context())
                 for c in contexts] if len(contexts) > 1 else []
        with self._tracer.start_as_current_span(
                name, context=parent, kind=getattr(trace.SpanKind, kind), links=links,
                attributes=attributes or {}):
            yield

    def shutdown(self) -> None:
        """Flush and stop the exporter (at process exit)."""
        if self._provider is not None:
            self._provider.shutdown()


def setup_tracing(service: str, settings: TracingSettings | None = None) -> Tracing:
    """A Tracing for `service`: real when `DSYNC_OTEL_ENABLED` and the packages are there."""
    settings = settings or TracingSettings()
    if not settings.otel_enabled:
        return Tracing()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("DSYNC_OTEL_ENABLED is set but the OpenTelemetry packages are missing"
                    " (pip install 'dsync[otel]'): tracing stays off")
        return Tracing()
    provider = TracerProvider(resource=Resource.create({"service.name": f"dsync-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider.get_tracer("dsync"), provider)


__all__ = ["Headers", "Tracing", "TracingSettings", "setup_tracing"]
