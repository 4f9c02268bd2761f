"""The gateway's handle on its SCIM limits (`dsync.scim.limits.ScimLimits`, documented in
docs/limits.md): read from the environment once per application, so what
`/ServiceProviderConfig` advertises is what the handlers enforce.
"""
from __future__ import annotations

from aiohttp import web

from dsync.scim.limits import ScimLimits

__all__ = ["LIMITS_KEY", "ScimLimits", "limits"]

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
