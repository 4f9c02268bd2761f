"""Console pages: a tenant's activity (the operations ledger) — filtered list newest first,
per-minute chart for 24 h, operation detail with the stored request (secrets masked),
Retry and bulk retry of a filtered set. All through `admin_operations`."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from dsync.admin_http import AdminError
from dsync_services.gateway import admin_operations as ops
from dsync_services.gateway import admin_tenants
from dsync_services.gateway.console.activity_chart import ORDER, build_chart
from dsync_services.gateway.console.masking import mask_secrets
from dsync_services.gateway.console.pages_tenants import tenant_id
from dsync_services.gateway.console.plumbing import form_uuid, pool, redirect, render

FILTERS = ("status", "reason_code", "resource_type", "resource_id", "kind", "since", "until",
           "limit")
BULK_LIMIT = 1000


def _filter_args(source: Any) -> dict[str, str]:
    return {k: str(source.get(k)).strip() for k in FILTERS if str(source.get(k) or "").strip()}


async def activity_page(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    args = _filter_args(request.query)
    try:
        filt = ops.parse_filter(args)
    except AdminError as exc:
        args, filt, message = {}, ops.OperationFilter(), exc.detail
    else:
        message = ""
    rows = await ops.find_operations(pool(request), tid, filt)
    now = datetime.now(UTC)
    counts = await ops.per_minute(pool(request), tid, now - timedelta(hours=24))
    chart = build_chart(counts, now)
    reasons = sorted({r["reason_code"] for r in rows if r["reason_code"]})
    return render(request, "activity.html", tenant=tenant, operations=rows, args=args,
                  statuses=ops.STATUSES, order=ORDER, chart=chart, reasons=reasons,
                  query=urlencode(args), message=message, info=request.query.get("info", ""))


async def operation_page(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    op, command = await ops.find_operation(pool(request), tid,
                                           form_uuid(request.match_info["op_id"], "Operation"))
    stored = json.dumps(mask_secrets(json.loads(command) if isinstance(command, str)
                                     else command), indent=2, ensure_ascii=False) \
        if command is not None else None
    return render(request, "operation.html", tenant=tenant, op=op, stored=stored,
                  info=request.query.get("info", ""))


async def retry_one(request: web.Request) -> web.StreamResponse:
    tid = tenant_id(request)
    op_id = form_uuid(request.match_info["op_id"], "Operation")
    await ops.retry(request.config_dict, tid, op_id)
    info = urlencode({"info": "Retry queued: the operation runs again through the pipeline."})
    raise redirect(f"/console/tenants/{tid}/operations/{op_id}?{info}")


async def retry_filtered(request: web.Request) -> web.StreamResponse:
    """Retry every failed, retryable operation of the filtered set (at most 1000)."""
    tid = tenant_id(request)
    form = await request.post()
    args = _filter_args(form)
    filt = ops.parse_filter({**args, "status": "failed", "limit": str(BULK_LIMIT)})
    queued = skipped = 0
    for op in await ops.find_operations(pool(request), tid, filt):
        if not op["retryable"]:
            skipped += 1
            continue
        try:
            await ops.retry(request.config_dict, tid, UUID(op["id"]))
            queued += 1
        except AdminError:
            skipped += 1  # it moved on meanwhile
    info = f"Retry queued for {queued} failed operation{'s' * (queued != 1)}" + (
        f"; {skipped} could not be retried (not retryable)." if skipped else ".")
    raise redirect(f"/console/tenants/{tid}/activity?{urlencode({**args, 'info': info})}")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/tenants/{tid}/activity", activity_page, name="activity")
    r.add_post("/tenants/{tid}/activity/retry", retry_filtered)
    r.add_get("/tenants/{tid}/operations/{op_id}", operation_page, name="operation")
    r.add_post("/tenants/{tid}/operations/{op_id}/retry", retry_one)
