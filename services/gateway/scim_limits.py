"""Limits the gateway enforces on SCIM requests and advertises in `/ServiceProviderConfig`
(RFC 7644 §3.7.4, RFC 7643 §5): one settings class, so what we advertise is what we enforce.
"""
from __future__ import annotations

from aiohttp import web
from pydantic import Field

from dsync.settings import _Frozen


class ScimLimits(_Frozen):
    """`DSYNC_BULK_MAX_OPERATIONS`, `DSYNC_BULK_MAX_PAYLOAD_BYTES`: a `POST /Bulk` with more
    operations or a larger body is refused with 413 before any operation runs."""

    bulk_max_operations: int = Field(1000, ge=1, le=100_000)
    bulk_max_payload_bytes: int = Field(1_048_576, ge=1024, le=64 * 1024 * 1024)


LIMITS_KEY = web.AppKey("scim_limits", ScimLimits)


def limits(app: web.Application) -> ScimLimits:
    """The application's limits, read from the environment (and validated) on first use.

    `add_routes` of the modules that need them calls this at wiring time, so a bad value
    stops the gateway at start, not on the first request."""
    found = app.get(LIMITS_KEY)
    if found is None:
        found = ScimLimits()
        app[LIMITS_KEY] = found
    return found
