"""The sessions service process: revokes a user's sessions after the directory deactivated
or deleted it (handlers), and re-runs retried revocations from the ledger.
Its HTTP API (issuing, introspection) is `api.py`, which the gateway mounts."""
from __future__ import annotations

from dsync.ledger.worker import LedgerWorker
from dsync.pipeline.event_service import run_event_service
from dsync.service_runtime import ServiceRuntime
from dsync_services.sessions.handlers import KIND, SessionEvents, perform_queued
from dsync_services.sessions.metrics import SessionsMetrics


async def main() -> None:
    metrics = SessionsMetrics()

    async def queued(rt: ServiceRuntime) -> None:
        worker = LedgerWorker(rt.pool, rt.listener, KIND, perform_queued,
                              lambda status: metrics.operations.labels(status).inc())
        await worker.run(rt.stop)

    await run_event_service("sessions", metrics.registry, lambda _rt: SessionEvents(metrics),
                            (queued,))
