"""The roles service process: maintains each user's effective roles from `dsync.events`
(handlers) and applies queued `role_recomputation` operations — mapping changes and
retries — from the ledger (queued)."""
from __future__ import annotations

from dsync.tracked_events import run_effect_service
from dsync_services.roles.handlers import TYPES, RolesEvents
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.queued import KIND, make_perform


async def main() -> None:
    metrics = RolesMetrics()
    await run_effect_service("roles", metrics.registry, RolesEvents(metrics), TYPES, KIND,
                             make_perform(metrics),
                             lambda status: metrics.operations.labels(status).inc())
