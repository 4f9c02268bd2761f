"""Browser tests: Debian's headless Chromium driven by Playwright (async API) against the
whole stack started as processes. Never `playwright install`: the system browser is used,
and a missing browser fails the run (`make test` installs it first)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from dsync_testkit.console_browser import CHROMIUM, Receiver
from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import RunningStack, start_stack


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser binary; a missing one fails the run loudly (never a skip)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test` (it installs the"
                    " Debian package `chromium`) or set DSYNC_CHROMIUM", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, headless=True)
        yield b
        await b.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(20_000)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture(scope="session")
async def stack(servers: Servers) -> AsyncIterator[RunningStack]:
    """One stack for every browser test (they use their own tenants). Webhook retries wait
    a long time, so a failed delivery stays `failed` until the page's Retry button."""
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_WEBHOOK_BACKOFF_BASE_S="600",
                                DSYNC_WEBHOOK_BACKOFF_CAP_S="600",
                                DSYNC_WEBHOOK_TIMEOUT_S="5")
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()
