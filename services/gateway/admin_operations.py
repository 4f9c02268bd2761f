"""Admin API: the operations ledger (docs/operations.md) — list/filter per tenant, and retry.

Retry re-runs a `failed`, retryable operation through the same ordered pipeline: a SCIM
write's stored command is published again on `dsync.commands` (the directory applies it
once: its operation is not terminal), and an asynchronous side effect is handed back to
the service that owns its kind via `NOTIFY dsync_retry, '<kind>:<op_id>'`.
`find_operations`, `find_operation` and `retry` are what the JSON handlers and the console
both call.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web

from dsync.admin_http import AdminError, iso, path_uuid
from dsync.ledger import writes
from dsync.ledger.status import retryable_by_operator
from dsync.pipeline import channels

STATUSES = ("accepted", "applied", "rejected", "failed", "dead")
_COLUMNS = ("id, kind, method, path, resource_type, resource_id, status, reason_code, "
            "retryable, attempts, detail, received_at, completed_at")


@dataclass(frozen=True)
class OperationFilter:
    """Which operations of a tenant to list; every field None means "any"."""

    status: str | None = None
    reason_code: str | None = None
    kind: str | None = None
    resource_type: str | None = None
    resource_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100

    def where(self, tenant_id: UUID) -> tuple[str, list[object]]:
        """The SQL condition and its parameters ($1 is the tenant)."""
        where, params = ["tenant_id = $1"], list[object]([tenant_id])
        for column, value, op in (("status", self.status, "="),
                                  ("reason_code", self.reason_code, "="),
                                  ("kind", self.kind, "="),
                                  ("resource_type", self.resource_type, "="),
                                  ("resource_id", self.resource_id, "="),
                                  ("received_at", self.since, ">="),
                                  ("received_at", self.until, "<")):
            if value is not None:
                params.append(value)
                where.append(f"{column} {op} ${len(params)}")
        return " AND ".join(where), params


def parse_filter(q: Any) -> OperationFilter:
    """An OperationFilter from query parameters (`status`, `reason_code`, `kind`,
    `resource_type`, `resource_id`, `since`, `until` ISO times (UTC without an offset),
    `limit` 1–1000); empty values mean "any". AdminError 400 for a bad value."""
    def text(name: str) -> str | None:
        value = q.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    status = text("status")
    if status is not None and status not in STATUSES:
        raise AdminError(400, "invalid_value", f"status must be one of {', '.join(STATUSES)}")
    try:
        rid = UUID(r) if (r := text("resource_id")) else None
    except ValueError:
        raise AdminError(400, "invalid_value", "resource_id must be a UUID") from None
    times: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        try:
            parsed = datetime.fromisoformat(t) if (t := text(name)) else None
        except ValueError:
            raise AdminError(400, "invalid_value", f"{name} must be an ISO 8601 time") from None
        times[name] = parsed.replace(tzinfo=UTC) if parsed and parsed.tzinfo is None else parsed
    try:
        limit = max(1, min(1000, int(text("limit") or "100")))
    except ValueError:
        raise AdminError(400, "invalid_value", "limit must be an integer") from None
    return OperationFilter(status, text("reason_code"), text("kind"), text("resource_type"),
                           rid, times["since"], times["until"], limit)


def operation_json(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "kind": row["kind"], "method": row["method"],
            "path": row["path"], "resource_type": row["resource_type"],
            "resource_id": str(row["resource_id"]) if row["resource_id"] else None,
            "status": row["status"], "reason_code": row["reason_code"],
            "retryable": row["retryable"], "attempts": row["attempts"],
            "detail": row["detail"], "received_at": iso(row["received_at"]),
            "completed_at": iso(row["completed_at"])}


async def find_operations(pool: asyncpg.Pool, tenant_id: UUID,
                          filt: OperationFilter) -> list[dict[str, Any]]:
    """A tenant's operations matching `filt`, newest first."""
    where, params = filt.where(tenant_id)
    params.append(filt.limit)
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM operations WHERE {where}"  # noqa: S608
        f" ORDER BY received_at DESC, id LIMIT ${len(params)}", *params)
    return [operation_json(r) for r in rows]


async def find_operation(pool: asyncpg.Pool, tenant_id: UUID,
                         op_id: UUID) -> tuple[dict[str, Any], Any]:
    """(operation JSON, its stored command as parsed JSON or None); AdminError 404."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS}, command FROM operations"  # noqa: S608
        " WHERE tenant_id = $1 AND id = $2", tenant_id, op_id)
    if row is None:
        raise AdminError(404, "not_found", f"Operation {op_id} not found")
    return operation_json(row), row["command"]


async def per_minute(pool: asyncpg.Pool, tenant_id: UUID,
                     since: datetime) -> list[tuple[datetime, str, int]]:
    """(minute, status, count) of a tenant's operations received since `since`."""
    rows = await pool.fetch(
        "SELECT date_trunc('minute', received_at) AS minute, status, count(*) AS n"
        " FROM operations WHERE tenant_id = $1 AND received_at >= $2"
        " GROUP BY 1, 2 ORDER BY 1", tenant_id, since)
    return [(r["minute"], r["status"], r["n"]) for r in rows]


async def retry(app: Mapping[Any, Any], tenant_id: UUID, op_id: UUID) -> dict[str, Any]:
    """Queue a failed, retryable operation again; `{"id", "status": "accepted", "kind"}`.
    AdminError 404 unknown, 409 not retryable."""
    pool = app["pool"]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT kind, status, retryable, command::text AS command FROM operations"
            " WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant_id, op_id)
        if row is None:
            raise AdminError(404, "not_found", f"Operation {op_id} not found")
        if not retryable_by_operator(row["status"], row["retryable"]):
            raise AdminError(409, "not_retryable",
                             f"Operation {op_id} is {row['status']}"
                             + ("" if row["retryable"] else " and not retryable")
                             + "; only failed, retryable operations can be retried")
        await writes.requeue_for_retry(conn, op_id)
        if row["kind"] != "scim_write":
            await conn.execute("SELECT pg_notify($1, $2)", channels.RETRY,
                               f"{row['kind']}:{op_id}")
    if row["kind"] == "scim_write":
        settings = app["settings"]
        await app["producer"].send_and_wait(
            settings.kafka.commands_topic, row["command"].encode(), key=str(tenant_id).encode())
        if app["bus"].wakeups is not None:
            app["bus"].wakeups.produced()  # the command consumer fetches when told to
    return {"id": str(op_id), "status": "accepted", "kind": row["kind"]}


async def list_operations(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    ops = await find_operations(request.app["pool"], tid, parse_filter(request.query))
    return web.json_response({"operations": ops})


async def get_operation(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    op, _ = await find_operation(request.app["pool"], tid,
                                 path_uuid(request, "op_id", "Operation"))
    return web.json_response(op)


async def retry_operation(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    answer = await retry(request.app, tid, path_uuid(request, "op_id", "Operation"))
    return web.json_response(answer, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/v1/tenants/{tid}/operations", list_operations)
    app.router.add_get("/admin/v1/tenants/{tid}/operations/{op_id}", get_operation)
    app.router.add_post("/admin/v1/tenants/{tid}/operations/{op_id}/retry", retry_operation)
