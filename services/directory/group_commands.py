"""Loads what a group command needs, then runs the pure decision (decide_groups)."""
from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

import asyncpg

from dsync.messages.commands import Command
from dsync.scim import resource_logic as logic
from dsync.scim.errors import ScimError
from dsync_services.directory import decide_groups, repository
from dsync_services.directory.decide_groups import MemberFacts
from dsync_services.directory.decisions import Decision


def _ids(values: list[str]) -> list[UUID]:
    out = []
    for v in values:
        try:
            out.append(UUID(v))
        except ValueError:
            continue  # not one of our ids: reported as unknown by the decision
    return out


async def _facts(conn: asyncpg.Connection, tenant_id: UUID, group_id: UUID | None,
                 touched: list[str], all_current: bool) -> MemberFacts:
    ids = _ids(touched)
    kinds = await repository.kinds_of(conn, tenant_id, ids) if ids else {}
    if group_id is None:
        current: dict[str, str] = {}
    elif all_current:
        current = await repository.members_of(conn, tenant_id, group_id, None)
    else:
        current = await repository.members_of(conn, tenant_id, group_id, ids)
    return MemberFacts(kinds, current)


def _member_values(resource: dict[str, object]) -> list[str]:
    members = resource.get("members") or []
    return [m["value"] for m in members if isinstance(m, dict)  # type: ignore[union-attr]
            and isinstance(m.get("value"), str)]


async def decide(conn: asyncpg.Connection, command: Command, now: datetime) -> Decision:
    """Raises ScimError for a command that is wrong given the state."""
    tid = command.tenant_id
    if command.type == "group.create":
        new_id = uuid.uuid4()
        facts = await _facts(conn, tid, None, _member_values(command.resource), False)
        return decide_groups.decide_create(command, new_id, facts, now)
    current = await repository.load(conn, "Group", tid, command.resource_id)
    if command.type == "group.replace":
        facts = await _facts(conn, tid, command.resource_id,
                             _member_values(command.resource), True)
        return decide_groups.decide_replace(command, current, facts, now)
    if command.type == "group.patch":
        result = None
        facts = MemberFacts({}, {})
        if current is not None:
            result = logic.apply_patch(current.doc, logic.parse_patch_ops(command.operations),
                                       "Group")
            delta = result.members
            if delta is not None and not delta.is_empty:
                refs = delta.replace if delta.replace is not None else delta.add
                touched = [r.value for r in refs] + list(delta.remove)
                facts = await _facts(conn, tid, current.id, touched,
                                     delta.replace is not None or delta.remove_all)
        return decide_groups.decide_patch(command, current, result, facts, now)
    if command.type == "group.delete":
        parents = (await repository.groups_of_member(conn, tid, current.id)
                   if current else [])
        return decide_groups.decide_delete(command, current, parents)
    raise ScimError(f"unsupported command {command.type}")
