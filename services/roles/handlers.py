"""What the roles service does with each event of `dsync.events`.

Membership, group and user events recompute the users they can affect (see `targets`).
A deprovisioning event (`user.deactivated`, `user.deleted`) drops the user's roles and is
recorded in the ledger as a `role_recomputation` operation (id derived from the event id).
"""
from __future__ import annotations

import time
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.ledger import writes
from dsync.ledger.effects import effect_id
from dsync.messages.events import CloudEvent, DraftEvent
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.recompute import recompute_many
from dsync_services.roles.targets import DEPROVISIONING, targets_of

KIND = "role_recomputation"
# `user.created` cannot change roles (a new user is in no group; SCIM `groups` is read-only).
TYPES = frozenset({"user.reactivated", "user.deactivated", "user.deleted",
                   "group.member_added", "group.member_removed", "group.deleted"})


def _ledger_fields(event: CloudEvent) -> dict[str, object]:
    return {"op_id": effect_id(KIND, event.id), "tenant_id": UUID(event.tenantid),
            "kind": KIND, "path": f"/Users/{event.subject}", "resource_type": "User",
            "resource_id": _maybe_uuid(event.subject), "received_at": event.time}


def _maybe_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


class RolesEvents:
    """The roles service's `EventEffects` (dsync.pipeline.event_effects)."""

    def __init__(self, metrics: RolesMetrics) -> None:
        self.metrics = metrics

    def relevant(self, event_type: str, tenant_id: str) -> bool:
        return event_type in TYPES

    async def apply(self, conn: DbConnection, events: list[CloudEvent],
                    emit: list[DraftEvent]) -> None:
        """Recompute the users one tenant's `events` can affect, in one pass, in the
        caller's transaction; record each deprovisioning in the ledger (one statement).
        Raises on DB errors."""
        tenant_id = UUID(events[0].tenantid)
        started = time.perf_counter()
        changes = await recompute_many(conn, tenant_id, [targets_of(e) for e in events], emit)
        self.metrics.recompute_seconds.labels("event").observe(time.perf_counter() - started)
        if changes:
            self.metrics.roles_changed.labels(events[-1].type).inc(len(changes))
        dropped: dict[UUID | None, list[str]] = {c.user_id: sorted(c.before) for c in changes}
        deprovisioned = [e for e in events if e.type in DEPROVISIONING]
        await writes.record_effects_applied(
            conn, tenant_id=tenant_id, kind=KIND, resource_type="User",
            rows=[(effect_id(KIND, e.id), f"/Users/{e.subject}", _maybe_uuid(e.subject),
                   f"roles now []; dropped here: {dropped.get(_maybe_uuid(e.subject), [])}",
                   e.time) for e in deprovisioned])
        self.metrics.operations.labels("applied").inc(len(deprovisioned))

    async def on_failure(self, event: CloudEvent, exc: BaseException, pool: asyncpg.Pool) -> None:
        if event.type in DEPROVISIONING:
            await writes.record_effect_failure(pool, error=exc,
                                        **_ledger_fields(event))  # type: ignore[arg-type]
            self.metrics.operations.labels("failed").inc()

    def on_applied(self, event: CloudEvent) -> None:
        self.metrics.events.labels(event.type).inc()
