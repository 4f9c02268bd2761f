"""Console in a real browser: a tenant's directory. Map a group to a role in the editor and
see a member's effective roles change on the user's page; revoke the user's sessions."""
from __future__ import annotations

from playwright.async_api import Page, expect

from dsync_testkit.console_browser import shot, sign_in
from dsync_testkit.stack import SCIM_GROUP, RunningStack


async def test_map_a_group_to_a_role_and_see_the_users_roles_change(
        page: Page, stack: RunningStack) -> None:
    tenant = await stack.new_tenant("Directory Co")
    ada = await stack.create_user(tenant, "ada@example.com", displayName="Ada Lovelace")
    await stack.create_user(tenant, "bob@example.com")
    status, group, _ = await stack.scim(tenant, "POST", "/Groups", {
        "schemas": [SCIM_GROUP], "displayName": "Billing", "members": [{"value": ada["id"]}]})
    assert status == 201, group
    status, session = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                        {"user_id": ada["id"]})
    assert status == 201, session
    await sign_in(page, stack)
    base = f"{stack.base_url}/console/tenants/{tenant.id}"
    await page.goto(f"{base}/users")
    await page.get_by_label("Search users").fill("ada")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name="ada@example.com")).to_be_visible()
    await expect(page.get_by_role("link", name="bob@example.com")).to_have_count(0)
    await shot(page, "users")
    await page.get_by_role("link", name="ada@example.com").click()
    await expect(page.locator("#user-roles")).to_have_text("none")
    await page.get_by_role("link", name="Billing").click()
    await expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    await page.get_by_label("Roles members of this group hold").fill("billing-admin, viewer")
    await page.get_by_role("button", name="Save roles").click()
    await expect(page.get_by_role("status")).to_contain_text("Roles saved")
    await expect(page.locator("#group-roles")).to_contain_text("billing-admin")
    await shot(page, "group")
    await page.get_by_role("link", name="Ada Lovelace").click()
    await expect(page.locator("#user-roles")).to_have_text("billing-admin viewer")
    _, access = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/users/{ada['id']}"
                                         "/access")
    assert access["roles"] == ["billing-admin", "viewer"]
    # revoke sessions: introspection says inactive from then on
    await expect(page.get_by_text("live")).to_have_count(1)
    await page.get_by_role("button", name="Revoke all sessions").click()
    await expect(page.get_by_role("status")).to_have_text("Revoked 1 live session.")
    await shot(page, "user")
    _, answer = await stack.admin("POST", "/auth/v1/introspect", {"token": session["token"]})
    assert answer == {"active": False}
    # the user's own activity: its creation
    await page.get_by_role("link", name="Activity of this user").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_contain_text("POST")
    # removing the mapping takes the roles away
    await page.goto(f"{base}/groups/{group['id']}")
    await page.get_by_label("Roles members of this group hold").fill("")
    await page.get_by_role("button", name="Save roles").click()
    await expect(page.locator("#group-roles")).to_have_text("none")
    _, access = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/users/{ada['id']}"
                                         "/access")
    assert access["roles"] == []
