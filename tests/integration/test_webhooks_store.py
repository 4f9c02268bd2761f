"""The webhook tables on real PostgreSQL: log retention, claiming queues (locks that die
with their owner), ledger retries."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from dsync.db.pool import connect
from dsync_services.fanout import repository as repo
from dsync_services.fanout import webhook_store as store
from dsync_services.fanout.cleanup import purge_once
from dsync_services.fanout.endpoint_locks import EndpointLocks


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=4,
                                  init=lambda c: c.set_type_codec(
                                      "jsonb", encoder=json.dumps, decoder=json.loads,
                                      schema="pg_catalog"))
    assert p is not None
    yield p
    await p.close()


async def _endpoint(pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    tenant = uuid.uuid4()
    await pool.execute("INSERT INTO tenants (id, name) VALUES ($1, 't')", tenant)
    row = await store.create(pool, tenant, "http://127.0.0.1:1/x", "s", None, 5)
    return tenant, row["id"]


async def _delivery(pool: asyncpg.Pool, tenant: uuid.UUID, wid: uuid.UUID, seq: int,
                    status: str, age_s: float = 0.0) -> int:
    return await pool.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO webhook_deliveries (webhook_id, tenant_id, event_id, event_type,"
        " sequence, event_time, body, status, updated_at) VALUES ($1, $2, $3, 'user.created',"
        " $4, now(), '{}', $5, now() - make_interval(secs => $6)) RETURNING id",
        wid, tenant, uuid.uuid4(), seq, status, age_s)


async def test_retention_deletes_old_finished_rows_and_keeps_open_work(
        pool: asyncpg.Pool) -> None:
    tenant, wid = await _endpoint(pool)
    old_done = await _delivery(pool, tenant, wid, 1, "delivered", age_s=7200)
    old_dead = await _delivery(pool, tenant, wid, 2, "dead", age_s=7200)
    old_pending = await _delivery(pool, tenant, wid, 3, "pending", age_s=7200)
    new_done = await _delivery(pool, tenant, wid, 4, "delivered")
    for delivery, age in ((old_dead, 7200), (new_done, 0)):
        await pool.execute(
            "INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, started_at,"
            " latency_ms, outcome) VALUES ($1, $2, 1, now() - make_interval(secs => $3), 1,"
            " 'ok')", delivery, wid, age)
    assert await purge_once(pool, retention_s=3600) == 2  # one attempt, one delivery
    left = {r["id"] for r in await pool.fetch("SELECT id FROM webhook_deliveries")}
    assert left == {old_dead, old_pending, new_done} and old_done not in left
    assert await pool.fetchval("SELECT count(*) FROM webhook_attempts") == 1


async def _locks(database_url: str) -> EndpointLocks:
    locks = EndpointLocks(database_url)
    await locks.open()
    return locks


async def _claim(pool: asyncpg.Pool, locks: EndpointLocks) -> list[uuid.UUID]:
    return await locks.try_lock(await repo.due_endpoints(pool, 10, []))


async def test_claims_are_exclusive_and_follow_the_queue_head(pool: asyncpg.Pool,
                                                              database_url: str) -> None:
    a, b = await _locks(database_url), await _locks(database_url)
    try:
        tenant, wid = await _endpoint(pool)
        assert await _claim(pool, a) == []  # empty queue: nothing to claim
        head = await _delivery(pool, tenant, wid, 1, "retrying")
        await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = now()"
                           " + interval '1h' WHERE id = $1", head)
        await _delivery(pool, tenant, wid, 2, "pending")
        assert await _claim(pool, a) == []  # head not due: the queue waits
        assert 3500 < (await repo.seconds_to_next_retry(pool) or 0) <= 3600
        await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = now()"
                           " WHERE id = $1", head)
        assert await _claim(pool, a) == [wid]
        assert await repo.due_endpoints(pool, 10, []) == []  # locked: not a candidate
        assert await b.try_lock([wid]) == []  # locked by "a"
        endpoint, batch = await repo.next_batch(pool, wid, a.backend_pid, 10) or (None, [])
        assert endpoint is not None and [d.sequence for d in batch] == [1, 2]
        assert await repo.next_batch(pool, wid, b.backend_pid, 10) is None
        await a.unlock(wid)
        assert await _claim(pool, b) == [wid]
        assert await repo.next_batch(pool, wid, a.backend_pid, 10) is None
    finally:
        await a.close()
        await b.close()


async def test_a_dead_owner_frees_its_queues_at_once(pool: asyncpg.Pool,
                                                     database_url: str) -> None:
    """The owner's session ends (as when its process is killed): its queue is free at once,
    and the old owner knows it holds nothing any more."""
    a, b = await _locks(database_url), await _locks(database_url)
    try:
        tenant, wid = await _endpoint(pool)
        await _delivery(pool, tenant, wid, 1, "pending")
        assert await _claim(pool, a) == [wid]
        assert await b.try_lock([wid]) == []
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", a.backend_pid)
        await a.heartbeat(asyncio.Event())  # returns at the first failed ping
        assert not a.held
        deadline = asyncio.get_running_loop().time() + 30
        while not await _claim(pool, b):  # the backend exits a moment after the signal
            assert asyncio.get_running_loop().time() < deadline, "lock never freed"
            await asyncio.sleep(0.05)
        assert await repo.next_batch(pool, wid, b.backend_pid, 10) is not None
        with pytest.raises(asyncpg.InterfaceError):
            await a.try_lock([wid])
    finally:
        await a.close()
        await b.close()


async def test_ledger_retry_requeues_a_dead_delivery(pool: asyncpg.Pool,
                                                     database_url: str) -> None:
    tenant, wid = await _endpoint(pool)
    delivery = await _delivery(pool, tenant, wid, 1, "dead")
    op_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO operations (id, tenant_id, kind, method, path, status, retryable)"
        " VALUES ($1, $2, 'webhook_delivery', 'POST', '/x', 'dead', true)", op_id, tenant)
    await pool.execute("UPDATE webhook_deliveries SET operation_id = $1 WHERE id = $2",
                       op_id, delivery)
    conn = await connect(database_url)
    try:
        assert not await store.requeue_operation(conn, uuid.uuid4(), op_id)  # other tenant
        assert await store.requeue_operation(conn, tenant, op_id)
        assert not await store.requeue_operation(conn, tenant, op_id)  # already queued
    finally:
        await conn.close()
    row = await pool.fetchrow("SELECT status, round_attempts FROM webhook_deliveries"
                              " WHERE id = $1", delivery)
    assert (row["status"], row["round_attempts"]) == ("pending", 0)
    # the worker's path for `POST …/operations/{id}/retry` (NOTIFY dsync_retry)
    await pool.execute("UPDATE webhook_deliveries SET status = 'retrying', round_attempts = 3,"
                       " next_attempt_at = now() + interval '1h' WHERE id = $1", delivery)
    assert await repo.retry_now(pool, op_id)
    assert await pool.fetchval("SELECT next_attempt_at <= now() AND round_attempts = 0"
                               " FROM webhook_deliveries WHERE id = $1", delivery)
    assert not await repo.retry_now(pool, uuid.uuid4())
    assert await store.redeliver(pool, wid, since=datetime(2000, 1, 1, tzinfo=UTC),
                                 until=datetime.now(UTC)) == 0  # pending ones stay as they are
