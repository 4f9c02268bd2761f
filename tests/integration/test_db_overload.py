"""Statement timeout and bounded pool waits on the gateway's queries: a query stuck
behind a lock (held here by the test) ends as 400 `tooMany` when it is a filtered list,
503 + Retry-After otherwise; a request that finds no free connection gets 503 +
Retry-After instead of waiting forever."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import RunningStack, start_stack

POOL_MAX = 4


@pytest.fixture(scope="module")
async def slow_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_DB_STATEMENT_TIMEOUT_MS="3000",
                                DSYNC_DB_ACQUIRE_TIMEOUT_S="0.3",
                                DSYNC_DB_POOL_MAX=str(POOL_MAX),
                                DSYNC_SEARCH_CONCURRENCY_LIMIT="0")
    try:
        yield running
    finally:
        await running.close()


async def _lock_waiters(dsn: str, at_least: int, wait_s: float = 60.0) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(int(wait_s / 0.02)):
            if await conn.fetchval("SELECT count(*) FROM pg_stat_activity"
                                   " WHERE wait_event_type = 'Lock'") >= at_least:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"fewer than {at_least} requests reached the lock")
    finally:
        await conn.close()


async def _locked_users(dsn: str) -> tuple[asyncpg.Connection, asyncpg.transaction.Transaction]:
    holder = await asyncpg.connect(dsn)
    tx = holder.transaction()
    await tx.start()
    await holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    return holder, tx


async def test_statement_timeout_filtered_list_is_400_too_many(
        slow_stack: RunningStack) -> None:
    tenant = await slow_stack.new_tenant()
    holder, tx = await _locked_users(slow_stack.database_url)
    try:
        status, body, _ = await slow_stack.scim(
            tenant, "GET", '/Users?filter=userName%20eq%20%22a%40example.com%22')
        assert status == 400, body
        assert body["scimType"] == "tooMany" and "3000 ms" in body["detail"]
        status, body, headers = await slow_stack.scim(tenant, "GET", f"/Users/{uuid.uuid4()}")
        assert status == 503, body
        assert headers["Retry-After"] == "2"
    finally:
        await tx.rollback()
        await holder.close()
    status, _, _ = await slow_stack.scim(tenant, "GET", f"/Users/{uuid.uuid4()}")
    assert status == 404  # the pool's connections are fine afterwards


async def test_no_free_connection_is_503_with_retry_after(slow_stack: RunningStack) -> None:
    tenant = await slow_stack.new_tenant()
    status, _, _ = await slow_stack.scim(tenant, "GET", "/Users?count=1")  # token cached
    assert status == 200
    holder, tx = await _locked_users(slow_stack.database_url)
    held = []
    try:
        held = [asyncio.ensure_future(slow_stack.scim(tenant, "GET", "/Users?count=1"))
                for _ in range(POOL_MAX)]
        await _lock_waiters(slow_stack.database_url, POOL_MAX)  # every connection is busy
        status, body, headers = await slow_stack.scim(tenant, "GET", "/Users?count=1")
        assert status == 503, body
        assert headers["Retry-After"] == "2" and body["schemas"]
    finally:
        await tx.rollback()
        await holder.close()
        results = await asyncio.wait_for(asyncio.gather(*held), 60)
    assert [r[0] for r in results] == [200] * POOL_MAX
