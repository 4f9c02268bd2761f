"""Tenant lifecycle: list (paged, searchable), show, disable/enable, delete, list tokens.

Plain functions on a pool, used by the admin API (`services/gateway/admin_tenants.py`) and
any other caller (a console, the CLI through the API). Errors are `TenantError`s carrying
a stable code; callers map them to their own answers. Every change that affects SCIM
authentication notifies `dsync_tokens` with `tenant:<id>`, so every gateway drops its
cached credentials of that tenant before the change is answered.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.messages.events import DraftEvent
from dsync.pipeline import channels
from dsync.pipeline.outbox import append_events
from dsync.tenants.purge import purge_tenant_rows
from dsync.tokens import new_token, token_hash

TenantStatus = Literal["active", "disabled"]
STATUSES: tuple[str, ...] = ("active", "disabled")
MAX_PAGE = 500
DEFAULT_PAGE = 100
TOKEN_PREFIX = "dsync_scim_"  # noqa: S105 - a prefix, not a secret


class TenantError(Exception):
    """A lifecycle request that cannot be done; `code` is a stable lowercase identifier."""

    code = "invalid_value"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TenantNotFound(TenantError):
    code = "not_found"


class TenantInvalid(TenantError):
    code = "invalid_value"


class TenantConflict(TenantError):
    code = "conflict"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Tenant:
    id: UUID
    name: str
    status: str
    created_at: datetime
    status_changed_at: datetime | None


@dataclass(frozen=True)
class TenantPage:
    tenants: list[Tenant]
    next_cursor: str | None
    """Pass as `after` for the next page; None on the last page."""


@dataclass(frozen=True)
class TokenInfo:
    id: UUID
    created_at: datetime
    revoked_at: datetime | None


_COLUMNS = "id, name, status, created_at, status_changed_at"


def _tenant(row: asyncpg.Record) -> Tenant:
    return Tenant(row["id"], row["name"], row["status"], row["created_at"],
                  row["status_changed_at"])


def encode_cursor(tenant: Tenant) -> str:
    raw = f"{tenant.created_at.isoformat()}|{tenant.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raises TenantInvalid for anything `encode_cursor` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, tid = raw.partition("|")
        return datetime.fromisoformat(created), UUID(tid)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TenantInvalid(f"'after' is not a cursor this API returned: {cursor!r}") from None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_tenants(pool: asyncpg.Pool, *, limit: int | None = DEFAULT_PAGE,
                       after: str | None = None, name: str | None = None,
                       status: str | None = None) -> TenantPage:
    """Tenants in creation order, `limit` (1..MAX_PAGE) at a time after the cursor `after`
    (`limit=None`: every tenant after the cursor, in one answer);
    `name` keeps those whose name contains it (case-insensitive), `status` those in it.
    Raises TenantInvalid on a bad limit, cursor or status."""
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise TenantInvalid(f"'limit' must be between 1 and {MAX_PAGE}")
    if status is not None and status not in STATUSES:
        raise TenantInvalid(f"'status' must be one of {', '.join(STATUSES)}")
    where: list[str] = []
    args: list[Any] = []
    if after:
        created, tid = decode_cursor(after)
        args += [created, tid]
        where.append(f"(created_at, id) > (${len(args) - 1}, ${len(args)})")
    if name:
        args.append(_like_pattern(name))
        where.append(f"name ILIKE ${len(args)}")
    if status:
        args.append(status)
        where.append(f"status = ${len(args)}")
    args.append(limit + 1 if limit is not None else None)  # LIMIT NULL: no limit
    sql = (f"SELECT {_COLUMNS} FROM tenants"
           f"{' WHERE ' + ' AND '.join(where) if where else ''}"
           f" ORDER BY created_at, id LIMIT ${len(args)}")
    rows = [_tenant(r) for r in await pool.fetch(sql, *args)]
    more = limit is not None and len(rows) > limit
    rows = rows[:limit]
    return TenantPage(rows, encode_cursor(rows[-1]) if more else None)


async def get_tenant(conn: asyncpg.Pool | DbConnection, tenant_id: UUID,
                     *, lock: bool = False) -> Tenant:
    """The tenant; raises TenantNotFound. With `lock`, the row is locked FOR UPDATE."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tenants WHERE id = $1"
                              f"{' FOR UPDATE' if lock else ''}", tenant_id)
    if row is None:
        raise TenantNotFound(f"Tenant {tenant_id} not found")
    return _tenant(row)


async def _forget_credentials(conn: DbConnection, tenant_id: UUID) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", channels.TOKENS, f"tenant:{tenant_id}")


