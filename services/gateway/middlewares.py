"""Request middlewares: metrics, SCIM tenant authentication, admin authentication,
per-tenant throttling."""
from __future__ import annotations

import asyncio
import random
import re
import time

from aiohttp import web

from dsync.admin_http import AdminError, admin_error_response, require_admin
from dsync.tenants.lifecycle import TenantError
from dsync.tokens import bearer
from dsync_services.gateway.admin_tenants import as_admin_error
from dsync_services.gateway.scim_http import (
    BAD_DATA,
    EXTRA_COST,
    UNAVAILABLE,
    Handler,
    error_response,
)

SCIM_PREFIX = "/scim/v2"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app["metrics"]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource \
        else "unmatched"
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        status = exc.status
        raise
    else:
        status = response.status
        return response
    finally:
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route, request.method).observe(time.perf_counter() - start)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith(SCIM_PREFIX):
        token = bearer(request.headers.get("Authorization"))
        try:
            identity = await request.app["auth"].authenticate(token) if token else None
        except UNAVAILABLE:
            return error_response(503, "The directory database is temporarily unavailable;"
                                  " retry later", headers={"Retry-After": str(
                                      request.app["settings"].http.retry_after_s)})
        if identity is None:
            request.app["metrics"].auth_failures.labels("scim").inc()
            return error_response(401, "A valid SCIM bearer token is required",
                                  headers={"WWW-Authenticate": 'Bearer realm="dsync"'})
        if identity.disabled:
            return error_response(403, "This tenant is disabled; its directory is kept but"
                                  " not served. An operator can enable it again.")
        request["tenant"] = identity
        status = 500
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            status = exc.status
            raise
        else:
            status = response.status
        finally:
            request.app["token_usage"].note(identity.tenant_id, identity.token_id,
                                            request.method, path, status)
        return response
    if path.startswith(("/admin/", "/auth/")):
        try:
            if path.startswith("/admin/"):
                require_admin(request)
            return await handler(request)
        except AdminError as exc:
            if exc.status == 401:
                request.app["metrics"].auth_failures.labels("admin").inc()
            return admin_error_response(exc)
        except TenantError as exc:
            return admin_error_response(as_admin_error(exc))
        except BAD_DATA:
            return admin_error_response(AdminError(
                400, "invalid_value", "A value in the request cannot be stored"))
        except UNAVAILABLE:
            response = admin_error_response(AdminError(
                503, "unavailable", "The database is temporarily unavailable; retry later"))
            response.headers["Retry-After"] = str(request.app["settings"].http.retry_after_s)
            return response
    return await handler(request)


_LISTS = (f"{SCIM_PREFIX}/Users", f"{SCIM_PREFIX}/Groups")


_INDEXED_LOOKUP = re.compile(r'^\s*(userName|externalId|id|displayName)\s+eq\s+"[^"]*"\s*$',
                             re.IGNORECASE)


def _is_search(request: web.Request) -> bool:
    """A list or `.search` request: the reads whose cost the client chooses. The IdPs'
    lookup before a create (`GET /Users?filter=userName eq "…"`) is an index lookup and
    does not count."""
    path = request.path.rstrip("/")
    if request.method == "POST":
        return path.endswith("/.search")
    if request.method != "GET" or path not in _LISTS:
        return False
    return not _INDEXED_LOOKUP.match(request.query.get("filter", ""))


def hold_delay(hold_s: float, retry_after_s: float, rng: random.Random | None = None
               ) -> float:
    """How long to hold one refusal: a random 50-100 % of the hold, at most Retry-After."""
    uniform = rng.uniform if rng is not None else random.uniform
    return min(hold_s, retry_after_s) * uniform(0.5, 1.0)


async def _hold(app: web.Application, retry_after_s: float) -> None:
    """Answer a refusal late (a tarpit): a flooding client's worker waits instead of
    sending its next request at once, which would cost this event loop another refusal.
    The delay is a random 50-100 % of the hold: refusals that came together (a burst, or
    workers refused by one empty bucket) would otherwise come back together and be
    admitted together, a burst of the tenant's costly reads every hold. At most
    `throttle_hold_max` refusals are held at once; the others are answered now."""
    settings, throttle = app["limit_settings"], app["throttle"]
    delay = hold_delay(settings.throttle_hold_s, retry_after_s)
    if delay <= 0 or throttle.held >= settings.throttle_hold_max:
        return
    throttle.held += 1
    try:
        await asyncio.sleep(delay)
    finally:
        throttle.held -= 1


@web.middleware
async def throttle_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-tenant rate limit and concurrency cap on SCIM requests: 429 + `Retry-After`."""
    identity = request.get("tenant")
    if identity is None:
        return await handler(request)
    limits = await request.app["limits"].get(identity.tenant_id)
    throttle = request.app["throttle"]
    search = _is_search(request)
    refusal = throttle.admit(identity.tenant_id, time.monotonic(), limits.rate_per_s,
                             limits.burst, limits.max_concurrency, search=search,
                             max_searches=limits.max_searches)
    if refusal is not None:
        request.app["metrics"].throttled.labels(refusal.reason, limits.tier).inc()
        what = {"rate": "request rate", "concurrency": "number of concurrent requests",
                "searches": "number of concurrent list/search requests"}[refusal.reason]
        await _hold(request.app, refusal.retry_after_s)
        return error_response(429, f"Too many requests: this tenant's {what} limit is "
                              "reached; retry after the Retry-After delay",
                              headers={"Retry-After": str(refusal.retry_after_s)})
    try:
        return await handler(request)
    finally:
        throttle.release(identity.tenant_id, search=search)
        throttle.charge(identity.tenant_id, request.get(EXTRA_COST, 0), limits.burst)
