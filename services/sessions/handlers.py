"""What the sessions service does with deprovisioning events (and retried revocations).

`user.deactivated` revokes the sessions issued before the deactivation; `user.deleted`
revokes all of them. In one transaction (with the consumed-event row): the sessions are
revoked, one `session.revoked` event per session goes to the outbox (at the end of the
transaction, see dsync.pipeline.event_effects), and the effect is recorded in the ledger as a
`session_revocation` operation (id derived from the event id, `received_at` = event time).
The deprovisioning lag is observed after commit.
"""
from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.ledger import writes
from dsync.ledger.effects import effect_id
from dsync.messages.events import CloudEvent, DraftEvent
from dsync_services.sessions import repository as repo
from dsync_services.sessions.metrics import SessionsMetrics
from dsync_services.sessions.model import revocation_for, revocation_on_retry, revoked_event

KIND = "session_revocation"
TYPES = frozenset({"user.deactivated", "user.deleted"})


async def perform_queued(conn: DbConnection, op: asyncpg.Record,
                         emit: list[DraftEvent]) -> str:
    """A retried `session_revocation` operation (see dsync.ledger.worker), from current state."""
    exists = bool(await conn.fetchval("SELECT true FROM directory_users WHERE tenant_id = $1 AND"
                                      " id = $2", op["tenant_id"], op["resource_id"]))
    revocation = revocation_on_retry(op["resource_id"], user_exists=exists)
    revoked = await repo.revoke(conn, op["tenant_id"], revocation)
    emit.extend(revoked_event(sid, revocation) for sid in revoked)
    return f"{len(revoked)} sessions revoked"


def _ledger_fields(event: CloudEvent, user_id: UUID | None) -> dict[str, object]:
    return {"op_id": effect_id(KIND, event.id), "tenant_id": UUID(event.tenantid),
            "kind": KIND, "path": f"/Users/{event.subject}/sessions", "resource_type": "User",
            "resource_id": user_id, "received_at": event.time}


class SessionEvents:
    """The sessions service's `EventEffects` (dsync.pipeline.event_effects)."""

    def __init__(self, metrics: SessionsMetrics) -> None:
        self.metrics = metrics

    def relevant(self, event_type: str, tenant_id: str) -> bool:
        return event_type in TYPES

    async def apply(self, conn: DbConnection, events: list[CloudEvent],
                    emit: list[DraftEvent]) -> None:
        """Revoke and record one tenant's deprovisionings in the caller's transaction (one
        statement each); add the `session.revoked` events to `emit`. Raises on DB errors."""
        tenant_id = UUID(events[0].tenantid)
        planned = [(e, r) for e in events if (r := revocation_for(e)) is not None]
        if not planned:
            return
        revoked = await repo.revoke_many(conn, tenant_id, [r for _, r in planned])
        rows: list[tuple[UUID, str, UUID | None, str, datetime]] = []
        for event, revocation in planned:
            sessions = revoked.get(revocation.user_id, [])
            emit.extend(revoked_event(sid, revocation) for sid in sessions)
            self.metrics.revoked.labels(revocation.reason).inc(len(sessions))
            rows.append((effect_id(KIND, event.id), f"/Users/{event.subject}/sessions",
                         revocation.user_id, f"{len(sessions)} sessions revoked", event.time))
        await writes.record_effects_applied(conn, tenant_id=tenant_id, kind=KIND,
                                         resource_type="User", rows=rows)

    async def on_failure(self, event: CloudEvent, exc: BaseException, pool: asyncpg.Pool) -> None:
        revocation = revocation_for(event)
        if revocation is None:
            return
        await writes.record_effect_failure(pool, error=exc,
                                    **_ledger_fields(event, revocation.user_id))  # type: ignore[arg-type]
        self.metrics.operations.labels("failed").inc()

    def on_applied(self, event: CloudEvent) -> None:
        self.metrics.events.labels(event.type).inc()
        revocation = revocation_for(event)
        if revocation is None:
            return
        self.metrics.operations.labels("applied").inc()
        lag = (datetime.now(UTC) - event.time).total_seconds()
        self.metrics.deprovisioning_lag.labels(revocation.reason).observe(max(lag, 0.0))
