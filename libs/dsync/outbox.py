"""The transactional outbox: every service that emits events writes them here, in the
same transaction as its effect; the directory's relay publishes them to `dsync.events`."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from dsync.messages.events import DraftEvent, seal

OUTBOX_CHANNEL = "dsync_outbox"


async def append_events(conn: asyncpg.Connection, tenant_id: UUID,
                        events: tuple[DraftEvent, ...] | list[DraftEvent], now: datetime,
                        *, notify: bool = True) -> None:
    """Give the events the tenant's next sequence numbers and put them in the outbox.

    The sequence row stays locked until commit, so a tenant's sequences commit in order.
    With `notify`, the relay is woken at commit; a caller that batches many appends in one
    transaction (the directory) passes False and notifies once itself.
    """
    if not events:
        return
    last = await conn.fetchval(
        "INSERT INTO tenant_event_sequences (tenant_id, last_sequence) VALUES ($1, $2)"
        " ON CONFLICT (tenant_id) DO UPDATE SET last_sequence ="
        " tenant_event_sequences.last_sequence + $2 RETURNING last_sequence",
        tenant_id, len(events))
    first = last - len(events) + 1
    await conn.executemany(
        "INSERT INTO outbox (tenant_id, sequence, event) VALUES ($1, $2, $3)",
        [(tenant_id, first + i, seal(e, tenant_id=tenant_id, sequence=first + i, time=now))
         for i, e in enumerate(events)])
    if notify:
        await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
