"""Introspection credentials for resource servers (RFC 7662 §2.1, client authentication as
RFC 6749 §2.3.1 HTTP Basic): a client id and secret, for one tenant or for all.

A resource server holding one can introspect session tokens and nothing else. It cannot
use the admin API. A client scoped to a tenant gets `{"active": false}` for another
tenant's sessions. The admin token keeps working at `/auth/v1/introspect`, and it covers
every tenant.

Secrets are 256 random bits shown once. Only their SHA-256 is stored and compared in
constant time. The client is looked up on every call, with no cache, so a revocation is
in effect from the answer that revokes it.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from uuid import UUID

from aiohttp import web

from dsync.admin_http import AdminError, iso, json_body, path_uuid, require_admin
from dsync.tokens import bearer, new_token, same_hash, token_hash

SECRET_PREFIX = "dsync_introspect_"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class IntrospectionScope:
    """Who may introspect: `tenant_id` None means every tenant."""

    tenant_id: UUID | None


ALL_TENANTS = IntrospectionScope(None)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """`(client_id, secret)` of an `Authorization: Basic …` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote(client_id), unquote(secret)


def _unauthorized() -> AdminError:
    return AdminError(401, "invalid_client", "Introspection requires the admin bearer token "
                      "or an introspection client's id and secret (HTTP Basic)")


async def authorize(request: web.Request) -> IntrospectionScope:
    """The caller's introspection scope; raises AdminError 401 `invalid_client`."""
    header = request.headers.get("Authorization")
    if bearer(header) is not None:
        require_admin(request)
        return ALL_TENANTS
    credentials = basic_credentials(header)
    if credentials is None:
        raise _unauthorized()
    client_id, secret = credentials
    try:
        cid = UUID(client_id)
    except ValueError:
        raise _unauthorized() from None
    row = await request.app["pool"].fetchrow(
        "SELECT tenant_id, secret_hash FROM introspection_clients"
        " WHERE id = $1 AND revoked_at IS NULL", cid)
    if row is None or not same_hash(bytes(row["secret_hash"]), token_hash(secret)):
        raise _unauthorized()
    return IntrospectionScope(row["tenant_id"])


def scoped(answer: dict[str, Any], scope: IntrospectionScope) -> dict[str, Any]:
    """`answer` as the scope may see it: another tenant's session is simply not active."""
    if scope.tenant_id is not None and answer.get("tenant_id") != str(scope.tenant_id):
        return {"active": False}
    return answer


def _client_json(row: Any) -> dict[str, Any]:
    return {"client_id": str(row["id"]), "name": row["name"],
            "tenant_id": str(row["tenant_id"]) if row["tenant_id"] else None,
            "created_at": iso(row["created_at"]), "revoked_at": iso(row["revoked_at"])}


async def create_client(request: web.Request) -> web.Response:
    """201 `{"client_id", "client_secret", "name", "tenant_id", ...}`; the secret is shown
    only here. `tenant_id` null or absent: every tenant."""
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise AdminError(400, "invalid_value", "'name' must be a non-empty string (≤ 200 chars)")
    raw_tenant = body.get("tenant_id")
    tenant_id: UUID | None = None
    if raw_tenant is not None:
        try:
            tenant_id = UUID(str(raw_tenant)) if isinstance(raw_tenant, str) else None
        except ValueError:
            tenant_id = None
        if tenant_id is None:
            raise AdminError(400, "invalid_value", "'tenant_id' must be a tenant id or null")
    pool = request.app["pool"]
    if tenant_id is not None and not await pool.fetchval(
            "SELECT true FROM tenants WHERE id = $1", tenant_id):
        raise AdminError(404, "not_found", f"Tenant {tenant_id} not found")
    secret = new_token(SECRET_PREFIX)
    row = await pool.fetchrow(
        "INSERT INTO introspection_clients (id, name, tenant_id, secret_hash)"
        " VALUES ($1, $2, $3, $4) RETURNING *", uuid.uuid4(), name.strip(), tenant_id,
        token_hash(secret))
    return web.json_response({**_client_json(row), "client_secret": secret}, status=201,
                             headers={"Cache-Control": "no-store"})


async def list_clients(request: web.Request) -> web.Response:
    rows = await request.app["pool"].fetch(
        "SELECT * FROM introspection_clients ORDER BY created_at, id")
    return web.json_response({"clients": [_client_json(r) for r in rows]})


async def revoke_client(request: web.Request) -> web.Response:
    cid = path_uuid(request, "client_id", "Introspection client")
    found = await request.app["pool"].fetchval(
        "UPDATE introspection_clients SET revoked_at = COALESCE(revoked_at, now())"
        " WHERE id = $1 RETURNING id", cid)
    if found is None:
        raise AdminError(404, "not_found", f"Introspection client {cid} not found")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/v1/introspection-clients", create_client)
    app.router.add_get("/admin/v1/introspection-clients", list_clients)
    app.router.add_delete("/admin/v1/introspection-clients/{client_id}", revoke_client)
