"""`POST /Bulk` (RFC 7644 §3.7): the operations of a BulkRequest run one by one, in the
order `bulk_refs.plan` fixes, each through the same pipeline as a single request (input
pre-check, ledger row, command on Kafka, the directory's answer), so each is its own
operation in the ledger, and a failed one never stops the others.

Answers 200 with a BulkResponse holding the result of every operation processed, in
request order. Processing stops early after the N-th failed operation with
`failOnErrors: N` (§3.7.3), and after an operation answered 503 (broker or database
unavailable, outcome not known in time): the operations not processed are not in the
response and the client retries them. A body over maxPayloadSize or more than
maxOperations operations is 413 before anything runs (§3.7.4). Never a 500 for bad input.
"""
from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from aiohttp import web

from dsync.messages import commands as c
from dsync.messages.answers import WriteAnswer
from dsync.scim import resource_logic as logic
from dsync.scim.errors import ERROR_SCHEMA, InvalidSyntax, NotFound, ScimError, TooLarge
from dsync.scim.limits import check_strings
from dsync.scim.schema import BULK_RESPONSE_SCHEMA
from dsync.scim.text_check import check_json
from dsync.store.reads import get_group, get_user
from dsync_services.gateway import bulk_refs, quotas
from dsync_services.gateway.bulk_refs import BulkPlan, Operation
from dsync_services.gateway.command_bus import BrokerUnavailable, OutcomeTimeout
from dsync_services.gateway.scim_http import UNAVAILABLE, scim_response
from dsync_services.gateway.scim_limits import limits
from dsync_services.gateway.writes import new_command

_COMMANDS: dict[tuple[str, str], type[Any]] = {
    ("POST", "User"): c.CreateUser, ("PUT", "User"): c.ReplaceUser,
    ("PATCH", "User"): c.PatchUser, ("DELETE", "User"): c.DeleteUser,
    ("POST", "Group"): c.CreateGroup, ("PUT", "Group"): c.ReplaceGroup,
    ("PATCH", "Group"): c.PatchGroup, ("DELETE", "Group"): c.DeleteGroup,
}
_UNAVAILABLE = (OutcomeTimeout, BrokerUnavailable, *UNAVAILABLE)


async def read_limited(request: web.Request, max_bytes: int) -> Any:
    """The JSON body, refused with 413 past `max_bytes` (counted as it streams in)."""
    too_large = TooLarge(f"The size of the bulk operation exceeds the maxPayloadSize "
                         f"({max_bytes} bytes)")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidSyntax("The request body is not valid JSON") from None
    check_json(body)  # NUL, lone surrogates, Infinity: 400 for the whole request
    check_strings(body, limits(request.app))
    return body


