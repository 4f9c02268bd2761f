"""Tenant-scoped transactions: the second lock on tenant isolation, behind the
`WHERE tenant_id = …` in every query.

Pooled connections run as the role `dsync_app`, which row-level security binds (migration
0028). Their session default for `dsync.tenant_id` is `'*'`, meaning all tenants, for the
services' cross-tenant work. Inside `tenant_scope(pool, tenant_id)`, the transaction sees
and writes only that tenant's rows, even if a query forgets its `WHERE tenant_id`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg

ALL_TENANTS = "*"


async def init_app_role(conn: asyncpg.Connection, role: str) -> None:
    """Run `conn` as `role` with every tenant visible by default (pool `init`)."""
    await conn.execute(f"SET ROLE {_ident(role)}; SET dsync.tenant_id = '{ALL_TENANTS}'")


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain role name: {name!r}")
    return f'"{name}"'


@asynccontextmanager
async def tenant_scope(pool: asyncpg.Pool, tenant_id: UUID) -> AsyncIterator[Any]:
    """A connection in a read-committed transaction that only sees `tenant_id`'s rows.

    Two round trips more than a plain pooled query: `BEGIN` together with the setting,
    then `COMMIT`. Raises what the queries raise; the transaction is then rolled back."""
    tid = UUID(str(tenant_id))  # a UUID's text is safe to inline
    async with pool.acquire() as conn:
        await conn.execute(f"BEGIN; SELECT set_config('dsync.tenant_id', '{tid}', true)")
        try:
            yield conn
        except BaseException:
            if not conn.is_closed():
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
