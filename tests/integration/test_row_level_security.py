"""Row-level security: the services' role sees only the scoped tenant's rows, even when a
query forgets its `WHERE tenant_id`; the owner (migrations) is not bound."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from dsync.db.pool import create_pool
from dsync.db.tenant_scope import tenant_scope
from dsync.settings import PostgresSettings
from dsync.store.listing import list_resources

A, B = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    owner = await asyncpg.connect(database_url)
    try:
        now = datetime.now(UTC)
        for tenant, names in ((A, ("a1", "a2")), (B, ("b1",))):
            await owner.execute("INSERT INTO tenants (id, name) VALUES ($1, $2)", tenant,
                                str(tenant))
            for name in names:
                await owner.execute(
                    "INSERT INTO users (tenant_id, id, user_name, doc, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5, $5)", tenant, uuid.uuid4(), name,
                    f'{{"userName": "{name}"}}', now)
    finally:
        await owner.close()
    p = await create_pool(PostgresSettings(database_url=database_url, db_pool_min=1,
                                           db_pool_max=2))
    yield p
    await p.close()


async def test_a_query_without_where_tenant_id_sees_only_its_tenant(
        pool: asyncpg.Pool) -> None:
    async with tenant_scope(pool, A) as conn:
        assert await conn.fetchval("SELECT current_user") == "dsync_app"
        rows = await conn.fetch("SELECT tenant_id, user_name FROM users ORDER BY user_name")
        assert [(r["tenant_id"], r["user_name"]) for r in rows] == [(A, "a1"), (A, "a2")]
        assert await conn.fetchval("SELECT count(*) FROM directory_users") == 2
        assert await conn.fetchval("SELECT count(*) FROM tenant_usage") == 1
        # a mismatched tenant in the query itself finds nothing either
        page = await list_resources(conn, B, "User", filter_text=None, sort_by=None,
                                    sort_order=None, offset=0, limit=100,
                                    with_related=False)
        assert page.resources == [] and page.total == 0
        assert await conn.execute("DELETE FROM users") == "DELETE 2"
        raise_on_other_tenant = conn.execute(
            "INSERT INTO users (tenant_id, id, user_name, doc, created_at, updated_at)"
            " VALUES ($1, $2, 'x', '{}'::jsonb, now(), now())", B, uuid.uuid4())
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await raise_on_other_tenant
    # the failed insert rolled the scope back: A's users are still there
    assert await pool.fetchval("SELECT count(*) FROM users WHERE tenant_id = $1", A) == 2


async def test_unscoped_and_unset(pool: asyncpg.Pool) -> None:
    # the services' default: every tenant (consumers, relay, housekeeping)
    assert await pool.fetchval("SELECT count(*) FROM users") == 3
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('dsync.tenant_id', '', true)")
        assert await conn.fetchval("SELECT count(*) FROM users") == 0  # unset: nothing


async def test_the_owner_is_not_bound(database_url: str, pool: asyncpg.Pool) -> None:
    owner = await asyncpg.connect(database_url)
    try:
        await owner.execute("SELECT set_config('dsync.tenant_id', $1, false)", str(A))
        assert await owner.fetchval("SELECT count(*) FROM users") == 3
    finally:
        await owner.close()


async def test_every_tenant_table_is_protected(database_url: str,
                                               pool: asyncpg.Pool) -> None:
    """A new table with a tenant_id column must call dsync_protect_tenant_table in its
    migration; this names the ones that did not."""
    owner = await asyncpg.connect(database_url)
    try:
        rows = await owner.fetch(
            "SELECT c.relname, c.relrowsecurity, EXISTS (SELECT FROM pg_policy p"
            "   WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS policy"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
            " WHERE c.relkind = 'r' AND n.nspname = current_schema()")
    finally:
        await owner.close()
    unprotected = sorted(r["relname"] for r in rows if not (r["relrowsecurity"]
                                                            and r["policy"]))
    assert rows and not unprotected, f"tenant tables without row-level security: {unprotected}"
