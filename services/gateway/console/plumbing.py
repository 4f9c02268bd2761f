"""Console HTTP plumbing: security headers on every answer, the session and CSRF checks,
HTML rendering, and error pages.

Routes are marked by how they may be reached: `public` (sign-in, static files, opening a
setup link), `setup_only` (an IT admin's setup session, one tenant), `any_session` or, by
default, operator only. Every POST must carry the `csrf` form field of its session (or,
before sign-in, of the pre-session cookie); anything else is refused with 403 and changes
nothing.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import jinja2
from aiohttp import web

from dsync.admin_http import AdminError
from dsync_services.gateway.console import sessions
from dsync_services.gateway.console.sessions import ConsoleSession
from dsync_services.gateway.scim_http import DATABASE_DOWN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)
PRE_COOKIE = "dsync_console_pre"
ACCESS_KEY = "console_access"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
                               " img-src 'self' data:; form-action 'self';"
                               " frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def public(handler: Handler) -> Handler:
    setattr(handler, ACCESS_KEY, "public")
    return handler


def any_session(handler: Handler) -> Handler:
    setattr(handler, ACCESS_KEY, "any")
    return handler


def setup_only(handler: Handler) -> Handler:
    setattr(handler, ACCESS_KEY, "setup")
    return handler


def secure_request(request: web.Request) -> bool:
    """Served over TLS, directly or behind a proxy that says so."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
               max_age: timedelta | None = None) -> None:
    response.set_cookie(name, value, path="/console", httponly=True, samesite="Strict",
                        secure=secure_request(request),
                        max_age=int(max_age.total_seconds()) if max_age else None)


def session(request: web.Request) -> ConsoleSession:
    return request["console_session"]  # type: ignore[no-any-return]


def pool(request: web.Request) -> Any:
    return request.config_dict["pool"]


def render(request: web.Request, template: str, status: int = 200,
           **context: Any) -> web.Response:
    env: jinja2.Environment = request.config_dict["console_jinja"]
    s = request.get("console_session")
    body = env.get_template(template).render(
        session=s, csrf=s.csrf if s else request.get("console_pre_csrf", ""),
        path=request.path, **context)
    return web.Response(text=body, status=status, content_type="text/html")


def form_uuid(value: object, what: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise AdminError(404, "not_found", f"{what} {str(value)[:60]} not found") from None


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def _pre_csrf(request: web.Request) -> tuple[str, bool]:
    """The pre-session cookie value (a new one when absent) and whether it is new."""
    value = request.cookies.get(PRE_COOKIE, "")
    if 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(24), True


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as exc:
        response = exc
    except AdminError as exc:
        response = render(request, "error.html", status=exc.status, error=exc)
    except DATABASE_DOWN:
        response = render(request, "error.html", status=503, error=AdminError(
            503, "unavailable", "The database is temporarily unavailable; try again shortly."))
    except Exception:
        log.exception("console error on %s %s", request.method, request.path)
        response = render(request, "error.html", status=500, error=AdminError(
            500, "internal", "Something went wrong on our side; it was logged."))
    response.headers.update(SECURITY_HEADERS)
    if request.get("console_pre_new"):
        set_cookie(request, response, PRE_COOKIE, request["console_pre"])
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    route_handler = request.match_info.handler
    access = getattr(route_handler, ACCESS_KEY, "operator")
    found = await sessions.find_session(pool(request), request.cookies.get(sessions.COOKIE))
    if found is not None:
        request["console_session"] = found
    pre, new = _pre_csrf(request)
    request["console_pre"], request["console_pre_new"] = pre, new
    request["console_pre_csrf"] = sessions.csrf_token(pre)
    if request.method == "POST":
        form = await request.post()
        presented = form.get("csrf")
        expected = found if found is not None and access != "public" else \
            ConsoleSession(pre, None, None)
        if new or not sessions.csrf_ok(expected, presented):
            raise AdminError(403, "csrf", "This form has expired or did not come from the"
                                          " console. Reload the page and try again.")
    if access == "public":
        return await handler(request)
    if found is None or (access == "operator" and not found.operator) \
            or (access == "setup" and found.operator):
        if found is None and request.method == "GET" and access == "operator":
            raise redirect(f"{request.app.router['sign_in'].url_for()}")
        raise AdminError(403, "forbidden", "Sign in to the console to see this page.")
    return await handler(request)
