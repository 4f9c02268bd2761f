"""Filtered, sorted, paged queries through the running stack (RFC 7644 §3.4.2)."""
from __future__ import annotations

from urllib.parse import quote

from dsync_testkit.stack import RunningStack

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


async def test_filters_sorting_paging_and_projection(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    other = await stack.new_tenant()
    await stack.create_user(other, "ann@example.com")  # must never show up
    for i, (name, dept) in enumerate([("ann", "eng"), ("bob", "sales"), ("cat", "eng")]):
        await stack.create_user(
            tenant, f"{name}@example.com", externalId=f"ext-{i}",
            emails=[{"value": f"{name}@work.example", "type": "work", "primary": True}],
            schemas=["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            **{ENTERPRISE: {"department": dept}})

    async def q(params: str):  # type: ignore[no-untyped-def]
        status, body, _ = await stack.scim(tenant, "GET", f"/Users?{params}")
        assert status == 200, body
        return body

    body = await q("filter=" + quote('userName eq "ANN@example.com"'))
    assert body["totalResults"] == 1 and body["Resources"][0]["userName"] == "ann@example.com"
    body = await q("filter=" + quote(f'{ENTERPRISE}:department eq "eng"') + "&sortBy=userName"
                   "&sortOrder=descending")
    assert [r["userName"] for r in body["Resources"]] == ["cat@example.com", "ann@example.com"]
    body = await q("filter=" + quote('emails[type eq "work" and value co "bob"]'))
    assert [r["userName"] for r in body["Resources"]] == ["bob@example.com"]
    body = await q("filter=" + quote('not (userName sw "a") and externalId pr')
                   + "&sortBy=userName")
    assert [r["userName"] for r in body["Resources"]] == ["bob@example.com", "cat@example.com"]
    body = await q("startIndex=2&count=1&sortBy=userName")
    assert body["totalResults"] == 3 and body["startIndex"] == 2 and body["itemsPerPage"] == 1
    assert body["Resources"][0]["userName"] == "bob@example.com"
    body = await q("attributes=userName&filter=" + quote('userName eq "bob@example.com"'))
    assert set(body["Resources"][0]) <= {"id", "userName", "schemas"}
    # RFC 9865 cursor paging
    body = await q("cursor=&count=2&sortBy=userName")
    assert len(body["Resources"]) == 2 and "nextCursor" in body
    body2 = await q(f"cursor={body['nextCursor']}&count=2&sortBy=userName")
    assert [r["userName"] for r in body2["Resources"]] == ["cat@example.com"]
    assert "nextCursor" not in body2
    # Entra's random-user probe: an empty list, fast
    body = await q("filter=" + quote('userName eq "no-such-user-9f3c@example.com"'))
    assert body == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": 0, "itemsPerPage": 0, "startIndex": 1, "Resources": []}


async def test_bad_filter_is_400_invalid_filter(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body, _ = await stack.scim(tenant, "GET", "/Users?filter=" + quote('userName eq'))
    assert status == 400 and body["scimType"] == "invalidFilter"
    status, body, _ = await stack.scim(tenant, "GET", "/Users?cursor=garbage")
    assert status == 400 and body["scimType"] == "invalidCursor"


async def test_search_endpoint(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    await stack.create_user(tenant, "zed@example.com")
    status, body, _ = await stack.scim(tenant, "POST", "/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "zed@example.com"', "startIndex": 1, "count": 10})
    assert status == 200 and body["totalResults"] == 1
