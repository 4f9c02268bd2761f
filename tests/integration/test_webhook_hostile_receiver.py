"""A webhook receiver whose error body holds NUL and other unstorable bytes: the attempt is
recorded with the text sanitised, the delivery backs off and goes `dead` after the
configured attempts (it once failed to record and was retried at once, forever)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import RunningStack, start_stack

MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
async def stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(
        servers.bootstrap, await fresh_database(servers),
        DSYNC_WEBHOOK_BACKOFF_BASE_S="0.05", DSYNC_WEBHOOK_BACKOFF_CAP_S="0.2",
        DSYNC_WEBHOOK_MAX_ATTEMPTS=str(MAX_ATTEMPTS), DSYNC_WEBHOOK_TIMEOUT_S="1",
        DSYNC_WEBHOOK_POLL_INTERVAL_S="0.2")
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[float]]]:
    hits: list[float] = []

    async def hostile(request: web.Request) -> web.Response:
        await request.read()
        hits.append(time.monotonic())
        return web.Response(status=500, body=b"bad\x00thing \xff\xfe \x1b[31m",
                            content_type="text/plain")

    app = web.Application()
    app.router.add_post("/hook", hostile)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    yield f"http://127.0.0.1:{port}/hook", hits
    await runner.cleanup()


async def test_nul_in_error_body_is_sanitised_and_the_delivery_goes_dead(
        stack: RunningStack, receiver: tuple[str, list[float]]) -> None:
    url, hits = receiver
    tenant = await stack.new_tenant()
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                     {"url": url, "secret": "whsec_hostile"})
    assert status == 201, body
    wid = body["id"]
    await stack.create_user(tenant, "hostile-receiver@example.com")
    deadline = time.monotonic() + 60
    listed: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, body = await stack.admin(
            "GET", f"/admin/v1/tenants/{tenant.id}/webhooks/{wid}/deliveries")
        assert status == 200, body
        listed = body["deliveries"]
        if listed and listed[0]["status"] == "dead":
            break
        await asyncio.sleep(0.2)
    assert listed and listed[0]["status"] == "dead", listed
    assert listed[0]["attempts"] == MAX_ATTEMPTS
    error = listed[0]["last_error"]
    assert error.startswith("HTTP 500: bad?thing") and "\x00" not in error and "\x1b" not in error
    await asyncio.sleep(1)  # a delivery that is dead is not tried again
    assert len(hits) == MAX_ATTEMPTS
