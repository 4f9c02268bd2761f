"""`GET /Groups` with members stops a page early once its groups' members reach
`DSYNC_MAX_LIST_MEMBERS`; without members no member is loaded and the page is full."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.seeding import seed_users
from dsync_testkit.stack import SCIM_GROUP, RunningStack, start_stack


@pytest.fixture(scope="module")
async def stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_MAX_LIST_MEMBERS="50")
    try:
        yield running
    finally:
        await running.close()


async def test_member_budget_shortens_pages_and_paging_reaches_every_group(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    users = await seed_users(stack, tenant, 120)
    for i, size in enumerate([30, 30, 120, 0, 10]):
        status, body, _ = await stack.scim(tenant, "POST", "/Groups", {
            "schemas": [SCIM_GROUP], "displayName": f"g{i}",
            "members": [{"value": u} for u in users[:size]]})
        assert status == 201, body
    seen: list[tuple[str, int]] = []
    start = 1
    while True:
        status, body, _ = await stack.scim(
            tenant, "GET", f"/Groups?sortBy=displayName&count=5&startIndex={start}")
        assert status == 200 and body["totalResults"] == 5
        page = [(g["displayName"], len(g.get("members", []))) for g in body["Resources"]]
        assert page, body
        assert sum(n for _, n in page) <= 50 or len(page) == 1
        seen += page
        start += body["itemsPerPage"]
        if start > body["totalResults"]:
            break
    assert seen == [("g0", 30), ("g1", 30), ("g2", 120), ("g3", 0), ("g4", 10)]
    status, body, _ = await stack.scim(
        tenant, "GET", "/Groups?sortBy=displayName&count=5&excludedAttributes=members")
    assert body["itemsPerPage"] == 5 and all("members" not in g for g in body["Resources"])
