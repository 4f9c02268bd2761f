"""An event repeated within one fetched batch (a relay republishing after a crash or a
broker reset) is applied once, and the batch does not fail (it used to: the effects'
ledger rows hit the same id twice in one statement and the consumer retried forever)."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from dsync.db.pool import create_pool
from dsync.ledger import writes
from dsync.messages.events import CloudEvent, DraftEvent
from dsync.pipeline.event_effects import TrackedEvents
from dsync.settings import PostgresSettings


class Recording:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def relevant(self, event_type: str, tenant_id: str) -> bool:
        return True

    async def apply(self, conn: asyncpg.Connection, events: list[CloudEvent],
                    emit: list[DraftEvent]) -> None:
        self.applied += [e.id for e in events]
        await writes.record_effects_applied(  # the statement that hit the id twice
            conn, tenant_id=uuid.UUID(events[0].tenantid), kind="session_revocation",
            resource_type="User",
            rows=[(uuid.uuid5(uuid.NAMESPACE_URL, e.id), f"/Users/{e.subject}/sessions",
                   None, "test", e.time) for e in events])

    async def on_failure(self, event: CloudEvent, exc: BaseException,
                         pool: asyncpg.Pool) -> None:
        return None

    def on_applied(self, event: CloudEvent) -> None:
        return None


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(PostgresSettings(database_url=database_url, db_pool_min=1,
                                           db_pool_max=2))
    yield p
    await p.close()


def _event(tenant: uuid.UUID, sequence: int) -> CloudEvent:
    return CloudEvent(id=str(uuid.uuid4()), source="/dsync/test", type="user.deactivated",
                      subject=str(uuid.uuid4()), time=datetime.now(UTC),
                      tenantid=str(tenant), sequence=sequence, data={})


async def test_a_repeat_within_one_batch_is_applied_once(pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    await pool.execute("INSERT INTO tenants (id, name) VALUES ($1, 't')", tenant)
    first, second = _event(tenant, 1), _event(tenant, 2)
    effects = Recording()
    handler = TrackedEvents(pool=pool, name="test", effects=effects,
                            producer=None, dlq_topic="unused")
    new = await handler.handle([first, second, first, second])
    assert [e.id for e in new] == [first.id, second.id]
    assert effects.applied == [first.id, second.id]
    assert await handler.handle([first, second]) == []  # and across batches, as before
    assert await pool.fetchval("SELECT count(*) FROM operations WHERE tenant_id = $1",
                               tenant) == 2
