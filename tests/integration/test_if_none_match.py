"""`If-None-Match` with the current version answers 304 (RFC 7644 §3.14)."""
from __future__ import annotations

from dsync_testkit.stack import SCIM_GROUP, RunningStack

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def test_if_none_match_current_version_is_304(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "etag@example.com")
    status, group, _ = await stack.scim(tenant, "POST", "/Groups",
                                        {"schemas": [SCIM_GROUP], "displayName": "g"})
    assert status == 201
    for path, version in ((f"/Users/{user['id']}", user["meta"]["version"]),
                          (f"/Groups/{group['id']}", group["meta"]["version"])):
        status, body, headers = await stack.scim(tenant, "GET", path,
                                                 headers={"If-None-Match": version})
        assert status == 304 and body is None and headers["ETag"] == version
        status, body, _ = await stack.scim(tenant, "GET", path,
                                           headers={"If-None-Match": 'W/"999"'})
        assert status == 200 and body["id"] in path
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "x"}]})
    assert status == 200
    status, body, _ = await stack.scim(tenant, "GET", f"/Users/{user['id']}",
                                       headers={"If-None-Match": user["meta"]["version"]})
    assert status == 200 and body["title"] == "x"  # the version moved on
