"""The fanout service's admin API, mounted by the gateway with `setup(app)`: webhook
endpoints of a tenant and their delivery log.

Registration checks the URL (http/https, a host, no credentials) and every address its host
resolves to now (SSRF policy of `DSYNC_WEBHOOK_ALLOW_LOOPBACK` / `_ALLOW_PRIVATE`); the
fanout service checks again at each delivery. Secrets are write-only: shown only in the
answer that generated them.
"""
from __future__ import annotations

import secrets as _secrets
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web

from dsync.admin_http import AdminError, iso, json_body, path_uuid
from dsync_services.fanout import webhook_store as store
from dsync_services.fanout.event_filter import InvalidFilter, normalize
from dsync_services.fanout.settings import WebhookSettings
from dsync_services.fanout.url_safety import (
    InvalidUrl,
    RefusedAddress,
    TargetPolicy,
    check_target,
)

BASE = "/admin/v1/tenants/{tid}/webhooks"
DELIVERY_STATUSES = ("pending", "retrying", "delivered", "dead", "skipped")
MAX_SECRET = 1024


def _webhook_json(row: Any) -> dict[str, Any]:
    out = {"id": str(row["id"]), "tenant_id": str(row["tenant_id"]), "url": row["url"],
           "events": row["events"], "status": row["status"],
           "paused_reason": row["paused_reason"], "paused_at": iso(row["paused_at"]),
           "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
           "previous_secret_expires_at": iso(row["previous_secret_expires_at"])}
    if "queue" in row.keys():
        out["queue"] = row["queue"]
    return out


def _zulu(value: Any) -> Any:
    return value.replace("+00:00", "Z") if isinstance(value, str) else value


def _delivery_json(d: dict[str, Any]) -> dict[str, Any]:
    queued = d["status"] in ("pending", "retrying")
    return {"id": d["id"], "event_id": str(d["event_id"]), "event_type": d["event_type"],
            "sequence": d["sequence"], "status": d["status"], "attempts": d["attempts"],
            "last_status_code": d["last_status_code"], "last_error": d["last_error"],
            "next_attempt_at": iso(d["next_attempt_at"]) if queued else None,
            "created_at": iso(d["created_at"]), "delivered_at": iso(d["delivered_at"]),
            "operation_id": str(d["operation_id"]) if d["operation_id"] else None,
            "log": [{k: _zulu(v) for k, v in a.items()} for a in d["log"]]}


async def _tenant_id(request: web.Request) -> UUID:
    tid = path_uuid(request, "tid", "Tenant")
    if await request.app["pool"].fetchval("SELECT 1 FROM tenants WHERE id = $1", tid) is None:
        raise AdminError(404, "not_found", f"Tenant {tid} not found")
    return tid


async def _webhook(request: web.Request) -> tuple[UUID, Any]:
    tid = await _tenant_id(request)
    wid = path_uuid(request, "wid", "Webhook")
    row = await store.get(request.app["pool"], tid, wid)
    if row is None:
        raise AdminError(404, "not_found", f"Webhook {wid} not found")
    return tid, row


async def endpoints(pool: asyncpg.Pool, tenant_id: UUID) -> list[dict[str, Any]]:
    """A tenant's webhook endpoints as the admin API shows them (state, queue)."""
    return [_webhook_json(r) for r in await store.listing(pool, tenant_id)]


async def endpoint(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID) -> dict[str, Any]:
    """One endpoint; AdminError 404 when the tenant has no such webhook."""
    row = await store.get(pool, tenant_id, webhook_id)
    if row is None:
        raise AdminError(404, "not_found", f"Webhook {webhook_id} not found")
    return _webhook_json(row)


async def pause(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID,
                reason: str = "paused by an operator") -> dict[str, Any]:
    """Pause deliveries to an endpoint (they queue up); AdminError 404."""
    await endpoint(pool, tenant_id, webhook_id)
    await store.set_paused(pool, tenant_id, webhook_id, reason[:500])
    return await endpoint(pool, tenant_id, webhook_id)


