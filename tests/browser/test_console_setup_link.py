"""Console in a real browser: the IT admin's setup-link flow and the console's security.

The operator creates a one-time link; the IT admin opens it in another browser, picks the
IdP, copies the SCIM URL, generates a token, and the connection check turns green after a
SCIM call with that token. A setup session cannot read another tenant or the operator
pages; a used, expired or revoked link is refused; a POST without the CSRF token is refused.
"""
from __future__ import annotations

import re

import asyncpg
from playwright.async_api import Browser, Page, expect

from dsync_testkit.console_browser import reload_until, shot, sign_in
from dsync_testkit.stack import SCIM_USER, RunningStack


async def _new_link(page: Page, stack: RunningStack, tenant_id: str) -> str:
    await page.goto(f"{stack.base_url}/console/tenants/{tenant_id}")
    await page.get_by_role("button", name="Create a setup link").click()
    link = (await page.locator("#new-link").text_content() or "").strip()
    assert link.startswith(f"{stack.base_url}/console/setup/open/dsl_")
    return link


async def test_setup_link_flow_turns_the_connection_check_green(
        page: Page, browser: Browser, stack: RunningStack) -> None:
    tenant = await stack.new_tenant("Customer Inc")
    other = await stack.new_tenant("Someone Else")
    await stack.create_user(other, "secret-person@else.example")
    await sign_in(page, stack)
    link = await _new_link(page, stack, tenant.id)
    await expect(page.locator("#setup-links")).to_contain_text("open")

    it_admin = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    try:
        admin_page = await it_admin.new_page()
        await admin_page.goto(link)
        await admin_page.get_by_role("button", name="Start setup").click()
        await expect(admin_page).to_have_url(re.compile(r".*/console/setup$"))
        await expect(admin_page.locator("#connection")).to_contain_text("waiting")
        await admin_page.get_by_label("Identity provider", exact=True).select_option("okta")
        await admin_page.get_by_role("button", name="Show the steps").click()
        await expect(admin_page.get_by_role("heading", name="4. Steps in Okta")).to_be_visible()
        await expect(admin_page.locator("ol.steps")).to_contain_text(
            f"SCIM connector base URL: {stack.base_url}/scim/v2")
        await admin_page.get_by_role("button", name="Generate a token").click()
        token = (await admin_page.locator("#new-token").text_content() or "").strip()
        assert token.startswith("dsync_scim_")
        await shot(admin_page, "setup-phone")
        # the IdP's test request, with the new token
        assert (await stack.scim(token, "GET", "/Users?count=1"))[0] == 200
        await admin_page.goto(f"{stack.base_url}/console/setup?idp=okta")

        async def green() -> bool:
            return "connected" in (await admin_page.locator("#connection").inner_text())

        await reload_until(admin_page, green)
        await expect(admin_page.locator("#connection")).to_contain_text("GET")
        # a provisioning error, in plain words
        await stack.create_user(tenant, "dup@customer.example")
        status, _, _ = await stack.scim(token, "POST", "/Users", {
            "schemas": [SCIM_USER], "userName": "dup@customer.example"})
        assert status == 409
        await admin_page.reload()
        await expect(admin_page.locator("#connection")).to_contain_text("connected")
        await expect(admin_page.locator("#connection")).to_contain_text("answered 409")
        await expect(admin_page.get_by_text("already exists here")).to_be_visible()
        await expect(admin_page.get_by_text("Make the IdP's username attribute unique")) \
            .to_be_visible()
        await admin_page.set_viewport_size({"width": 1280, "height": 800})
        await shot(admin_page, "setup")

        # scoped to this tenant: no other tenant, no operator page
        for path in (f"/console/tenants/{other.id}", f"/console/tenants/{other.id}/users",
                     f"/console/tenants/{tenant.id}", "/console/", "/console/health"):
            response = await admin_page.goto(f"{stack.base_url}{path}")
            assert response is not None and response.status == 403, path
            assert "secret-person" not in await admin_page.content()
        assert "Someone Else" not in await admin_page.content()

        # one-time: the link does not open again (not even in the same browser)
        response = await admin_page.goto(link)
        assert response is not None and response.status == 410
        await expect(admin_page.get_by_role("alert")).to_contain_text("already used")

        # the operator revokes the used link: the IT admin's setup page closes with it
        await page.goto(f"{stack.base_url}/console/tenants/{tenant.id}")
        await page.locator("#setup-links").get_by_role("button", name="Revoke").first.click()
        await expect(page.locator("#setup-links")).to_contain_text("revoked")
        response = await admin_page.goto(f"{stack.base_url}/console/setup")
        assert response is not None and response.status == 403
    finally:
        await it_admin.close()


async def test_expired_and_revoked_links_are_refused(page: Page, browser: Browser,
                                                    stack: RunningStack) -> None:
    tenant = await stack.new_tenant("Link Co")
    await sign_in(page, stack)
    expired = await _new_link(page, stack, tenant.id)
    revoked = await _new_link(page, stack, tenant.id)
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE setup_links SET expires_at = now() - interval '1 second'"
                           " WHERE tenant_id = $1 AND created_at = (SELECT min(created_at)"
                           " FROM setup_links WHERE tenant_id = $1)", tenant.id)
    finally:
        await conn.close()
    await page.goto(f"{stack.base_url}/console/tenants/{tenant.id}")
    await page.locator("#setup-links").get_by_role("button", name="Revoke").first.click()
    stranger = await browser.new_context()
    try:
        p = await stranger.new_page()
        for link, word in ((expired, "expired"), (revoked, "revoked")):
            response = await p.goto(link)
            assert response is not None and response.status == 410
            await expect(p.get_by_role("alert")).to_contain_text(word)
            # and its button cannot be forced either
            token = link.rsplit("/", 1)[1]
            answer = await p.request.post(f"{stack.base_url}/console/setup/open/{token}",
                                          form={"csrf": "x"})
            assert answer.status in (403, 410)
        response = await p.goto(f"{stack.base_url}/console/setup")
        assert response is not None and response.status == 403
    finally:
        await stranger.close()


async def test_a_post_without_csrf_is_refused_in_the_browser(page: Page,
                                                            stack: RunningStack) -> None:
    await sign_in(page, stack)
    answer = await page.request.post(f"{stack.base_url}/console/tenants",
                                     form={"name": "no-csrf-tenant"})
    assert answer.status == 403
    _, body = await stack.admin("GET", "/admin/v1/tenants")
    assert "no-csrf-tenant" not in [t["name"] for t in body["tenants"]]
