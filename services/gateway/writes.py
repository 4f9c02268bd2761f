"""From an HTTP write to a command and back: build the command, pre-check the input
(bad input is rejected here, recorded, and never reaches Kafka), submit, render."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web

from dsync.messages.answers import WriteAnswer
from dsync.messages.commands import Command
from dsync.scim.errors import NotFound, ScimError
from dsync.scim.render import with_location
from dsync.store.reads import get_group, get_user
from dsync_services.gateway.request_ids import set_operation_id
from dsync_services.gateway.scim_http import scim_response

T = TypeVar("T")


def resource_id(request: web.Request) -> UUID:
    """The `{id}` path segment; anything that is not one of our ids is simply not found."""
    raw = request.match_info["id"]
    try:
        return UUID(raw)
    except ValueError:
        kind = "User" if "/Users/" in request.path else "Group"
        raise NotFound(f"{kind} {raw} not found") from None


def new_command(cls: type[T], request: web.Request, **fields: Any) -> T:
    return cls(command_id=uuid.uuid4(), tenant_id=request["tenant"].tenant_id,  # type: ignore[call-arg]
               issued_at=datetime.now(UTC), **fields)


async def prechecked(request: web.Request, resource_type: str, check: Callable[[], T]) -> T:
    """Run a pure input check; a ScimError is recorded in the ledger, then re-raised."""
    try:
        return check()
    except ScimError as exc:
        bus = request.app["bus"]
        op_id = uuid.uuid4()
        set_operation_id(request, op_id)
        await bus.record_rejection(
            tenant_id=request["tenant"].tenant_id, op_id=op_id, method=request.method,
            path=request.path.removeprefix("/scim/v2"), resource_type=resource_type,
            reason_code=exc.reason_code, detail=exc.detail)
        raise


async def submit(request: web.Request, command: Command, resource_type: str) -> web.Response:
    bus = request.app["bus"]
    set_operation_id(request, command.command_id)
    response = await bus.submit(command, method=request.method,
                                path=request.path.removeprefix("/scim/v2"),
                                resource_type=resource_type)
    return await render_outcome(request, response, getattr(command, "resource_id", None))


async def render_outcome(request: web.Request, answer: WriteAnswer,
                         target: UUID | None) -> web.Response:
    status = answer.status
    if answer.error is not None:
        return scim_response(status, answer.error)
    if status == 204:
        return scim_response(204)
    resource = answer.resource
    tenant_id = request["tenant"].tenant_id
    pool = request.app["pool"]
    if resource is None or not answer.members_complete:
        rid = UUID(resource["id"]) if resource else target
        assert rid is not None
        kind = (resource or {}).get("meta", {}).get("resourceType") or (
            "User" if "/Users" in request.path else "Group")
        resource = (await get_user(pool, tenant_id, rid) if kind == "User"
                    else await get_group(pool, tenant_id, rid))
        if resource is None:
            raise NotFound(f"{kind} {rid} not found")
    base = request.app["settings"].base_url + "/scim/v2"
    resource = with_location(resource, base)
    headers = {"ETag": resource["meta"]["version"]}
    if status == 201:
        headers["Location"] = resource["meta"]["location"]
    return scim_response(status, resource, headers)

