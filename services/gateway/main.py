"""The gateway process: serve `create_app` until SIGTERM/SIGINT, then drain.

Drain: /readyz turns 503 at once (load balancers stop routing here), requests are still
served for `DSYNC_SHUTDOWN_DELAY_S`, then the listener closes and in-flight requests get up
to `DSYNC_SHUTDOWN_TIMEOUT_S` to finish before the resources close.
"""
from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web
from pydantic import ValidationError

from dsync.health import LIFECYCLE
from dsync.logs import setup_logging
from dsync.process import stop_event_on_signals
from dsync_services.gateway.app import create_app
from dsync_services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)
MAX_REQUEST_LINE_BYTES = 65_536
"""Longest request line (method + URL) parsed; aiohttp's 8190 would refuse a long
`attributes=` list with a plain-text 400 before the SCIM limits could answer with a SCIM
error. Headers keep aiohttp's 8190-byte cap."""


async def main() -> None:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        sys.exit(f"gateway: refusing to start, invalid settings:\n{exc}")
    setup_logging("gateway", settings.extra.log_level)
    if not settings.http.admin_token:
        log.warning("DSYNC_ADMIN_TOKEN is empty: the admin API refuses every call")
    stop = stop_event_on_signals()
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None,
                           shutdown_timeout=settings.extra.shutdown_timeout_s,
                           max_line_size=MAX_REQUEST_LINE_BYTES)
    await runner.setup()
    await web.TCPSite(runner, settings.http.http_host, settings.http.http_port).start()
    log.info("gateway listening on %s", settings.base_url)
    await stop.wait()
    app[LIFECYCLE].draining = True
    log.info("draining: not ready; closing the listener in %.1fs, then waiting up to %.1fs"
             " for in-flight requests", settings.extra.shutdown_delay_s,
             settings.extra.shutdown_timeout_s)
    await asyncio.sleep(settings.extra.shutdown_delay_s)
    await runner.cleanup()
    log.info("gateway stopped")
