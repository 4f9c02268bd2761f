"""The pure step for groups. Membership is never loaded whole into a decision except for
a full replace: the loader passes only what the command touches (`MemberFacts`).

Events: `group.created` / `group.updated` / `group.deleted` for the group's attributes, and
one `group.member_added` / `group.member_removed` per membership that actually changed
(re-adding a member or removing a non-member emits nothing: JumpCloud repeats adds).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dsync.messages.commands import CreateGroup, DeleteGroup, PatchGroup, ReplaceGroup
from dsync.messages.events import DraftEvent
from dsync.scim import resource_logic as logic
from dsync.scim.errors import InvalidValue, NotFound, VersionMismatch
from dsync.scim.render import group_resource, version_matches
from dsync_services.directory.decisions import (
    Decision,
    MembersChange,
    Outcome,
    RemoveResource,
    SaveResource,
    StoredResource,
)


@dataclass(frozen=True)
class MemberFacts:
    """What the database says about the member ids a command touches.

    `kinds`: id -> "User" | "Group" for ids that exist in the tenant.
    `current`: id -> type for ids that are members of the group now (for a full replace or
    remove-all, every member; otherwise only the touched ids).
    """

    kinds: dict[str, str]
    current: dict[str, str]


def _member_event(kind: str, group_id: UUID, member_id: str, member_type: str) -> DraftEvent:
    return DraftEvent(type=kind, subject=str(group_id),
                      data={"group_id": str(group_id), "member_id": member_id,
                            "member_type": member_type})


def _resolve(group_id: UUID, refs: list[logic.MemberRef], facts: MemberFacts
             ) -> list[tuple[str, str]]:
    """(id, type) for each wanted member; unknown ids and self-membership are invalid."""
    out: dict[str, str] = {}
    for ref in refs:
        kind = facts.kinds.get(ref.value.lower()) or facts.kinds.get(ref.value)
        if kind is None:
            raise InvalidValue(f"member {ref.value!r} is not a user or group of this tenant")
        if ref.type is not None and ref.type != kind:
            raise InvalidValue(f"member {ref.value!r} is a {kind}, not a {ref.type}")
        if ref.value.lower() == str(group_id):
            raise InvalidValue("a group cannot be a member of itself")
        out[str(UUID(ref.value))] = kind
    return list(out.items())


def _membership_change(group_id: UUID, wanted_add: list[tuple[str, str]],
                       wanted_remove: set[str], facts: MemberFacts
                       ) -> tuple[MembersChange | None, list[DraftEvent]]:
    add = [(m, t) for m, t in wanted_add if m not in facts.current]
    remove = sorted(m for m in wanted_remove if m in facts.current)
    if not add and not remove:
        return None, []
    events = [_member_event("group.member_removed", group_id, m, facts.current[m])
              for m in remove]
    events += [_member_event("group.member_added", group_id, m, t) for m, t in add]
    return MembersChange(group_id, add=tuple(add), remove=frozenset(remove)), events


def _precondition(command: ReplaceGroup | PatchGroup | DeleteGroup,
                  current: StoredResource | None) -> StoredResource:
    if current is None:
        raise NotFound(f"Group {command.resource_id} not found")
    if not version_matches(command.if_match, current.version):
        raise VersionMismatch(f"If-Match {command.if_match} does not match the current "
                              f'version W/"{current.version}"')
    return current


def decide_create(command: CreateGroup, new_id: UUID, facts: MemberFacts,
                  now: datetime) -> Decision:
    doc, members = logic.normalize_and_validate(command.resource, "Group", existing=None)
    wanted = _resolve(new_id, members or [], facts)
    save = SaveResource("Group", new_id, doc, 1, now, now, is_new=True)
    change, member_events = _membership_change(new_id, wanted, set(), MemberFacts({}, {}))
    events = [DraftEvent(type="group.created", subject=str(new_id),
                         data={"resource": group_resource(new_id, doc, 1, now, now, None)}),
              *member_events]
    writes = (save, change) if change else (save,)
    return Decision(Outcome(201, "Group", new_id), writes, tuple(events))


def _updated(current: StoredResource, doc: dict[str, object], change: MembersChange | None,
             member_events: list[DraftEvent], now: datetime, status: int) -> Decision:
    if doc == current.doc and change is None:
        return Decision(Outcome(status, "Group", current.id))
    save = SaveResource("Group", current.id, doc, current.version + 1, current.created_at,
                        now, is_new=False)
    events: list[DraftEvent] = []
    if doc != current.doc:
        events.append(DraftEvent(type="group.updated", subject=str(current.id), data={
            "resource": group_resource(current.id, doc, save.version, current.created_at,
                                       now, None),
            "previous": logic.diff_previous(current.doc, doc)}))
    events += member_events
    writes = (save, change) if change else (save,)
    return Decision(Outcome(status, "Group", current.id), writes, tuple(events))


def decide_replace(command: ReplaceGroup, current: StoredResource | None,
                   facts: MemberFacts, now: datetime) -> Decision:
    current = _precondition(command, current)
    doc, members = logic.normalize_and_validate(command.resource, "Group", existing=current.doc)
    wanted = _resolve(current.id, members or [], facts)
    wanted_ids = {m for m, _ in wanted}
    change, events = _membership_change(current.id, wanted,
                                        set(facts.current) - wanted_ids, facts)
    return _updated(current, doc, change, events, now, 200)


def decide_patch(command: PatchGroup, current: StoredResource | None,
                 result: logic.PatchResult | None, facts: MemberFacts,
                 now: datetime) -> Decision:
    """`result` is the PATCH engine's output on `current.doc` (None when not found)."""
    current = _precondition(command, current)
    assert result is not None
    delta = result.members
    change: MembersChange | None = None
    events: list[DraftEvent] = []
    if delta is not None and not delta.is_empty:
        if delta.replace is not None:
            wanted = _resolve(current.id, delta.replace, facts)
            ids = {m for m, _ in wanted}
            change, events = _membership_change(current.id, wanted,
                                                set(facts.current) - ids, facts)
        else:
            remove = set(facts.current) if delta.remove_all else {
                str(UUID(m)) for m in delta.remove if _is_uuid(m)}
            change, events = _membership_change(
                current.id, _resolve(current.id, delta.add, facts), remove, facts)
    decision = _updated(current, result.doc, change, events, now, 204)
    return decision


def decide_delete(command: DeleteGroup, current: StoredResource | None,
                  parents: list[UUID]) -> Decision:
    current = _precondition(command, current)
    events = [_member_event("group.member_removed", p, str(current.id), "Group")
              for p in parents]
    events.append(DraftEvent(type="group.deleted", subject=str(current.id), data={
        "id": str(current.id), "displayName": current.doc.get("displayName"),
        "externalId": current.doc.get("externalId")}))
    return Decision(Outcome(204, "Group", current.id),
                    (RemoveResource("Group", current.id),), tuple(events))


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
