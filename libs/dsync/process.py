"""One OS process of dsync: stop on SIGTERM/SIGINT, stop-aware waits, uvloop, and a
small HTTP server exposing `/metrics` (Prometheus text, app-scoped registry), `/livez`,
`/readyz` and `/healthz` (see `dsync.health`)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from dsync.health import Lifecycle, ReadyCheck, add_probe_routes, checks_response


def stop_event_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT (graceful shutdown)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`, waking early on `stop`; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def wait_either(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Wait until `stop` or `wake` is set, or `seconds` pass (a NOTIFY-woken poll loop)."""
    waiters = {asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


Handler = Callable[[web.Request], Awaitable[web.Response]]


def metrics_handler(registry: CollectorRegistry) -> Handler:
    async def handle(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
    return handle


async def start_ops_server(host: str, port: int, registry: CollectorRegistry,
                           ready: ReadyCheck,
                           details: Callable[[], dict[str, object]] | None = None,
                           ) -> tuple[web.AppRunner, Lifecycle]:
    """Serve /metrics, /livez, /readyz and /healthz (the same answer as /readyz, with
    `details()` beside it, e.g. the partitions this instance holds). Returns the runner to
    clean up and the Lifecycle whose `draining` flag turns readiness off."""
    app = web.Application()
    lifecycle = add_probe_routes(app, ready)

    async def healthz(_: web.Request) -> web.Response:
        checks = {"lifecycle": "draining"} if lifecycle.draining else await ready()
        return checks_response(checks, **(details() if details else {}))

    app.router.add_get("/metrics", metrics_handler(registry))
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, lifecycle


def run_service(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a service's `main()` on uvloop (measurably cheaper per socket operation than
    the default loop; see docs/pipeline.md).

    A warm spare (`DSYNC_SPARE=1`, started by the supervisor) has done its imports by now
    and waits for a line on stdin before it starts; it exits quietly when stdin closes."""
    import uvloop

    if os.environ.get("DSYNC_SPARE") == "1" and not sys.stdin.readline():
        return
    uvloop.run(main())
