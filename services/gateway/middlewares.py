"""Request middlewares: metrics, SCIM tenant authentication, admin authentication."""
from __future__ import annotations

import time

from aiohttp import web

from dsync.admin_http import AdminError, admin_error_response, require_admin
from dsync.tenants.lifecycle import TenantError
from dsync.tokens import bearer
from dsync_services.gateway.admin_tenants import as_admin_error
from dsync_services.gateway.scim_http import BAD_DATA, DATABASE_DOWN, Handler, error_response

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
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
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
        except DATABASE_DOWN:
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
        except DATABASE_DOWN:
            return admin_error_response(AdminError(
                503, "unavailable", "The database is temporarily unavailable; retry later"))
    return await handler(request)
