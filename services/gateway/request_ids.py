"""Request ids: every gateway request gets one, every log line written while it is
served carries it, and the answer returns it in `X-Request-Id`.

An incoming `X-Request-Id` (from a proxy or the client) is kept when it is sane: 1–128
characters of letters, digits and `-_.:/+=@`; anything else is replaced by a fresh id, so
a header cannot inject text into the logs. A SCIM write recorded in the ledger also answers
`Dsync-Operation-Id` (the operation id, for `GET .../operations/{id}`), whatever its status.
"""
from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web

from dsync.logs import REQUEST_ID
from dsync_services.gateway.scim_http import Handler

HEADER = "X-Request-Id"
OPERATION_HEADER = "Dsync-Operation-Id"
_SANE = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
log = logging.getLogger(__name__)


def accept_or_new(incoming: str | None) -> str:
    """The incoming id when it is sane, else a new random one (32 hex digits)."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def set_operation_id(request: web.Request, op_id: uuid.UUID) -> None:
    """Answer `Dsync-Operation-Id: op_id` (called where a write gets its ledger id)."""
    request["operation_id"] = op_id


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: bind the request id for logs, log the request at DEBUG."""
    request_id = accept_or_new(request.headers.get(HEADER))
    request["request_id"] = request_id
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        status = exc.status
        raise
    else:
        status = response.status
    finally:
        resource = request.match_info.route.resource
        log.debug("%s %s -> %d in %.1f ms", request.method,
                  resource.canonical if resource else "unmatched", status,
                  (time.perf_counter() - started) * 1000)
        REQUEST_ID.reset(token)
    return response


async def add_id_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the ids go on every answer, errors included."""
    request_id = request.get("request_id")
    if request_id is not None:
        response.headers[HEADER] = request_id
    op_id = request.get("operation_id")
    if op_id is not None:
        response.headers[OPERATION_HEADER] = str(op_id)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_id_headers)
