"""The transactional outbox: every service that emits events writes them here, in the
same transaction as its effect; the relay (`dsync.pipeline.relay`) publishes them to
`dsync.events`, in order per tenant."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import orjson

from dsync.db import DbConnection
from dsync.messages.events import DraftEvent, seal
from dsync.pipeline import channels

_APPEND = """
WITH seq AS (
    INSERT INTO tenant_event_sequences (tenant_id, last_sequence) VALUES ($1, $2)
    ON CONFLICT (tenant_id) DO UPDATE
       SET last_sequence = tenant_event_sequences.last_sequence + $2
    RETURNING last_sequence - $2 AS base)
INSERT INTO outbox (tenant_id, sequence, event)
SELECT $1, seq.base + e.ord,
       jsonb_set(e.ev::jsonb, '{sequence}', to_jsonb(seq.base + e.ord))
  FROM seq, unnest($3::text[]) WITH ORDINALITY AS e(ev, ord)
 ORDER BY e.ord  -- outbox ids (the relay's order) follow the sequences
"""
_APPEND_AND_NOTIFY = _APPEND.replace(
    "FROM seq,", f"FROM (SELECT pg_notify('{channels.OUTBOX}', '')) AS n, seq,")


def outbox_json(event: DraftEvent, tenant_id: UUID, now: datetime) -> str:
    """An event as the outbox stores it: sealed, its `sequence` set by the INSERT."""
    return orjson.dumps(seal(event, tenant_id=tenant_id, sequence=0, time=now)).decode()


async def append_events(conn: DbConnection, tenant_id: UUID,
                        events: Sequence[DraftEvent], now: datetime,
                        *, notify: bool = True) -> None:
    """Give the events the tenant's next sequence numbers and put them in the outbox, in
    ONE statement.

    The sequence row stays locked until commit, so a tenant's sequences commit in order.
    With `notify`, the relay is woken at commit; a caller that batches many appends in one
    transaction (the directory) passes False and notifies once itself.
    """
    if not events:
        return
    docs = [outbox_json(e, tenant_id, now) for e in events]
    await conn.execute(_APPEND_AND_NOTIFY if notify else _APPEND, tenant_id, len(events), docs)
