"""What the roles service does with each event of `dsync.events`.

Membership, group and user events recompute the users they can affect (see `targets`).
A deprovisioning event (`user.deactivated`, `user.deleted`) drops the user's roles and is
recorded in the ledger as a `role_recomputation` operation (id derived from the event id).
"""
from __future__ import annotations

import time
from uuid import UUID

import asyncpg

from dsync import effects_ledger as ledger
from dsync.messages.events import CloudEvent, DraftEvent
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.recompute import recompute
from dsync_services.roles.targets import DEPROVISIONING, targets_of

KIND = "role_recomputation"
# `user.created` cannot change roles (a new user is in no group; SCIM `groups` is read-only).
TYPES = frozenset({"user.reactivated", "user.deactivated", "user.deleted",
                   "group.member_added", "group.member_removed", "group.deleted"})


def _ledger_fields(event: CloudEvent) -> dict[str, object]:
    return {"op_id": ledger.effect_id(KIND, event.id), "tenant_id": UUID(event.tenantid),
            "kind": KIND, "path": f"/Users/{event.subject}", "resource_type": "User",
            "resource_id": _maybe_uuid(event.subject), "received_at": event.time}


def _maybe_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


class RolesEvents:
    """`apply` and `on_failure` hooks for TrackedHandler."""

    def __init__(self, metrics: RolesMetrics) -> None:
        self.metrics = metrics

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent,
                    emit: list[DraftEvent]) -> None:
        """Recompute the affected users in the caller's transaction. Raises on DB errors."""
        targets = targets_of(event)
        started = time.perf_counter()
        changes = await recompute(conn, UUID(event.tenantid), targets, emit)
        self.metrics.recompute_seconds.labels("event").observe(time.perf_counter() - started)
        if changes:
            self.metrics.roles_changed.labels(event.type).inc(len(changes))
        if event.type in DEPROVISIONING:
            dropped = sorted({r for c in changes for r in c.before})
            await ledger.record_applied(conn, detail=f"roles now []; dropped here: {dropped}",
                                        **_ledger_fields(event))  # type: ignore[arg-type]
            self.metrics.operations.labels("applied").inc()

    async def on_failure(self, event: CloudEvent, exc: BaseException, pool: asyncpg.Pool) -> None:
        if event.type in DEPROVISIONING:
            await ledger.record_failure(pool, error=exc,
                                        **_ledger_fields(event))  # type: ignore[arg-type]
            self.metrics.operations.labels("failed").inc()

    def on_applied(self, event: CloudEvent) -> None:
        self.metrics.events.labels(event.type).inc()
