"""Admin API: a tenant's limits and quotas (docs/limits.md, "Rate limits and quotas").

`PUT /admin/v1/tenants/{tid}/limits` replaces the tenant's overrides: a field left out or
null falls back to the deployment's default. `GET` shows overrides and effective values.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict
from typing import Any
from uuid import UUID

from aiohttp import web

from dsync.admin_http import AdminError, iso, json_body, path_uuid
from dsync_services.gateway.tenant_limits import (
    OVERRIDABLE,
    defaults,
    effective,
    load_override,
)

_TIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MAX_INT = 2**31 - 1


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The override columns of a PUT body, validated; raises AdminError 400."""
    unknown = set(body) - {*OVERRIDABLE, "tier"}
    if unknown:
        raise AdminError(400, "invalid_value", f"Unknown fields: {', '.join(sorted(unknown))}")
    tier = body.get("tier", "custom")
    if not isinstance(tier, str) or not _TIER.match(tier):
        raise AdminError(400, "invalid_value",
                         "'tier' must match [a-z0-9][a-z0-9_-]{0,31} (a metrics label)")
    out: dict[str, Any] = {"tier": tier}
    for name in OVERRIDABLE:
        value = body.get(name)
        if value is None:
            out[name] = None
            continue
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if name == "rate_per_s":
            ok = is_number and math.isfinite(value) and 0 <= value <= 1e6
            out[name] = float(value) if ok else None
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and (
                (1 if name == "burst" else 0) <= value <= _MAX_INT)
            out[name] = value if ok else None
        if not ok:
            raise AdminError(400, "invalid_value",
                             f"'{name}' must be a non-negative "
                             f"{'number' if name == 'rate_per_s' else 'integer'} or null"
                             f"{' (at least 1)' if name == 'burst' else ''}; 0 means no limit")
    return out


async def _tenant_id(request: web.Request) -> UUID:
    tid = path_uuid(request, "tid", "Tenant")
    if not await request.app["pool"].fetchval("SELECT true FROM tenants WHERE id = $1", tid):
        raise AdminError(404, "not_found", f"Tenant {tid} not found")
    return tid


def _answer(request: web.Request, tid: UUID, row: Any | None) -> web.Response:
    limits = effective(defaults(request.app["limit_settings"]), row)
    overrides = {name: (row[name] if row is not None else None) for name in OVERRIDABLE}
    return web.json_response({
        "tenant_id": str(tid), "tier": limits.tier, "overrides": overrides,
        "effective": {k: v for k, v in asdict(limits).items() if k != "tier"},
        "updated_at": iso(row["updated_at"]) if row is not None else None})


async def get_limits(request: web.Request) -> web.Response:
    tid = await _tenant_id(request)
    return _answer(request, tid, await load_override(request.app["pool"], tid))


async def put_limits(request: web.Request) -> web.Response:
    values = _checked(await json_body(request))
    tid = await _tenant_id(request)
    columns = ["tier", *OVERRIDABLE]
    row = await request.app["pool"].fetchrow(
        f"INSERT INTO tenant_limits (tenant_id, {', '.join(columns)}, updated_at)"  # noqa: S608
        f" VALUES ($1, {', '.join(f'${i + 2}' for i in range(len(columns)))}, now())"
        f" ON CONFLICT (tenant_id) DO UPDATE SET"
        f" {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)}, updated_at = now()"
        " RETURNING *", tid, *(values[c] for c in columns))
    request.app["limits"].forget(tid)
    return _answer(request, tid, row)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/v1/tenants/{tid}/limits", get_limits)
    app.router.add_put("/admin/v1/tenants/{tid}/limits", put_limits)
