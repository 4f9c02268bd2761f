"""Console in a real browser: a tenant's activity. A SCIM write whose webhook delivery
fails (the receiver answers 500) shows up as a failed operation; Retry on its page runs it
again and it is applied. A rejected SCIM write shows its reason and its stored request
with the password hidden."""
from __future__ import annotations

import re

from playwright.async_api import Page, expect

from dsync_testkit.console_browser import Receiver, reload_until, shot, sign_in
from dsync_testkit.stack import SCIM_USER, RunningStack


async def test_failed_operation_is_retried_from_its_page(page: Page, stack: RunningStack,
                                                         receiver: Receiver) -> None:
    tenant = await stack.new_tenant("Activity Co")
    url, endpoint = receiver.endpoint(status=500)
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                     {"url": url, "secret": "whsec_browser"})
    assert status == 201, body
    await stack.create_user(tenant, "grace@example.com", password="hunter2-secret")  # noqa: S106
    status, _, _ = await stack.scim(tenant, "POST", "/Users",
                                    {"schemas": [SCIM_USER], "userName": "grace@example.com",
                                     "password": "hunter2-secret"})
    assert status == 409
    await sign_in(page, stack)
    await page.goto(f"{stack.base_url}/console/tenants/{tenant.id}/activity")
    await page.get_by_label("Status").select_option("failed")
    await page.get_by_role("button", name="Filter", exact=True).click()
    await expect(page).to_have_url(re.compile(r"status=failed"))
    failed = page.locator("tbody tr").filter(has_text="webhook_delivery")
    await reload_until(page, lambda: _positive(failed))
    await shot(page, "activity")
    await failed.first.get_by_role("link").click()
    await expect(page.locator("#op-status")).to_have_text("failed")
    await expect(page.locator("#op-reason")).to_have_text("http_status")
    endpoint.status = 200
    await page.get_by_role("button", name="Retry").click()
    await expect(page.get_by_role("status")).to_contain_text("Retry queued")
    await shot(page, "operation")

    async def applied() -> bool:
        return (await page.locator("#op-status").text_content()) == "applied"

    await reload_until(page, applied)
    assert any(s == 200 for s, _ in endpoint.hits)
    # the rejected duplicate: reason and stored request, password hidden
    await page.goto(f"{stack.base_url}/console/tenants/{tenant.id}/activity?status=rejected")
    await page.locator("tbody tr").filter(has_text="uniqueness").first.get_by_role(
        "link").click()
    await expect(page.locator("#op-reason")).to_have_text("uniqueness")
    await expect(page.locator("pre")).to_contain_text("grace@example.com")
    assert "hunter2" not in await page.content()


async def _positive(locator: object) -> bool:
    return await locator.count() > 0  # type: ignore[attr-defined, no-any-return]
