"""Console in a real browser: keyboard-only use and use without JavaScript."""
from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from dsync_testkit.stack import RunningStack


async def test_keyboard_only_sign_in_and_navigation(page: Page, stack: RunningStack) -> None:
    await page.goto(f"{stack.base_url}/console/sign-in")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.get_by_label("Admin token").focus()
    await page.keyboard.type(stack.admin_token)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r".*/console/$"))
    # Tab reaches the main navigation, Enter follows it
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Tenants")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Pipeline health")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Pipeline health")).to_be_visible()


async def test_the_console_works_without_javascript(browser: Browser,
                                                    stack: RunningStack) -> None:
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(f"{stack.base_url}/console/")
        await page.get_by_label("Admin token").fill(stack.admin_token)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_label("New tenant name").fill("No Script Ltd")
        await page.get_by_role("button", name="Create tenant").click()
        await expect(page.locator("#new-token")).to_contain_text("dsync_scim_")
        await page.get_by_role("link", name="Activity").click()
        await page.get_by_label("Status").select_option("rejected")
        await page.get_by_role("button", name="Filter", exact=True).click()
        await expect(page.get_by_text("No operations match.")).to_be_visible()
    finally:
        await context.close()
