"""Console in a real browser: pause and resume a webhook, see the delivery log with its
attempts, redeliver one event; and the pipeline health page."""
from __future__ import annotations

from playwright.async_api import Page, expect

from dsync_testkit.console_browser import Receiver, reload_until, shot, sign_in
from dsync_testkit.stack import RunningStack


async def test_pause_and_resume_a_webhook_and_redeliver(page: Page, stack: RunningStack,
                                                       receiver: Receiver) -> None:
    tenant = await stack.new_tenant("Webhook Co")
    url, endpoint = receiver.endpoint(status=200)
    status, hook = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                     {"url": url, "secret": "whsec_browser"})
    assert status == 201, hook
    await sign_in(page, stack)
    await page.goto(f"{stack.base_url}/console/tenants/{tenant.id}/webhooks")
    state = page.locator(f'[data-webhook-state="{hook["id"]}"]')
    await expect(state).to_have_text("active")
    await page.get_by_role("button", name="Pause").click()
    await expect(state).to_have_text("paused")
    await expect(page.get_by_role("status")).to_contain_text("Paused")
    # while paused, a change waits in the queue
    await stack.create_user(tenant, "paused@example.com")
    _, body = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/webhooks/{hook['id']}")
    assert body["status"] == "paused"
    await shot(page, "webhooks")
    await page.get_by_role("button", name="Resume").click()
    await expect(state).to_have_text("active")

    async def delivered() -> bool:
        return len(endpoint.hits) >= 1

    await reload_until(page, delivered)
    await page.get_by_role("link", name=url).click()
    row = page.locator("tbody tr").filter(has_text="user.created")
    await reload_until(page, lambda: _has_text(row, "delivered"))
    await row.get_by_role("button", name="Redeliver").click()
    await expect(page.get_by_role("status")).to_contain_text("1 event queued for redelivery")

    async def twice() -> bool:
        return len(endpoint.hits) >= 2

    await reload_until(page, twice)
    await shot(page, "webhook-deliveries")
    # the pipeline page answers with lag, backlog and the DLQ section
    await page.get_by_role("link", name="Pipeline health").click()
    await expect(page.get_by_role("heading", name="Consumer lag")).to_be_visible()
    await expect(page.get_by_role("cell", name="dsync-fanout")).to_be_visible()
    await expect(page.get_by_role("heading", name="Dead-lettered commands")).to_be_visible()
    await shot(page, "health")


async def _has_text(locator: object, text: str) -> bool:
    return text in (await locator.inner_text() if await locator.count() else "")  # type: ignore[attr-defined]
