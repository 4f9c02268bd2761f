"""Admin API: the operations ledger (docs/operations.md) — list/filter per tenant, and retry.

Retry re-runs a `failed`, retryable operation through the same ordered pipeline: a SCIM
write's stored command is published again on `dsync.commands` (the directory applies it
once: its operation is not terminal), and an asynchronous side effect is handed back to
the service that owns its kind via `NOTIFY dsync_retry, '<kind>:<op_id>'`.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from dsync.admin_http import AdminError, iso, path_uuid
from dsync.ledger import writes
from dsync.ledger.status import retryable_by_operator
from dsync.pipeline import channels

STATUSES = ("accepted", "applied", "rejected", "failed", "dead")
_COLUMNS = ("id, kind, method, path, resource_type, resource_id, status, reason_code, "
            "retryable, attempts, detail, received_at, completed_at")


def operation_json(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "kind": row["kind"], "method": row["method"],
            "path": row["path"], "resource_type": row["resource_type"],
            "resource_id": str(row["resource_id"]) if row["resource_id"] else None,
            "status": row["status"], "reason_code": row["reason_code"],
            "retryable": row["retryable"], "attempts": row["attempts"],
            "detail": row["detail"], "received_at": iso(row["received_at"]),
            "completed_at": iso(row["completed_at"])}


async def list_operations(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    q = request.query
    where, params = ["tenant_id = $1"], list[object]([tid])
    if (status := q.get("status")) is not None:
        if status not in STATUSES:
            raise AdminError(400, "invalid_value", f"status must be one of {', '.join(STATUSES)}")
        params.append(status)
        where.append(f"status = ${len(params)}")
    for name, column in (("reason_code", "reason_code"), ("kind", "kind")):
        if (value := q.get(name)) is not None:
            params.append(value)
            where.append(f"{column} = ${len(params)}")
    if (rid := q.get("resource_id")) is not None:
        try:
            params.append(UUID(rid))
        except ValueError:
            raise AdminError(400, "invalid_value", "resource_id must be a UUID") from None
        where.append(f"resource_id = ${len(params)}")
    try:
        limit = max(1, min(1000, int(q.get("limit", "100"))))
    except ValueError:
        raise AdminError(400, "invalid_value", "limit must be an integer") from None
    params.append(limit)
    rows = await request.app["pool"].fetch(
        f"SELECT {_COLUMNS} FROM operations WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY received_at DESC, id LIMIT ${len(params)}", *params)
    return web.json_response({"operations": [operation_json(r) for r in rows]})


async def get_operation(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    op_id = path_uuid(request, "op_id", "Operation")
    row = await request.app["pool"].fetchrow(
        f"SELECT {_COLUMNS} FROM operations WHERE tenant_id = $1 AND id = $2",  # noqa: S608
        tid, op_id)
    if row is None:
        raise AdminError(404, "not_found", f"Operation {op_id} not found")
    return web.json_response(operation_json(row))


async def retry_operation(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    op_id = path_uuid(request, "op_id", "Operation")
    pool = request.app["pool"]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT kind, status, retryable, command::text AS command FROM operations"
            " WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tid, op_id)
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
        settings = request.app["settings"]
        await request.app["producer"].send_and_wait(
            settings.kafka.commands_topic, row["command"].encode(), key=str(tid).encode())
    return web.json_response({"id": str(op_id), "status": "accepted",
                              "kind": row["kind"]}, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/v1/tenants/{tid}/operations", list_operations)
    app.router.add_get("/admin/v1/tenants/{tid}/operations/{op_id}", get_operation)
    app.router.add_post("/admin/v1/tenants/{tid}/operations/{op_id}/retry", retry_operation)

