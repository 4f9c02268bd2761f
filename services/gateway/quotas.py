"""Per-tenant quotas on stored users and groups (docs/limits.md, "Quotas").

A create (`POST`, or a `POST` inside a Bulk) is refused with 403 once the tenant stores
its quota of that resource type. The count is `tenant_usage`, kept by triggers in the
directory's own transactions; creates in flight at the same moment may overshoot the
quota by at most the tenant's concurrency cap.
"""
from __future__ import annotations

import uuid
from typing import ClassVar

from aiohttp import web

from dsync.scim.errors import ScimError

_COLUMN = {"User": "users", "Group": "groups"}


class QuotaExceeded(ScimError):
    """403: the tenant stores as many resources of this type as its quota allows."""

    status: ClassVar[int] = 403
    scim_type: ClassVar[str | None] = None
    reason_code: ClassVar[str] = "quota_exceeded"


async def check_create(request: web.Request, resource_type: str, *, record: bool = True
                       ) -> None:
    """Raise QuotaExceeded if one more `resource_type` would pass the tenant's quota
    (recorded in the ledger as `rejected`, `quota_exceeded`, when `record`)."""
    tenant_id = request["tenant"].tenant_id
    limits = await request.app["limits"].get(tenant_id)
    quota = limits.max_users if resource_type == "User" else limits.max_groups
    if quota <= 0:
        return
    stored = await request.app["pool"].fetchval(
        f"SELECT {_COLUMN[resource_type]} FROM tenant_usage WHERE tenant_id = $1",  # noqa: S608
        tenant_id) or 0
    if stored < quota:
        return
    exc = QuotaExceeded(
        f"Quota exceeded: this tenant stores {stored} {resource_type.lower()}s and its "
        f"quota is {quota}. Delete some or ask the operator to raise the quota.")
    if record:
        await request.app["bus"].record_rejection(
            tenant_id=tenant_id, op_id=uuid.uuid4(), method=request.method,
            path=request.path.removeprefix("/scim/v2"), resource_type=resource_type,
            reason_code=exc.reason_code, detail=exc.detail)
    raise exc