class BulkRun:
    """One Bulk request being executed. `created` maps bulkId -> the id its POST created;
    `stopped` is set once an operation found the pipeline unavailable."""

    def __init__(self, request: web.Request, base_url: str) -> None:
        self.request = request
        self.base_url = base_url
        self.created: dict[str, str] = {}
        self.stopped = False

    async def run(self, op: Operation) -> dict[str, Any]:
        """The BulkResponse entry of `op` (method, bulkId, version, location, status,
        response). A failed operation is an entry, never an exception."""
        entry: dict[str, Any] = {"method": op.method or "",
                                 **({"bulkId": op.bulk_id} if op.bulk_id else {})}
        try:
            return await self._run(op, entry)
        except _UNAVAILABLE as exc:
            self.stopped = True
            ref = f"operation {exc.op_id}" if hasattr(exc, "op_id") else "this operation"
            return {**entry, "status": "503", "response": {
                "schemas": [ERROR_SCHEMA], "status": "503",
                "detail": f"The service is temporarily unavailable or slow; the outcome of "
                          f"{ref} is not known. The remaining operations were not processed; "
                          "retry them later."}}

    async def _run(self, op: Operation, entry: dict[str, Any]) -> dict[str, Any]:
        rid: str | None = None
        try:
            if op.error is not None:
                raise op.error
            assert op.resource_type is not None and op.method is not None
            if op.resource_id is not None:
                rid = bulk_refs.resolve_id(op.resource_id, self.created)
                entry["location"] = f"{self.base_url}/{op.resource_type}s/{rid}"
            command = self._command(op, _uuid(rid, op.resource_type) if rid else None)
            if op.method == "POST":
                await quotas.check_create(self.request, op.resource_type, record=False)
        except ScimError as exc:
            await self._record_rejection(op, rid, exc)
            return {**entry, "status": str(exc.status), "response": exc.body()}
        response = await self.request.app["bus"].submit(
            command, method=op.method, path=_path(op.resource_type, rid),
            resource_type=op.resource_type)
        return await self._entry(op, entry, response)

    def _command(self, op: Operation, target: UUID | None) -> Any:
        assert op.method is not None and op.resource_type is not None
        fields: dict[str, Any] = {}
        if target is not None:
            fields.update(resource_id=target, if_match=op.version)
        if op.method in ("POST", "PUT"):
            data = bulk_refs.substitute(op.data, self.created)
            fields["resource"] = logic.command_resource(data, op.resource_type)
        elif op.method == "PATCH":
            data = bulk_refs.substitute(op.data, self.created)
            fields["operations"] = logic.parse_patch_request(data)
        return new_command(_COMMANDS[(op.method, op.resource_type)], self.request, **fields)

    async def _entry(self, op: Operation, entry: dict[str, Any],
                     answer: WriteAnswer) -> dict[str, Any]:
        status = answer.status
        entry["status"] = str(status)
        if answer.error is not None:
            entry["response"] = answer.error
            return entry
        resource = answer.resource
        if resource is None and status != 204 and "location" in entry:
            resource = await self._reread(op, entry["location"].rsplit("/", 1)[-1])
        if resource is not None:
            entry["location"] = f"{self.base_url}/{op.resource_type}s/{resource['id']}"
            entry["version"] = resource["meta"]["version"]
            if op.method == "POST" and op.bulk_id:
                self.created[op.bulk_id] = str(resource["id"])
        return entry

    async def _reread(self, op: Operation, rid: str) -> dict[str, Any] | None:
        """An unchanged resource (the directory answered without it): read its version."""
        pool, tenant_id = self.request.app["pool"], self.request["tenant"].tenant_id
        if op.resource_type == "User":
            return await get_user(pool, tenant_id, UUID(rid))
        return await get_group(pool, tenant_id, UUID(rid), with_members=False)

    async def _record_rejection(self, op: Operation, rid: str | None, exc: ScimError) -> None:
        """A ledger row for an operation refused before it became a command."""
        await self.request.app["bus"].record_rejection(
            tenant_id=self.request["tenant"].tenant_id, op_id=uuid.uuid4(),
            method=op.method or "?", resource_type=op.resource_type or "",
            path=_path(op.resource_type, rid or op.resource_id) if op.resource_type
            else "/Bulk", reason_code=exc.reason_code, detail=exc.detail)


def _path(resource_type: str | None, rid: str | None) -> str:
    return f"/{resource_type}s" + (f"/{rid}" if rid else "")


def _uuid(raw: str, resource_type: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"{resource_type} {raw[:100]} not found") from None


async def execute(planned: BulkPlan, run: BulkRun) -> list[dict[str, Any]]:
    """Run the operations in plan order, one at a time; return the entries of those
    processed, in request order (see the module doc for when it stops early)."""
    results: dict[int, dict[str, Any]] = {}
    errors = 0
    for i in planned.order:
        results[i] = await run.run(planned.operations[i])
        errors += int(results[i]["status"]) >= 400
        if run.stopped or (planned.fail_on_errors and errors >= planned.fail_on_errors):
            break
    return [results[i] for i in sorted(results)]


def add_routes(app: web.Application, prefix: str) -> None:
    scim_limits = limits(app)

    async def bulk(request: web.Request) -> web.Response:
        body = await read_limited(request, scim_limits.bulk_max_payload_bytes)
        planned = bulk_refs.parse_request(body, scim_limits.bulk_max_operations)
        run = BulkRun(request, str(request.app["settings"].base_url) + prefix)
        return scim_response(200, {"schemas": [BULK_RESPONSE_SCHEMA],
                                   "Operations": await execute(planned, run)})

    app.router.add_post(f"{prefix}/Bulk", bulk)
