"""What a group command's decision needs, read from the database (the `load` step).

Membership facts are read only for the members a command touches (all current members
only when it replaces or clears them). A PATCH's member delta comes from the PATCH engine
run on the stored group, so its `load` runs the engine once and hands the result on.
"""
from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from dsync.db import DbConnection
from dsync.messages.commands import CreateGroup, DeleteGroup, PatchGroup, ReplaceGroup
from dsync.scim import resource_logic as logic
from dsync_services.directory import repository
from dsync_services.directory.decide_groups import MemberFacts
from dsync_services.directory.decisions import StoredResource


def _ids(values: list[str]) -> list[UUID]:
    out = []
    for v in values:
        try:
            out.append(UUID(v))
        except ValueError:
            continue  # not one of our ids: reported as unknown by the decision
    return out


async def _facts(conn: DbConnection, tenant_id: UUID, group_id: UUID | None,
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


def _member_values(resource: dict[str, Any]) -> list[str]:
    members = resource.get("members") or []
    return [m["value"] for m in members if isinstance(m, dict)
            and isinstance(m.get("value"), str)]


async def load_create(conn: DbConnection, command: CreateGroup
                      ) -> tuple[UUID, MemberFacts]:
    """A new id and the kinds of the members named."""
    facts = await _facts(conn, command.tenant_id, None, _member_values(command.resource),
                         False)
    return uuid.uuid4(), facts


async def load_replace(conn: DbConnection, command: ReplaceGroup
                       ) -> tuple[StoredResource | None, MemberFacts]:
    current = await repository.load(conn, "Group", command.tenant_id, command.resource_id)
    facts = await _facts(conn, command.tenant_id, command.resource_id,
                         _member_values(command.resource), True)
    return current, facts


async def load_patch(conn: DbConnection, command: PatchGroup
                     ) -> tuple[StoredResource | None, logic.PatchResult | None, MemberFacts]:
    """The group, the PATCH engine's result on it (None when not found), and the facts
    about the members the result touches. Raises ScimError for an invalid PATCH."""
    current = await repository.load(conn, "Group", command.tenant_id, command.resource_id)
    if current is None:
        return None, None, MemberFacts({}, {})
    result = logic.apply_patch(current.doc, logic.parse_patch_ops(command.operations), "Group")
    delta, facts = result.members, MemberFacts({}, {})
    if delta is not None and not delta.is_empty:
        refs = delta.replace if delta.replace is not None else delta.add
        touched = [r.value for r in refs] + list(delta.remove)
        facts = await _facts(conn, command.tenant_id, current.id, touched,
                             delta.replace is not None or delta.remove_all)
    return current, result, facts


async def load_delete(conn: DbConnection, command: DeleteGroup
                      ) -> tuple[StoredResource | None, list[UUID]]:
    """The group and the groups it is a member of."""
    current = await repository.load(conn, "Group", command.tenant_id, command.resource_id)
    parents = (await repository.groups_of_member(conn, command.tenant_id, current.id)
               if current else [])
    return current, parents
