"""Opt-in OpenTelemetry tracing: one SCIM write is one trace from the gateway's command
publish, through the command record's headers, to the directory's apply span. Spans are
exported over OTLP/HTTP to a real local receiver (issue 12)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from dsync.devservers.ports import free_port
from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import RunningStack, start_stack

Span = tuple[str, str, bytes, bytes, bytes]
"""(service.name, span name, trace id, span id, parent span id)."""


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []

    async def traces(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in export.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                self.spans += [(service, s.name, s.trace_id, s.span_id, s.parent_span_id)
                               for s in scope.spans]
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[OtlpReceiver, int]]:
    otlp = OtlpReceiver()
    app = web.Application()
    app.router.add_post("/v1/traces", otlp.traces)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield otlp, port
    await runner.cleanup()


@pytest.fixture(scope="module")
async def traced_stack(servers: Servers, receiver: tuple[OtlpReceiver, int]
                       ) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_OTEL_ENABLED="true",
                                OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver[1]}",
                                OTEL_BSP_SCHEDULE_DELAY="100")
    try:
        yield running
    finally:
        await running.close()


async def test_a_scim_write_is_one_trace_across_gateway_kafka_and_directory(
        traced_stack: RunningStack, receiver: tuple[OtlpReceiver, int]) -> None:
    otlp, _ = receiver
    tenant = await traced_stack.new_tenant()
    await traced_stack.create_user(tenant, "traced@example.com")
    deadline = time.monotonic() + 60
    while True:
        publishes = [s for s in otlp.spans if s[:2] == ("dsync-gateway", "dsync.command publish")]
        applies = {s[2]: s for s in otlp.spans
                   if s[:2] == ("dsync-directory", "dsync.command apply")}
        joined = [(p, applies[p[2]]) for p in publishes if p[2] in applies]
        if joined:
            break
        assert time.monotonic() < deadline, f"no joined trace; spans: {otlp.spans}"
        await asyncio.sleep(0.2)
    publish, apply = joined[0]
    assert apply[4] == publish[3]  # the directory's span is the child of the publish span
