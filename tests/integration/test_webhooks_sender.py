"""One webhook attempt against real local HTTP servers: bounded, capped, never redirected,
and refused before connecting when the target is not allowed."""
from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from dsync_services.fanout.sender import Sender
from dsync_services.fanout.settings import WebhookSettings


def settings(**overrides: Any) -> WebhookSettings:
    base = {"webhook_allow_loopback": True, "webhook_timeout_s": 0.5,
            "webhook_max_response_bytes": 1024}
    return WebhookSettings(**{**base, **overrides})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="fine")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=500)
        await resp.prepare(request)
        for _ in range(1000):  # 1 MB unless the client stops reading
            await resp.write(b"x" * 1024)
        return resp

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    for path, handler in (("/ok", ok), ("/redirect", redirect), ("/huge", huge),
                          ("/slow", slow)):
        app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_outcomes(server: str) -> None:
    async with Sender(settings()) as sender:
        ok = await sender.send(f"http://{server}/ok", b"{}", {})
        assert (ok.outcome, ok.status_code, ok.error) == ("ok", 200, None)
        moved = await sender.send(f"http://{server}/redirect", b"{}", {})
        assert moved.outcome == "http_status" and moved.status_code == 302
        assert "not followed" in (moved.error or "")
        big = await sender.send(f"http://{server}/huge", b"{}", {})
        assert big.outcome == "http_status" and big.status_code == 500
        assert len(big.error or "") < 300
        slow = await sender.send(f"http://{server}/slow", b"{}", {})
        assert slow.outcome == "timeout" and slow.latency_ms < 1500
        host = server.split(":")[0]
        refused = await sender.send(f"http://{host}:1/nothing-listens", b"{}", {})
        assert refused.outcome == "connection_error"


async def test_loopback_refused_unless_allowed(server: str) -> None:
    port = server.split(":")[1]
    async with Sender(settings(webhook_allow_loopback=False)) as sender:
        for url in (f"http://{server}/ok", f"http://localhost:{port}/ok",
                    f"http://[::1]:{port}/ok"):
            result = await sender.send(url, b"{}", {})
            assert result.outcome == "ssrf_refused", (url, result)


async def test_names_resolving_to_refused_addresses_are_not_connected_to() -> None:
    """DNS rebinding: a name that now resolves to a private address is refused."""
    async with Sender(settings(webhook_allow_loopback=False)) as sender:
        resolver = sender._session.connector._resolver  # type: ignore[union-attr]  # noqa: SLF001

        async def rebinding(host: str, port: int = 0, family: int = 0) -> list[dict[str, Any]]:
            return [{"hostname": host, "host": str(ipaddress.ip_address("10.1.2.3")),
                     "port": port, "family": 2, "proto": 0, "flags": 0}]

        resolver._inner.resolve = rebinding  # noqa: SLF001
        result = await sender.send("http://hooks.example.test/x", b"{}", {})
        assert result.outcome == "ssrf_refused" and "10.1.2.3" in (result.error or "")
