"""Helpers for the console's browser tests (tests/browser/): where screenshots go, signing in.

Screenshots of the main pages go to `$DSYNC_TEST_OUTPUT/console/` (default
`.dsync/test-output/console/`)."""
from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from playwright.async_api import Page

from dsync_testkit.stack import RunningStack

CHROMIUM = os.environ.get("DSYNC_CHROMIUM", "/usr/lib/chromium/chromium")
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("DSYNC_TEST_OUTPUT", ROOT / ".dsync" / "test-output")) / "console"


async def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot of the current page under the run's output dir."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, stack: RunningStack) -> None:
    await page.goto(f"{stack.base_url}/console/")
    await page.get_by_label("Admin token").fill(stack.admin_token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/console/$"))


async def reload_until(page: Page, ready: Callable[[], Awaitable[bool]],
                       within_s: float = 60.0) -> None:
    """Reload the page until `ready()` (a check of the page) is true; generous timeout."""
    deadline = time.monotonic() + within_s
    while not await ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{page.url} did not reach the expected state in {within_s}s")
        await asyncio.sleep(0.3)
        await page.reload()


@dataclass
class Endpoint:
    """One receiver path: answers `status` (changeable), records what it got."""

    status: int = 200
    hits: list[tuple[int, bytes]] = field(default_factory=list)


class Receiver:
    """A webhook receiver on 127.0.0.1 (a real local HTTP server)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def endpoint(self, status: int = 200) -> tuple[str, Endpoint]:
        name = uuid.uuid4().hex[:10]
        self.endpoints[name] = Endpoint(status)
        return f"{self.base_url}/hooks/{name}", self.endpoints[name]

    async def _handle(self, request: web.Request) -> web.Response:
        ep = self.endpoints[request.match_info["name"]]
        ep.hits.append((ep.status, await request.read()))
        return web.Response(status=ep.status)
