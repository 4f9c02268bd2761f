"""PostgreSQL reads and writes of sessions, for the sessions service (revocation) and the
gateway (issuing, introspection). Every function runs on the connection it is given."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync_services.sessions.model import NewSession, Revocation

INTROSPECT_SQL = """
SELECT s.id, s.tenant_id, s.user_id, s.created_at, s.expires_at, s.revoked_at,
       s.user_version, u.active, f.min_version, a.roles
  FROM sessions s
  LEFT JOIN directory_users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
  LEFT JOIN user_session_floors f ON f.tenant_id = s.tenant_id AND f.user_id = s.user_id
  LEFT JOIN user_access a ON a.tenant_id = s.tenant_id AND a.user_id = s.user_id
 WHERE s.token_hash = $1
"""

_REVOKE = """
UPDATE sessions SET revoked_at = now(), revoked_reason = $3
 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL
   AND ($4 OR user_version < COALESCE(
        (SELECT min_version FROM user_session_floors WHERE tenant_id = $1 AND user_id = $2),
        9223372036854775807))
RETURNING id
"""


_REVOKE_MANY = """
WITH x AS (SELECT DISTINCT ON (u) u, reason, every
             FROM unnest($2::uuid[], $3::text[], $4::bool[], $5::int[]) AS x(u, reason, every, n)
            ORDER BY u, every DESC, n DESC)
UPDATE sessions s SET revoked_at = now(), revoked_reason = x.reason
  FROM x
 WHERE s.tenant_id = $1 AND s.user_id = x.u AND s.revoked_at IS NULL
   AND (x.every OR s.user_version < COALESCE(
        (SELECT min_version FROM user_session_floors f
          WHERE f.tenant_id = $1 AND f.user_id = x.u), 9223372036854775807))
RETURNING s.id, s.user_id
"""


async def introspection_row(conn: DbConnection | asyncpg.Pool,
                            digest: bytes) -> dict[str, Any] | None:
    """Everything introspection needs about a token, in one round trip (current state)."""
    row = await conn.fetchrow(INTROSPECT_SQL, digest)
    return dict(row) if row is not None else None


async def lock_user_for_session(conn: DbConnection, tenant_id: UUID,
                                user_id: UUID) -> asyncpg.Record | None:
    """The user's `active` and `version`, share-locked until the transaction ends, so a
    concurrent deactivation commits either before (we see it) or after our session."""
    return await conn.fetchrow("SELECT active, version FROM directory_users WHERE tenant_id = $1"
                               " AND id = $2 FOR SHARE", tenant_id, user_id)


async def insert_session(conn: DbConnection, tenant_id: UUID, user_id: UUID,
                         user_version: int, session: NewSession) -> None:
    await conn.execute(
        "INSERT INTO sessions (id, tenant_id, user_id, token_hash, user_version, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)", session.id, tenant_id, user_id,
        session.token_hash, user_version, session.expires_at)


async def revoke_many(conn: DbConnection, tenant_id: UUID,
                      revocations: list[Revocation]) -> dict[UUID, list[UUID]]:
    """Revoke the live sessions the revocations name, in one statement (a user named twice:
    all sessions if either says so); user id -> revoked session ids (sorted)."""
    rows = await conn.fetch(_REVOKE_MANY, tenant_id, [r.user_id for r in revocations],
                            [r.reason for r in revocations],
                            [r.all_sessions for r in revocations], list(range(len(revocations))))
    out: dict[UUID, list[UUID]] = {}
    for r in rows:
        out.setdefault(r["user_id"], []).append(r["id"])
    return {u: sorted(ids, key=str) for u, ids in out.items()}


async def revoke(conn: DbConnection, tenant_id: UUID,
                 revocation: Revocation) -> list[UUID]:
    """Revoke the live sessions `revocation` names; return their ids (sorted)."""
    rows = await conn.fetch(_REVOKE, tenant_id, revocation.user_id, revocation.reason,
                            revocation.all_sessions)
    return sorted((r["id"] for r in rows), key=str)