async def resume(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID,
                 skip_dead: bool = False) -> dict[str, Any]:
    """Resume an endpoint; dead deliveries are queued again unless `skip_dead`. The answer
    carries `requeued`. AdminError 404."""
    await endpoint(pool, tenant_id, webhook_id)
    requeued = await store.resume(pool, tenant_id, webhook_id, skip_dead=skip_dead)
    return {**await endpoint(pool, tenant_id, webhook_id), "requeued": requeued}


async def delivery_log(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID, *,
                       status: str | None = None, event_id: UUID | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest first, each with its attempt log. AdminError 404
    for an unknown webhook, 400 for an unknown status."""
    await endpoint(pool, tenant_id, webhook_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise AdminError(400, "invalid_value", f"'status' is one of {DELIVERY_STATUSES}")
    rows = await store.deliveries(pool, webhook_id, status=status, event_id=event_id,
                                  limit=limit)
    return [_delivery_json(d) for d in rows]


async def redeliver_event(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID,
                          event_id: UUID) -> int:
    """Send one event to the endpoint again; AdminError 404 when it never went there."""
    await endpoint(pool, tenant_id, webhook_id)
    if not await store.deliveries(pool, webhook_id, status=None, event_id=event_id, limit=1):
        raise AdminError(404, "not_found", f"No delivery of event {event_id} here")
    return await store.redeliver(pool, webhook_id, event_id=event_id)


async def redeliver_range(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID,
                          since: datetime, until: datetime) -> int:
    """Send every event of [since, until] to the endpoint again, in order; AdminError 400
    when `until` is before `since`, 404 for an unknown webhook."""
    await endpoint(pool, tenant_id, webhook_id)
    if until < since:
        raise AdminError(400, "invalid_value", "'to' must not be before 'from'")
    return await store.redeliver(pool, webhook_id, since=since, until=until)


def _secret(body: dict[str, Any]) -> tuple[str, bool]:
    """(secret, generated): the given secret, or a new random one when none was given."""
    value = body.get("secret")
    if value is None:
        return "whsec_" + _secrets.token_urlsafe(32), True
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET:
        raise AdminError(400, "invalid_value",
                         f"'secret' must be a non-empty string (≤ {MAX_SECRET} chars)")
    return value, False


async def create_webhook(request: web.Request) -> web.Response:
    tid = await _tenant_id(request)
    body = await json_body(request)
    settings: WebhookSettings = request.app["webhook_settings"]
    url = body.get("url")
    if not isinstance(url, str):
        raise AdminError(400, "invalid_url", "'url' must be a string (an https URL)")
    try:
        events = normalize(body.get("events"))
        await check_target(url, TargetPolicy(settings.webhook_allow_loopback,
                                             settings.webhook_allow_private))
    except InvalidFilter as exc:
        raise AdminError(400, "invalid_value", str(exc)) from None
    except InvalidUrl as exc:
        raise AdminError(400, "invalid_url", str(exc)) from None
    except RefusedAddress as exc:
        raise AdminError(400, "target_refused", str(exc)) from None
    secret, generated = _secret(body)
    try:
        row = await store.create(request.app["pool"], tid, body["url"], secret, events,
                                 settings.webhook_max_per_tenant)
    except store.TooManyWebhooks as exc:
        raise AdminError(409, "limit_exceeded", str(exc)) from None
    out = _webhook_json(row)
    if generated:
        out["secret"] = secret
    return web.json_response(out, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    rows = await store.listing(request.app["pool"], await _tenant_id(request))
    return web.json_response({"webhooks": [_webhook_json(r) for r in rows]})


async def get_webhook(request: web.Request) -> web.Response:
    _, row = await _webhook(request)
    return web.json_response(_webhook_json(row))


async def delete_webhook(request: web.Request) -> web.Response:
    tid, row = await _webhook(request)
    await store.delete(request.app["pool"], tid, row["id"])
    return web.Response(status=204)


async def pause_webhook(request: web.Request) -> web.Response:
    tid, row = await _webhook(request)
    reason = (await json_body(request)).get("reason") or "paused by an operator"
    return web.json_response(await pause(request.app["pool"], tid, row["id"], str(reason)))


async def resume_webhook(request: web.Request) -> web.Response:
    tid, row = await _webhook(request)
    skip = (await json_body(request)).get("skip_dead", False)
    if not isinstance(skip, bool):
        raise AdminError(400, "invalid_value", "'skip_dead' must be a boolean")
    return web.json_response(await resume(request.app["pool"], tid, row["id"], skip))


async def rotate_secret(request: web.Request) -> web.Response:
    tid, row = await _webhook(request)
    body = await json_body(request)
    secret, generated = _secret(body)
    overlap = body.get("overlap_s", request.app["webhook_settings"].webhook_rotation_overlap_s)
    if isinstance(overlap, bool) or not isinstance(overlap, int | float) \
            or not 0 <= overlap <= 30 * 86_400:
        raise AdminError(400, "invalid_value", "'overlap_s' must be a number of seconds "
                                               "between 0 and 2592000")
    fresh = await store.rotate_secret(request.app["pool"], tid, row["id"], secret,
                                      float(overlap))
    if fresh is None:  # deleted meanwhile
        raise AdminError(404, "not_found", f"Webhook {row['id']} not found")
    out = {"id": str(row["id"]),
           "previous_secret_expires_at": iso(fresh["previous_secret_expires_at"])}
    if generated:
        out["secret"] = secret
    return web.json_response(out)


def _when(body: dict[str, Any], key: str, default: datetime | None) -> datetime:
    value = body.get(key)
    if value is None and default is not None:
        return default
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise AdminError(400, "invalid_value", f"'{key}' must be an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def redeliver(request: web.Request) -> web.Response:
    _, row = await _webhook(request)
    body = await json_body(request)
    pool = request.app["pool"]
    if body.get("event_id") is not None:
        try:
            event_id = UUID(str(body["event_id"]))
        except ValueError:
            raise AdminError(400, "invalid_value", "'event_id' must be a UUID") from None
        count = await redeliver_event(pool, row["tenant_id"], row["id"], event_id)
    elif body.get("from") is not None:
        since, until = _when(body, "from", None), _when(body, "to", datetime.now(UTC))
        count = await redeliver_range(pool, row["tenant_id"], row["id"], since, until)
    else:
        raise AdminError(400, "invalid_value", "give 'event_id', or 'from' (and 'to')")
    return web.json_response({"redelivered": count}, status=202)


def _limit(request: web.Request) -> int:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise AdminError(400, "invalid_value", "'limit' must be an integer") from None
    return max(1, min(limit, 1000))


async def list_deliveries(request: web.Request) -> web.Response:
    tid, row = await _webhook(request)
    try:
        event_id = UUID(request.query["event_id"]) if "event_id" in request.query else None
    except ValueError:
        raise AdminError(400, "invalid_value", "'event_id' must be a UUID") from None
    return web.json_response({"deliveries": await delivery_log(
        request.app["pool"], tid, row["id"], status=request.query.get("status"),
        event_id=event_id, limit=_limit(request))})


async def list_attempts(request: web.Request) -> web.Response:
    _, row = await _webhook(request)
    rows = await store.attempts(request.app["pool"], row["id"], _limit(request))
    return web.json_response({"attempts": [
        {"delivery_id": r["delivery_id"], "event_id": str(r["event_id"]),
         "event_type": r["event_type"], "sequence": r["sequence"], "attempt": r["attempt"],
         "started_at": iso(r["started_at"]), "latency_ms": r["latency_ms"],
         "status_code": r["status_code"], "outcome": r["outcome"], "error": r["error"]}
        for r in rows]})


def setup(app: web.Application) -> None:
    """Mount the webhook admin routes; reads `WebhookSettings` (DSYNC_WEBHOOK_*) once."""
    app["webhook_settings"] = WebhookSettings()
    r = app.router
    r.add_post(BASE, create_webhook)
    r.add_get(BASE, list_webhooks)
    r.add_get(BASE + "/{wid}", get_webhook)
    r.add_delete(BASE + "/{wid}", delete_webhook)
    r.add_post(BASE + "/{wid}/pause", pause_webhook)
    r.add_post(BASE + "/{wid}/resume", resume_webhook)
    r.add_post(BASE + "/{wid}/rotate-secret", rotate_secret)
    r.add_post(BASE + "/{wid}/redeliver", redeliver)
    r.add_get(BASE + "/{wid}/deliveries", list_deliveries)
    r.add_get(BASE + "/{wid}/attempts", list_attempts)
