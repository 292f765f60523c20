"""Opt-in OpenTelemetry tracing (`tracing = true` in settings, `VERIFRAME_TRACING=1`).

With the `tracing` extra installed (`pip install "veriframe-service[tracing]"`) the server adds the
standard `opentelemetry-instrumentation-grpc` server interceptor (one span per RPC, W3C trace context
from the caller) and `stage(...)` spans for each step of a job's flow: `veriframe.screen`,
`veriframe.generate`, `veriframe.postprocess`, `veriframe.ledger`. Spans go to the exporter that the
standard `OTEL_*` environment configures through the SDK; `OTEL_TRACES_EXPORTER=console` prints them.
Without tracing, `stage` costs one context-manager call and nothing is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)
_provider: Any = None  # the TracerProvider while tracing is on


class TracingUnavailable(RuntimeError):
    """Tracing was asked for but the OpenTelemetry packages are not installed."""


def enable(provider: Any = None) -> list[Any]:
    """Turn tracing on; returns the gRPC server interceptors to install (first in the chain).

    `provider`: a TracerProvider to use; by default the global one when the application set one, else
    one made from the `OTEL_*` environment (installed as the global provider).
    """
    global _provider
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.grpc import aio_server_interceptor
    except ImportError as error:
        raise TracingUnavailable(
            'tracing needs the OpenTelemetry packages: pip install "veriframe-service[tracing]"'
        ) from error
    if provider is None:
        provider = trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider):  # none set by the application: make one
            provider = _provider_from_environment()
            trace.set_tracer_provider(provider)
    _provider = provider
    return [aio_server_interceptor(tracer_provider=provider)]


def _provider_from_environment() -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME", "veriframe")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    if exporter_name == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(
                "tracing: no OTLP exporter (opentelemetry-exporter-otlp) installed: spans are dropped"
            )
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def disable() -> None:
    global _provider
    _provider = None


@contextlib.contextmanager
def stage(name: str, **attributes: Any) -> Iterator[None]:
    """A span `veriframe.<name>` around one flow stage (no-op unless tracing is enabled)."""
    if _provider is None:
        yield
        return
    tracer = _provider.get_tracer("veriframe")
    with tracer.start_as_current_span(f"veriframe.{name}", attributes=attributes):
        yield
