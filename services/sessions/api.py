"""The sessions service's HTTP API, mounted by the gateway with `setup(app)`:
`POST /auth/v1/introspect` (RFC 7662 style) and `POST …/sessions` (issuing).

Introspection requires the admin bearer token (RFC 7662 §2.1: the endpoint is protected;
resource servers call it with the operator's credential). The token to check comes as JSON
`{"token"}` or as the RFC's form field `token=`. Every answer reads the current state in
one round trip — the session, the directory's `users.active` (source of truth, updated in
the SCIM answer's transaction) and the deactivation floor — so no cache can outlive a
deactivation. Unknown, expired, revoked and deprovisioned all answer `{"active": false}`.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web
from pydantic import Field

from dsync.admin_http import AdminError, json_body, path_uuid, require_admin
from dsync.settings import _Frozen
from dsync.tokens import token_hash
from dsync_services.sessions import repository as sessions_repo
from dsync_services.sessions.model import (
    Revocation,
    introspection_answer,
    new_session,
    session_ttl,
)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class SessionSettings(_Frozen):
    """`DSYNC_SESSION_TTL_S` (default lifetime) and `DSYNC_SESSION_MAX_TTL_S`."""

    session_ttl_s: float = Field(3600.0, gt=0)
    session_max_ttl_s: float = Field(7 * 24 * 3600.0, gt=0)


async def _presented_token(request: web.Request) -> str:
    if request.content_type == "application/x-www-form-urlencoded":
        token = (await request.post()).get("token")
    else:
        token = (await json_body(request)).get("token")
    if not isinstance(token, str) or not token:
        raise AdminError(400, "invalid_request", "'token' is required")
    return token


async def introspect(request: web.Request) -> web.Response:
    require_admin(request)
    token = await _presented_token(request)
    row = await sessions_repo.introspection_row(request.app["pool"], token_hash(token))
    answer = introspection_answer(row, datetime.now(UTC))
    return web.json_response(answer, headers=_NO_STORE)


async def issue_session(request: web.Request) -> web.Response:
    """201 `{"session_id", "token", "expires_at"}`; 404 unknown tenant or user; 403
    `user_inactive`. The user row is share-locked while the session is written."""
    tenant_id = path_uuid(request, "tid", "Tenant")
    body = await json_body(request)
    settings: SessionSettings = request.app["session_settings"]
    try:
        ttl = session_ttl(body.get("ttl_seconds"), settings.session_ttl_s,
                          settings.session_max_ttl_s)
    except ValueError as exc:
        raise AdminError(400, "invalid_value", str(exc)) from None
    user_id = _user_id(body)
    session = new_session(datetime.now(UTC), ttl)
    async with request.app["pool"].acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT true FROM tenants WHERE id = $1", tenant_id):
            raise AdminError(404, "not_found", f"Tenant {tenant_id} not found")
        user = await sessions_repo.lock_user_for_session(conn, tenant_id, user_id)
        if user is None:
            raise AdminError(404, "not_found", f"User {user_id} not found")
        if not user["active"]:
            raise AdminError(403, "user_inactive", f"User {user_id} is not active")
        await sessions_repo.insert_session(conn, tenant_id, user_id, user["version"], session)
    return web.json_response({"session_id": str(session.id), "token": session.token,
                              "user_id": str(user_id),
                              "expires_at": session.expires_at.isoformat().replace("+00:00", "Z")},
                             status=201, headers=_NO_STORE)


def _user_id(body: dict[str, Any]) -> UUID:
    raw = body.get("user_id")
    if not isinstance(raw, str) or not raw:
        raise AdminError(400, "invalid_value", "'user_id' must be a SCIM user id")
    try:
        return UUID(raw)
    except ValueError:
        raise AdminError(404, "not_found", f"User {raw} not found") from None


async def user_sessions(pool: asyncpg.Pool, tenant_id: UUID, user_id: UUID,
                        limit: int = 50) -> list[dict[str, Any]]:
    """A user's sessions, newest first (never their tokens): id, created, expires, revoked
    and why, and whether introspection would answer active right now (live)."""
    rows = await pool.fetch(
        "SELECT id, created_at, expires_at, revoked_at, revoked_reason,"
        " (revoked_at IS NULL AND expires_at > now()) AS live FROM sessions"
        " WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC LIMIT $3",
        tenant_id, user_id, limit)
    return [dict(r) for r in rows]


async def revoke_user_sessions(pool: asyncpg.Pool, tenant_id: UUID, user_id: UUID,
                               reason: str = "revoked by an operator") -> int:
    """Revoke every live session of a user now; introspection answers inactive from the
    return on. Returns how many were revoked."""
    async with pool.acquire() as conn, conn.transaction():
        revoked = await sessions_repo.revoke_many(
            conn, tenant_id, [Revocation(user_id, reason, all_sessions=True)])
    return len(revoked.get(user_id, []))


def setup(app: web.Application) -> None:
    """Mount introspection and session issuing and read their settings."""
    app["session_settings"] = SessionSettings()
    app.router.add_post("/auth/v1/introspect", introspect)
    app.router.add_post("/admin/v1/tenants/{tid}/sessions", issue_session)
