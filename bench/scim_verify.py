"""After a workload, check a sample of what it did, through the SCIM API (not timed).

Created users must be readable with their userName, found by a userName filter, and not
visible through another tenant; deactivated users must read `active: false`; a PUT user
must read the givenName of its last PUT (skipped: users two PUTs raced on, and users a
PUT failed on, since a failed write may still be applied later); a
group must list every member added to it.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Any
from urllib.parse import quote

from scim_workloads import WorkloadRun


class Checks:
    def __init__(self) -> None:
        self.checked = 0
        self.failures: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []

    def result(self, failure: str | None, **detail: Any) -> None:
        self.checked += 1
        if failure:
            self.failures[failure] += 1
            if len(self.examples) < 5:
                self.examples.append({"check": failure, **detail})

    def summary(self) -> dict[str, Any]:
        return {"checked": self.checked, "failed": sum(self.failures.values()),
                "failures": dict(self.failures), "examples": self.examples}


async def verify(run: WorkloadRun, k: int, rng: random.Random) -> dict[str, Any]:
    """Check up to k results of each kind the run produced."""
    checks = Checks()
    tenants, call = run.tenants, run.client.call

    def sample(items: list[Any]) -> list[Any]:
        return rng.sample(items, min(k, len(items)))

    for t, user in sample(run.created):
        status, doc = await call(tenants[t], "GET", f"/Users/{user.id}")
        failure = (f"created_user_http_{status}" if status != 200 else
                   "created_user_wrong_userName" if doc.get("userName") != user.user_name
                   else None)
        if failure is None:
            f = quote(f'userName eq "{user.user_name}"', safe="")
            status, found = await call(tenants[t], "GET", f"/Users?filter={f}")
            ids = [r.get("id") for r in (found or {}).get("Resources") or []]
            failure = None if status == 200 and ids == [user.id] else "created_user_not_filtered"
        for other in tenants:
            if failure is None and other is not tenants[t]:
                status, _ = await call(other, "GET", f"/Users/{user.id}", parse=False)
                failure = "visible_in_other_tenant" if status != 404 else None
        checks.result(failure, id=user.id)
    for t, user in sample(run.patched):
        status, doc = await call(tenants[t], "GET", f"/Users/{user.id}")
        checks.result(f"patched_user_http_{status}" if status != 200 else
                      None if doc.get("active") is False else "deactivate_not_applied",
                      id=user.id)
    settled = [key for key in run.last_put if key not in run.put_raced]
    for t, uid in sample(settled):
        status, doc = await call(tenants[t], "GET", f"/Users/{uid}")
        got = (doc.get("name") or {}).get("givenName") if status == 200 else None
        checks.result(None if got == run.last_put[(t, uid)] else "put_not_applied",
                      id=uid, status=status, want=run.last_put[(t, uid)], got=got)
    for (t, gid), want in list(run.group_members.items())[:k]:
        status, doc = await call(tenants[t], "GET", f"/Groups/{gid}")
        got = {m.get("value") for m in (doc or {}).get("members") or []} if status == 200 else set()
        checks.result(None if want <= got else "group_members_missing", id=gid,
                      status=status, missing=len(want - got))
    return checks.summary()
