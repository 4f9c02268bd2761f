"""The roles service process: maintains each user's effective roles from `dsync.events`
(handlers) and applies queued `role_recomputation` operations — mapping changes and
retries — from the ledger (queued)."""
from __future__ import annotations

from dsync.ledger.worker import LedgerWorker
from dsync.pipeline.event_service import run_event_service
from dsync.service_runtime import ServiceRuntime
from dsync_services.roles.handlers import RolesEvents
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.queued import KIND, make_perform


async def main() -> None:
    metrics = RolesMetrics()

    async def queued(rt: ServiceRuntime) -> None:
        worker = LedgerWorker(rt.pool, rt.listener, KIND, make_perform(metrics),
                              lambda status: metrics.operations.labels(status).inc())
        await worker.run(rt.stop)

    await run_event_service("roles", metrics.registry, lambda _rt: RolesEvents(metrics),
                            (queued,))
