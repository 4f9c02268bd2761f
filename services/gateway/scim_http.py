"""SCIM over HTTP: JSON bodies in and out, and the one place errors become responses.

Handlers raise; `scim_errors_middleware` maps every error type to its answer through the
table in `dsync.scim.errors` (plus the two pipeline errors below). No handler catches.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from dsync.db.pool import PoolExhausted
from dsync.scim.errors import ERROR_SCHEMA, InvalidSyntax, InvalidValue, ScimError, TooLarge
from dsync.scim.limits import check_patch, check_strings
from dsync.scim.text_check import check_json, check_pairs
from dsync_services.gateway.command_bus import BrokerUnavailable, OutcomeTimeout
from dsync_services.gateway.scim_limits import limits

log = logging.getLogger(__name__)
SCIM_MEDIA_TYPE = "application/scim+json"
DATABASE_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                 asyncpg.CannotConnectNowError, asyncpg.InsufficientResourcesError,
                 asyncpg.OperatorInterventionError, asyncpg.PostgresSystemError,
                 asyncpg.InternalClientError)
"""Errors that mean the database is unreachable right now (transient): answered 503."""
BAD_DATA = (asyncpg.DataError, asyncpg.exceptions._base.DataError)  # noqa: SLF001
"""PostgreSQL refused a value (out of range, bad encoding) or asyncpg could not encode one:
the request's fault, answered 400; checked before DATABASE_DOWN (the client-side DataError
is an InterfaceError)."""
UNAVAILABLE = (*DATABASE_DOWN, PoolExhausted)
"""DATABASE_DOWN or overloaded (no free connection, statement timeout): answered 503."""
EXTRA_COST = "dsync_extra_cost"
"""Request key: rate-limit tokens the request costs beyond its first (see throttle)."""
RESOURCES_PER_TOKEN = 25
"""A list or search answer costs one more token per this many resources returned."""
FILTERED = "dsync_filtered_query"
"""Request key set by a list query that carries a client `filter` (see `overloaded`)."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def scim_response(status: int, body: Any = None, headers: dict[str, str] | None = None
                  ) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type=SCIM_MEDIA_TYPE, headers=headers)


def error_response(status: int, detail: str, scim_type: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return scim_response(status, body, headers)


def not_modified(request: web.Request, etag: str) -> bool:
    """Whether `If-None-Match` names the current version (or is `*`): answer 304 (RFC 7644
    §3.14, RFC 9110 §13.1.2; weak comparison, so `W/"3"` matches `"3"`)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or wanted in tags


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (`application/scim+json` or `application/json`)."""
    max_bytes = request.app["settings"].extra.max_body_bytes
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge(f"The request body exceeds {max_bytes} bytes")
    raw = await request.read()
    if len(raw) > max_bytes:
        raise TooLarge(f"The request body exceeds {max_bytes} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also: depth > 1024, lone surrogates, NaN
        if "surrogate" in str(exc) or "infinity" in str(exc):
            raise InvalidValue(f"The request body holds a value that cannot be stored: {exc}"
                               ) from None
        raise InvalidSyntax(f"The request body is not valid JSON: {exc}") from None
    check_json(body)
    scim_limits = limits(request.app)
    check_strings(body, scim_limits)
    if request.method == "PATCH":
        check_patch(body, scim_limits)
    return body


@web.middleware
async def scim_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.path.startswith("/scim/"):
            check_pairs(request.query.items(), "the query string")
        return await handler(request)
    except ScimError as exc:
        return scim_response(exc.status, exc.body())
    except BAD_DATA as exc:
        # A value the database refuses is bad input that got past validation: a 400 (and
        # a log line to close the gap), never "database down" with the pool expired.
        log.warning("database refused a value on %s %s: %s", request.method, request.path,
                    type(exc).__name__)
        if not request.path.startswith("/scim/"):
            raise
        return error_response(400, "A value in the request cannot be stored", "invalidValue")
    except OutcomeTimeout as exc:
        retry = str(request.app["settings"].http.retry_after_s)
        return error_response(
            503, f"The change was accepted as operation {exc.op_id} but its outcome is not "
            "known yet; it will be applied. Retry the request or look the operation up.",
            headers={"Retry-After": retry, "Dsync-Operation-Id": str(exc.op_id)})
    except BrokerUnavailable as exc:
        retry = str(request.app["settings"].http.retry_after_s)
        return error_response(
            503, f"The change could not be queued (operation {exc.op_id}); nothing was "
            "applied. Retry later.",
            headers={"Retry-After": retry, "Dsync-Operation-Id": str(exc.op_id)})
    except (PoolExhausted, asyncpg.QueryCanceledError) as exc:
        if not request.path.startswith("/scim/"):
            raise  # admin errors are rendered by the admin middleware
        return overloaded(request, exc)
    except DATABASE_DOWN as exc:
        # The database is unreachable: transient, never the client's fault, never a 500.
        log.warning("database unavailable: %s", type(exc).__name__)
        # Connections that saw the server go away can be left mid-protocol: drop them all.
        await request.app["pool"].expire_connections()
        retry = str(request.app["settings"].http.retry_after_s)
        return error_response(503, "The directory database is temporarily unavailable. "
                              "Retry later: a retried write is applied at most once.",
                              headers={"Retry-After": retry})
    except web.HTTPException as exc:
        if request.path.startswith("/scim/") and exc.status >= 400:
            return error_response(exc.status, exc.reason or "error",
                                  headers={"Allow": exc.headers["Allow"]}
                                  if "Allow" in exc.headers else None)
        raise
    except Exception:  # a bug of ours: still a SCIM body, logged with its traceback
        if not request.path.startswith("/scim/"):
            raise  # admin errors are rendered by the admin middleware
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "Internal error; the request can be retried",
                              headers={"Retry-After": str(
                                  request.app["settings"].http.retry_after_s)})


def overloaded(request: web.Request, exc: Exception) -> web.Response:
    """No free database connection in time, or a statement ran past the statement timeout.

    A timed-out list query with a client filter is the filter's cost: 400 `tooMany`
    (RFC 7644 §3.12: "more results than the server is willing to calculate"), not retried
    by IdPs. Anything else is load: 503 + `Retry-After`."""
    settings = request.app["settings"]
    if isinstance(exc, asyncpg.QueryCanceledError) and request.get(FILTERED):
        return error_response(
            400, "The filter is too expensive: the query ran longer than "
            f"{settings.extra.db_statement_timeout_ms} ms. Narrow the filter "
            "(e.g. an 'eq' on userName, externalId or id) or lower 'count'.", "tooMany")
    log.warning("database overloaded: %s", type(exc).__name__)
    return error_response(503, "The directory is busy; retry later (a retried write is "
                          "applied at most once).",
                          headers={"Retry-After": str(settings.http.retry_after_s)})
