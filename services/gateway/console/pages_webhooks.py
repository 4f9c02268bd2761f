"""Console pages: a tenant's webhook endpoints (state, pause/resume) and one endpoint's
delivery log with attempts, redelivery of one event or a time range — all through the
fanout service's public `api`."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web

from dsync.admin_http import AdminError
from dsync_services.fanout import api as fanout_api
from dsync_services.gateway import admin_tenants
from dsync_services.gateway.console.pages_tenants import tenant_id
from dsync_services.gateway.console.plumbing import form_uuid, pool, redirect, render


def _wid(request: web.Request) -> tuple[str, str]:
    tid = str(tenant_id(request))
    return tid, str(form_uuid(request.match_info["wid"], "Webhook"))


async def webhooks_page(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    hooks = await fanout_api.endpoints(pool(request), tid)
    return render(request, "webhooks.html", tenant=tenant, hooks=hooks,
                  info=request.query.get("info", ""))


async def webhook_page(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    wid = form_uuid(request.match_info["wid"], "Webhook")
    hook = await fanout_api.endpoint(pool(request), tid, wid)
    status = request.query.get("status") or None
    deliveries = await fanout_api.delivery_log(pool(request), tid, wid, status=status,
                                               limit=100)
    return render(request, "webhook.html", tenant=tenant, hook=hook, deliveries=deliveries,
                  delivery_status=status or "", statuses=fanout_api.DELIVERY_STATUSES,
                  info=request.query.get("info", ""))


def _back(tid: str, wid: str | None, info: str) -> web.HTTPSeeOther:
    where = f"/console/tenants/{tid}/webhooks" + (f"/{wid}" if wid else "")
    return redirect(f"{where}?{urlencode({'info': info})}")


async def pause(request: web.Request) -> web.StreamResponse:
    tid, wid = _wid(request)
    await fanout_api.pause(pool(request), form_uuid(tid, "Tenant"), form_uuid(wid, "Webhook"))
    raise _back(tid, None, "Paused: deliveries wait until you resume.")


async def resume(request: web.Request) -> web.StreamResponse:
    tid, wid = _wid(request)
    form = await request.post()
    answer = await fanout_api.resume(pool(request), form_uuid(tid, "Tenant"),
                                     form_uuid(wid, "Webhook"),
                                     skip_dead=form.get("skip_dead") == "on")
    raise _back(tid, None, f"Resumed; {answer['requeued']} dead deliveries queued again.")


def _time(value: object, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise AdminError(400, "invalid_value", f"{what} must be a date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def redeliver(request: web.Request) -> web.StreamResponse:
    tid, wid = _wid(request)
    form = await request.post()
    t, w = form_uuid(tid, "Tenant"), form_uuid(wid, "Webhook")
    if form.get("event_id"):
        n = await fanout_api.redeliver_event(pool(request), t, w,
                                             form_uuid(form.get("event_id"), "Event"))
    else:
        until = _time(form.get("to"), "'To'") if form.get("to") else datetime.now(UTC)
        n = await fanout_api.redeliver_range(pool(request), t, w,
                                             _time(form.get("from"), "'From'"), until)
    raise _back(tid, wid, f"{n} event{'s' * (n != 1)} queued for redelivery.")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/tenants/{tid}/webhooks", webhooks_page)
    r.add_get("/tenants/{tid}/webhooks/{wid}", webhook_page)
    r.add_post("/tenants/{tid}/webhooks/{wid}/pause", pause)
    r.add_post("/tenants/{tid}/webhooks/{wid}/resume", resume)
    r.add_post("/tenants/{tid}/webhooks/{wid}/redeliver", redeliver)
