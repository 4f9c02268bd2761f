"""Every table that holds tenant data, and how a tenant's rows leave it on deletion.

A table with a `tenant_id` column that is not listed in `TENANT_TABLES` makes
`tests/integration/test_tenant_lifecycle.py` fail with its name: a new table must say here
how its rows go. The directory's `directory.deleted` event is appended to the outbox
before the purge, so the outbox keeps only the tenant's not-yet-published events (the
relay publishes them, housekeeping removes them after retention).
"""
from __future__ import annotations

from uuid import UUID

from dsync.db import DbConnection
from dsync.ledger import writes as ledger

BY_TENANT = "DELETE FROM {table} WHERE tenant_id = $1"
"""The default: every row of the tenant."""

TENANT_TABLES: dict[str, str | None] = {
    # the directory
    "users": BY_TENANT,
    "groups": BY_TENANT,
    "group_members": BY_TENANT,
    "user_session_floors": BY_TENANT,
    # events: published rows go now; unpublished ones (ending with directory.deleted) are
    # still to be relayed, in order
    "outbox": "DELETE FROM outbox WHERE tenant_id = $1 AND published_at IS NOT NULL",
    "tenant_event_sequences": BY_TENANT,
    # roles and sessions
    "group_roles": BY_TENANT,
    "user_access": BY_TENANT,
    "sessions": BY_TENANT,
    # fanout (webhook_attempts go with their deliveries: ON DELETE CASCADE)
    "webhook_deliveries": BY_TENANT,
    "webhooks": BY_TENANT,
    # the tenant's credentials, and the console's traces of them
    "scim_tokens": BY_TENANT,
    "scim_token_usage": BY_TENANT,
    "setup_links": BY_TENANT,
    "console_sessions": BY_TENANT,  # an IT admin's setup sessions of this tenant
    # the operations ledger: written only by dsync.ledger.writes
    "operations": None,
}
"""Table -> its DELETE statement (`$1` = tenant id); None = purged by its owning module."""


async def purge_tenant_rows(conn: DbConnection, tenant_id: UUID) -> None:
    """Delete the tenant's rows from every table of `TENANT_TABLES`, in the caller's
    transaction (the `tenants` row itself is the caller's)."""
    for table, statement in TENANT_TABLES.items():
        if statement is not None:
            await conn.execute(statement.format(table=table), tenant_id)
    await ledger.delete_tenant_operations(conn, tenant_id)
