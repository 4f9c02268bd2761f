"""Console in a real browser: sign in, create a tenant and a token, revoke it, disable and
enable the tenant."""
from __future__ import annotations

import re

from playwright.async_api import Page, expect

from dsync_testkit.console_browser import shot, sign_in
from dsync_testkit.stack import RunningStack


async def test_sign_in_create_tenant_and_token_then_revoke(page: Page,
                                                          stack: RunningStack) -> None:
    await page.goto(f"{stack.base_url}/console/")
    await expect(page).to_have_url(re.compile(r".*/console/sign-in$"))
    await shot(page, "sign-in")
    await sign_in(page, stack)
    await page.get_by_label("New tenant name").fill("Acme Browser")
    await page.get_by_role("button", name="Create tenant").click()
    await expect(page.get_by_role("heading", name="Acme Browser")).to_be_visible()
    first = (await page.locator("#new-token").text_content() or "").strip()
    assert first.startswith("dsync_scim_")
    await expect(page.locator("#scim-url")).to_have_text(f"{stack.base_url}/scim/v2")
    # the token works against SCIM
    status, _, _ = await stack.scim(first, "GET", "/Users")
    assert status == 200
    await page.get_by_role("button", name="Create a token").click()
    second = (await page.locator("#new-token").text_content() or "").strip()
    assert second.startswith("dsync_scim_") and second != first
    await shot(page, "tenant")
    # a reload never shows a token again
    await page.goto(page.url)
    await expect(page.locator("#new-token")).to_have_count(0)
    # revoke the first token (the oldest row is last)
    await page.get_by_role("button", name=re.compile("^Revoke token")).last.click()
    await expect(page.get_by_text("revoked")).to_have_count(1)
    assert (await stack.scim(first, "GET", "/Users"))[0] == 401
    assert (await stack.scim(second, "GET", "/Users"))[0] == 200
    # disable: the IdP gets 403, the data stays; enable: back to work
    await page.get_by_role("button", name="Disable tenant").click()
    await expect(page.locator("#tenant-status")).to_have_text("disabled")
    assert (await stack.scim(second, "GET", "/Users"))[0] == 403
    await page.get_by_role("button", name="Enable tenant").click()
    await expect(page.locator("#tenant-status")).to_have_text("active")
    assert (await stack.scim(second, "GET", "/Users"))[0] == 200
    # the tenant list finds it by search
    await page.get_by_role("link", name="Tenants").click()
    await page.get_by_label("Search by name or id").fill("acme brow")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name="Acme Browser")).to_be_visible()
    await shot(page, "tenants")