async def set_status(pool: asyncpg.Pool, tenant_id: UUID, status: str) -> Tenant:
    """Disable (SCIM answers 403, all data kept) or enable a tenant; idempotent. Every
    gateway forgets the tenant's cached tokens at commit. Raises TenantNotFound,
    TenantInvalid."""
    if status not in STATUSES:
        raise TenantInvalid(f"'status' must be one of {', '.join(STATUSES)}")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE tenants SET status = $2, status_changed_at = CASE WHEN status = $2"
            f" THEN status_changed_at ELSE now() END WHERE id = $1 RETURNING {_COLUMNS}",
            tenant_id, status)
        if row is None:
            raise TenantNotFound(f"Tenant {tenant_id} not found")
        await _forget_credentials(conn, tenant_id)
    return _tenant(row)


async def delete_tenant(pool: asyncpg.Pool, tenant_id: UUID) -> Tenant:
    """Delete a disabled tenant and all its data in one transaction; its event stream ends
    with a `directory.deleted` event (appended to the outbox first, so it follows every
    event of the tenant). Raises TenantNotFound, or TenantConflict `tenant_active` when the
    tenant is not disabled (disable first, so no new SCIM write is accepted meanwhile) or
    `operations_in_flight` while a write that answered 503 is still to be applied."""
    async with pool.acquire() as conn, conn.transaction():
        tenant = await get_tenant(conn, tenant_id, lock=True)
        if tenant.status != "disabled":
            raise TenantConflict("tenant_active", f"Tenant {tenant_id} is {tenant.status};"
                                 " disable it before deleting it")
        pending = await conn.fetchval(
            "SELECT count(*) FROM operations WHERE tenant_id = $1 AND kind = 'scim_write'"
            " AND status = 'accepted'", tenant_id)
        if pending:
            raise TenantConflict("operations_in_flight", f"{pending} SCIM write(s) of tenant"
                                 f" {tenant_id} are accepted but not applied yet; retry in"
                                 " a few seconds")
        last = DraftEvent(type="directory.deleted", subject=str(tenant_id),
                          data={"tenant_id": str(tenant_id), "name": tenant.name})
        await append_events(conn, tenant_id, [last], datetime.now(UTC))
        await purge_tenant_rows(conn, tenant_id)
        await conn.execute("DELETE FROM tenants WHERE id = $1", tenant_id)
        await _forget_credentials(conn, tenant_id)
    return tenant


async def list_tokens(pool: asyncpg.Pool, tenant_id: UUID) -> list[TokenInfo]:
    """The tenant's SCIM token ids with their creation and revocation times (never a
    secret or a hash), oldest first. Raises TenantNotFound."""
    await get_tenant(pool, tenant_id)
    rows = await pool.fetch("SELECT id, created_at, revoked_at FROM scim_tokens"
                            " WHERE tenant_id = $1 ORDER BY created_at, id", tenant_id)
    return [TokenInfo(r["id"], r["created_at"], r["revoked_at"]) for r in rows]


async def create_tenant(pool: asyncpg.Pool, name: object) -> tuple[Tenant, UUID, str]:
    """A new active tenant and its first SCIM token: (tenant, token id, token). The token
    is returned only here; its hash is stored. Raises TenantInvalid on a bad name."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise TenantInvalid("'name' must be a non-empty string (≤ 200 chars)")
    tenant_id, token_id, token = uuid.uuid4(), uuid.uuid4(), new_token(TOKEN_PREFIX)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(f"INSERT INTO tenants (id, name) VALUES ($1, $2)"
                                  f" RETURNING {_COLUMNS}", tenant_id, name.strip())
        assert row is not None  # INSERT ... RETURNING gives its row
        await conn.execute("INSERT INTO scim_tokens (id, tenant_id, token_hash) VALUES"
                           " ($1, $2, $3)", token_id, tenant_id, token_hash(token))
    return _tenant(row), token_id, token


async def create_token(pool: asyncpg.Pool, tenant_id: UUID) -> tuple[UUID, str]:
    """A further SCIM token for the tenant (rotation): (id, token), shown only here.
    Raises TenantNotFound."""
    await get_tenant(pool, tenant_id)
    token_id, token = uuid.uuid4(), new_token(TOKEN_PREFIX)
    await pool.execute("INSERT INTO scim_tokens (id, tenant_id, token_hash) VALUES"
                       " ($1, $2, $3)", token_id, tenant_id, token_hash(token))
    return token_id, token


async def revoke_token(pool: asyncpg.Pool, tenant_id: UUID, token_id: UUID) -> None:
    """Revoke one token (idempotent); every gateway drops it from its cache at commit.
    Raises TenantNotFound (for the tenant or the token)."""
    await get_tenant(pool, tenant_id)
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, now())"
            " WHERE id = $1 AND tenant_id = $2 RETURNING id", token_id, tenant_id)
        if found is None:
            raise TenantNotFound(f"Token {token_id} not found")
        await conn.execute("SELECT pg_notify($1, $2)", channels.TOKENS, str(token_id))
