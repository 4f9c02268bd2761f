"""Setup links: one-time, expiring, revocable links an operator hands to a tenant's IT admin.

The link carries a random token; only its SHA-256 is stored. Opening it (a POST from the
link's landing page, so a chat app's link preview cannot use it up) marks it used in the
same statement that checks it is unused, unexpired and unrevoked, and starts a setup
session scoped to the link's tenant.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from dsync.admin_http import AdminError
from dsync.tokens import new_token, token_hash

LINK_PREFIX = "dsl_"

_STATE = """CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN used_at IS NOT NULL THEN 'used'
                 WHEN expires_at <= now() THEN 'expired' ELSE 'open' END"""


async def create(pool: asyncpg.Pool, tenant_id: UUID, ttl: timedelta) -> tuple[UUID, str]:
    """A new link's id and token (the token is shown only now)."""
    link_id, token = uuid.uuid4(), new_token(LINK_PREFIX)
    await pool.execute("INSERT INTO setup_links (id, tenant_id, token_hash, expires_at)"
                       " VALUES ($1, $2, $3, now() + $4)", link_id, tenant_id,
                       token_hash(token), ttl)
    return link_id, token


async def links(pool: asyncpg.Pool, tenant_id: UUID) -> list[dict[str, Any]]:
    """A tenant's links, newest first, with their state: open, used, expired or revoked."""
    rows = await pool.fetch(f"SELECT id, created_at, expires_at, used_at, {_STATE} AS state"
                            " FROM setup_links WHERE tenant_id = $1"
                            " ORDER BY created_at DESC LIMIT 50", tenant_id)
    return [dict(r) for r in rows]


async def revoke(pool: asyncpg.Pool, tenant_id: UUID, link_id: UUID) -> None:
    """Revoke a link and end the setup session it started, if any. AdminError 404."""
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE setup_links SET revoked_at = COALESCE(revoked_at, now())"
            " WHERE tenant_id = $1 AND id = $2 RETURNING id", tenant_id, link_id)
        if found is None:
            raise AdminError(404, "not_found", f"Setup link {link_id} not found")
        await conn.execute("DELETE FROM console_sessions WHERE setup_link_id = $1", link_id)


async def use(conn: asyncpg.Connection, token: str) -> tuple[UUID, UUID]:
    """Mark an open link used: (tenant id, link id). AdminError 410 when the link is used,
    expired or revoked, 404 when there is no such link."""
    row = await conn.fetchrow(
        f"UPDATE setup_links SET used_at = now() WHERE token_hash = $1 AND {_STATE} = 'open'"
        " RETURNING tenant_id, id", token_hash(token))
    if row is not None:
        return row["tenant_id"], row["id"]
    await check(conn, token)
    raise AdminError(410, "link_used", "This setup link was already used.")  # raced


async def check(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> UUID:
    """The tenant of an open link, without using it. AdminError 410 when the link is used,
    expired or revoked, 404 when there is no such link."""
    row = await conn.fetchrow(f"SELECT tenant_id, {_STATE} AS state FROM setup_links"
                              " WHERE token_hash = $1", token_hash(token[:200]))
    if row is None:
        raise AdminError(404, "not_found", "This setup link does not exist.")
    state = row["state"]
    if state == "open":
        return row["tenant_id"]  # type: ignore[no-any-return]
    raise AdminError(410, f"link_{state}", f"This setup link was already {state}. Ask your"
                     " dsync operator for a new one." if state != "expired" else
                     "This setup link has expired. Ask your dsync operator for a new one.")
