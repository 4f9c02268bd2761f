"""Admin API plumbing: admin bearer check and JSON errors `{"error", "detail"}`."""
from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aiohttp import web

from dsync.scim.errors import InvalidValue
from dsync.scim.text_check import check_json
from dsync.tokens import bearer, token_matches


class AdminError(Exception):
    """An admin API error: HTTP status, a stable error code, and words for the operator."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def admin_error_response(exc: AdminError) -> web.Response:
    return web.json_response({"error": exc.error, "detail": exc.detail}, status=exc.status)


def require_admin(request: web.Request) -> None:
    token = bearer(request.headers.get("Authorization"))
    expected = request.app["settings"].http.admin_token
    if not token or not expected or not token_matches(token, expected):
        raise AdminError(401, "unauthorized", "A valid admin bearer token is required")


def path_uuid(request: web.Request, name: str, what: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise AdminError(404, "not_found", f"{what} {request.match_info[name]} not found") from None


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise AdminError(400, "invalid_json", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AdminError(400, "invalid_json", "The request body must be a JSON object")
    try:
        check_json(body)
    except InvalidValue as exc:
        raise AdminError(400, "invalid_value", exc.detail) from None
    return body


def iso(ts: Any) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None
