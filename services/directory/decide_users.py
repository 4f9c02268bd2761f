"""The pure step for users: `decide(state, command, now) -> Decision`.

Never performs I/O. Uniqueness of `userName` is checked after the decision, in the same
transaction (`repository.check_unique`, with the unique index as the backstop), so the
decision does not need to load the tenant's other users.
"""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from dsync.messages.commands import CreateUser, DeleteUser, PatchUser, ReplaceUser
from dsync.messages.events import DraftEvent
from dsync.scim import resource_logic as logic
from dsync.scim.errors import NotFound, VersionMismatch
from dsync.scim.render import user_resource, version_matches
from dsync_services.directory.decisions import (
    Decision,
    Outcome,
    RemoveResource,
    SaveResource,
    StoredResource,
    rejected,
)

UserCommand = CreateUser | ReplaceUser | PatchUser | DeleteUser


def _render(save: SaveResource) -> dict[str, object]:
    return user_resource(save.id, save.doc, save.version, save.created_at, save.updated_at)


def decide_create(command: CreateUser, new_id: UUID, now: datetime) -> Decision:
    doc, _ = logic.normalize_and_validate(command.resource, "User", existing=None)
    save = SaveResource("User", new_id, doc, 1, now, now, is_new=True)
    events = [DraftEvent(type="user.created", subject=str(new_id),
                         data={"resource": _render(save)})]
    return Decision(Outcome(201, "User", new_id), (save,), tuple(events))


def _precondition(command: ReplaceUser | PatchUser | DeleteUser,
                  current: StoredResource | None) -> StoredResource:
    if current is None:
        raise NotFound(f"User {command.resource_id} not found")
    if not version_matches(command.if_match, current.version):
        raise VersionMismatch(
            f"If-Match {command.if_match} does not match the current version "
            f'W/"{current.version}"')
    return current


def _updated(current: StoredResource, new_doc: dict[str, object], now: datetime,
             status: int) -> Decision:
    if new_doc == current.doc:
        return Decision(Outcome(200, "User", current.id))
    save = SaveResource("User", current.id, new_doc, current.version + 1,
                        current.created_at, now, is_new=False)
    resource = _render(save)
    previous = logic.diff_previous(current.doc, new_doc)
    events: list[DraftEvent] = []
    was_active = current.doc.get("active", True) is not False
    is_active = new_doc.get("active", True) is not False
    other_changes = {k: v for k, v in previous.items() if k != "active"}
    if other_changes:
        events.append(DraftEvent(type="user.updated", subject=str(current.id),
                                 data={"resource": resource, "previous": other_changes}))
    if was_active and not is_active:
        events.append(DraftEvent(type="user.deactivated", subject=str(current.id),
                                 data={"resource": resource}))
    elif is_active and not was_active:
        events.append(DraftEvent(type="user.reactivated", subject=str(current.id),
                                 data={"resource": resource}))
    return Decision(Outcome(status, "User", current.id), (save,), tuple(events))


def decide_replace(command: ReplaceUser, current: StoredResource | None,
                   now: datetime) -> Decision:
    current = _precondition(command, current)
    doc, _ = logic.normalize_and_validate(command.resource, "User", existing=current.doc)
    return _updated(current, doc, now, 200)


def decide_patch(command: PatchUser, current: StoredResource | None, now: datetime) -> Decision:
    current = _precondition(command, current)
    result = logic.apply_patch(current.doc, logic.parse_patch_ops(command.operations), "User")
    return _updated(current, result.doc, now, 200)


def decide_delete(command: DeleteUser, current: StoredResource | None,
                  group_ids: list[UUID]) -> Decision:
    """Delete the user and its memberships; `group_ids` are the groups it was a member of."""
    current = _precondition(command, current)
    events = [DraftEvent(type="group.member_removed", subject=str(gid),
                         data={"group_id": str(gid), "member_id": str(current.id),
                               "member_type": "User"}) for gid in group_ids]
    events.append(DraftEvent(type="user.deleted", subject=str(current.id),
                             data={"id": str(current.id),
                                   "userName": current.doc.get("userName"),
                                   "externalId": current.doc.get("externalId")}))
    return Decision(Outcome(204, "User", current.id),
                    (RemoveResource("User", current.id),), tuple(events))


__all__ = ["UserCommand", "decide_create", "decide_delete", "decide_patch", "decide_replace",
           "rejected"]
