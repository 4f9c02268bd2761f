"""Per-tenant quotas on stored users and groups (docs/limits.md, "Quotas").

A create (`POST`, or a `POST` inside a Bulk) is refused with 403 once the tenant stores
its quota of that resource type. The count is `tenant_usage`, kept by triggers in the
directory's own transactions; creates in flight at the same moment may overshoot the
quota by at most the tenant's concurrency cap.

Reading the count costs a database round trip, so `StoredCounts` reads it at most once per
`READ_EVERY_S` while the tenant is far from its quota (more than `NEAR` below it, counting
the creates admitted since the read); near the quota every create reads it again. A count
that is up to a second old therefore only matters to creates that other gateway replicas
admit in that second, far from the quota.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

import asyncpg
from aiohttp import web

from dsync.scim.errors import ScimError

_COLUMN = {"User": "users", "Group": "groups"}
READ_EVERY_S = 1.0
NEAR = 1000
"""Within this many of the quota (or 10% of it, if less), every create reads the count."""


@dataclass
class _Read:
    count: int
    at: float
    admitted: int = 0


class StoredCounts:
    """How many users or groups a tenant stores, for the quota check (module doc)."""

    def __init__(self, pool: asyncpg.Pool, now: Callable[[], float] = time.monotonic
                 ) -> None:
        self.pool = pool
        self._now = now
        self._reads: dict[tuple[UUID, str], _Read] = {}

    async def stored(self, tenant_id: UUID, resource_type: str, quota: int) -> int:
        """The count (or an estimate from below the quota's `NEAR` margin)."""
        key, now = (tenant_id, resource_type), self._now()
        read = self._reads.get(key)
        if read is not None and now - read.at < READ_EVERY_S \
                and read.count + read.admitted + min(NEAR, quota // 10) < quota:
            read.admitted += 1
            return read.count + read.admitted - 1
        count: int = await self.pool.fetchval(
            f"SELECT {_COLUMN[resource_type]} FROM tenant_usage WHERE tenant_id = $1",  # noqa: S608
            tenant_id) or 0
        if len(self._reads) > 100_000:
            self._reads.clear()
        self._reads[key] = _Read(count, now, admitted=1)
        return count


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
    stored = await request.app["stored_counts"].stored(tenant_id, resource_type, quota)
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
