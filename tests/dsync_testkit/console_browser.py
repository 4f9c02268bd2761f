"""Helpers for the console's browser tests (tests/browser/): where screenshots go, signing in.

Screenshots of the main pages go to `$DSYNC_TEST_OUTPUT/console/` (default
`.dsync/test-output/console/`)."""
from __future__ import annotations

import os
import re
from pathlib import Path

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
