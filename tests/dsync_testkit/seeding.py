"""Setting the scene fast: rows written straight into the tables, for tests whose subject is
what happens next (a 15k-member PUT), not how the rows got there."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from dsync_testkit.stack import RunningStack, Tenant


async def seed_users(stack: RunningStack, tenant: Tenant, n: int) -> list[str]:
    """Ids of n new users of the tenant (`bulk-<id>@example.com`), written with COPY."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(n)]
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.copy_records_to_table(
            "users", columns=["tenant_id", "id", "user_name", "doc", "created_at",
                              "updated_at"],
            records=[(uuid.UUID(tenant.id), uid, f"bulk-{uid}@example.com",
                      f'{{"userName": "bulk-{uid}@example.com"}}', now, now) for uid in ids])
    finally:
        await conn.close()
    return [str(u) for u in ids]
