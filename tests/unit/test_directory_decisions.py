"""The directory's pure decisions: state + command -> writes, events and the answer."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from dsync.messages.commands import (
    CreateGroup,
    CreateUser,
    DeleteGroup,
    DeleteUser,
    PatchGroup,
    PatchUser,
    ReplaceUser,
)
from dsync.scim.errors import InvalidValue, NotFound, VersionMismatch
from dsync_services.directory import decide_groups, decide_users
from dsync_services.directory.decide_groups import MemberFacts
from dsync_services.directory.decisions import MembersChange, RemoveResource, SaveResource
from dsync_services.directory.decisions import StoredResource as Stored

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
T = uuid.uuid4()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _meta() -> dict[str, object]:
    return {"command_id": uuid.uuid4(), "tenant_id": T, "issued_at": NOW}


def _user(active: bool = True, version: int = 3) -> Stored:
    return Stored(uuid.uuid4(), {"schemas": [USER], "userName": "ada@x.test",
                                 "active": active, "displayName": "Ada"}, version, NOW, NOW)


def _types(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.type for e in decision.events]


def test_create_user_saves_version_1_and_emits_user_created_without_password() -> None:
    new_id = uuid.uuid4()
    d = decide_users.decide_create(CreateUser(**_meta(), resource={
        "schemas": [USER], "userName": "ada@x.test", "password": "secret"}), new_id, NOW)
    (save,) = d.writes
    assert isinstance(save, SaveResource) and save.version == 1 and save.id == new_id
    assert "password" not in save.doc
    assert d.outcome.status == 201 and _types(d) == ["user.created"]
    assert d.events[0].data["resource"]["id"] == str(new_id)


def test_deactivation_is_its_own_event_and_bumps_the_version() -> None:
    current = _user()
    d = decide_users.decide_patch(PatchUser(**_meta(), resource_id=current.id, operations=[
        {"op": "replace", "path": "active", "value": False}]), current, NOW)
    assert _types(d) == ["user.deactivated"]
    assert d.writes[0].version == 4 and d.writes[0].doc["active"] is False  # type: ignore[union-attr]
    again = decide_users.decide_patch(PatchUser(**_meta(), resource_id=current.id, operations=[
        {"op": "replace", "path": "active", "value": True},
        {"op": "replace", "path": "displayName", "value": "Ada L."}]),
        Stored(current.id, {**current.doc, "active": False}, 4, NOW, NOW), NOW)
    assert _types(again) == ["user.updated", "user.reactivated"]
    assert again.events[0].data["previous"] == {"displayName": "Ada"}


def test_a_patch_that_changes_nothing_writes_nothing() -> None:
    current = _user()
    d = decide_users.decide_patch(PatchUser(**_meta(), resource_id=current.id, operations=[
        {"op": "replace", "path": "displayName", "value": "Ada"}]), current, NOW)
    assert d.writes == () and d.events == () and d.outcome.status == 200


def test_if_match_and_missing_targets_are_rejected() -> None:
    current = _user(version=3)
    with pytest.raises(VersionMismatch):
        decide_users.decide_replace(ReplaceUser(**_meta(), resource_id=current.id,
                                                resource=current.doc, if_match='W/"2"'),
                                    current, NOW)
    ok = decide_users.decide_replace(ReplaceUser(**_meta(), resource_id=current.id,
                                                 resource={**current.doc, "title": "x"},
                                                 if_match='W/"3"'), current, NOW)
    assert ok.outcome.status == 200
    with pytest.raises(NotFound):
        decide_users.decide_delete(DeleteUser(**_meta(), resource_id=uuid.uuid4()), None, [])


def test_delete_user_removes_memberships_first_in_the_events() -> None:
    current = _user()
    groups = [uuid.uuid4(), uuid.uuid4()]
    d = decide_users.decide_delete(DeleteUser(**_meta(), resource_id=current.id), current,
                                   groups)
    assert d.writes == (RemoveResource("User", current.id),) and d.outcome.status == 204
    assert _types(d) == ["group.member_removed", "group.member_removed", "user.deleted"]


def test_create_group_checks_members_exist_and_emits_one_event_per_member() -> None:
    u1, u2 = str(uuid.uuid4()), str(uuid.uuid4())
    cmd = CreateGroup(**_meta(), resource={"schemas": [GROUP], "displayName": "eng",
                                           "members": [{"value": u1}, {"value": u2}]})
    d = decide_groups.decide_create(cmd, uuid.uuid4(), MemberFacts({u1: "User", u2: "User"},
                                                                   {}), NOW)
    assert _types(d) == ["group.created", "group.member_added", "group.member_added"]
    assert isinstance(d.writes[1], MembersChange) and len(d.writes[1].add) == 2
    with pytest.raises(InvalidValue, match="not a user or group"):
        decide_groups.decide_create(cmd, uuid.uuid4(), MemberFacts({u1: "User"}, {}), NOW)


def _group() -> Stored:
    return Stored(uuid.uuid4(), {"schemas": [GROUP], "displayName": "eng"}, 1, NOW, NOW)


def test_repeated_adds_and_removing_non_members_change_nothing() -> None:
    g, member = _group(), str(uuid.uuid4())
    from dsync.scim import resource_logic as logic

    ops = [{"op": "add", "path": "members", "value": [{"value": member}]}]
    cmd = PatchGroup(**_meta(), resource_id=g.id, operations=ops)
    result = logic.apply_patch(g.doc, logic.parse_patch_ops(ops), "Group")
    d = decide_groups.decide_patch(cmd, g, result, MemberFacts({member: "User"},
                                                               {member: "User"}), NOW)
    assert d.writes == () and d.events == ()  # already a member (JumpCloud repeats adds)
    ops = [{"op": "remove", "path": f'members[value eq "{member}"]'}]
    result = logic.apply_patch(g.doc, logic.parse_patch_ops(ops), "Group")
    d = decide_groups.decide_patch(PatchGroup(**_meta(), resource_id=g.id, operations=ops), g,
                                   result, MemberFacts({member: "User"}, {}), NOW)
    assert d.writes == () and d.events == ()


def test_full_member_push_removes_the_rest() -> None:
    g = _group()
    keep, drop, new = (str(uuid.uuid4()) for _ in range(3))
    from dsync.scim import resource_logic as logic

    ops = [{"op": "replace", "path": "members", "value": [{"value": keep}, {"value": new}]}]
    result = logic.apply_patch(g.doc, logic.parse_patch_ops(ops), "Group")
    d = decide_groups.decide_patch(
        PatchGroup(**_meta(), resource_id=g.id, operations=ops), g, result,
        MemberFacts({keep: "User", new: "User"}, {keep: "User", drop: "User"}), NOW)
    change = next(w for w in d.writes if isinstance(w, MembersChange))
    assert change.add == ((new, "User"),) and change.remove == frozenset({drop})
    assert _types(d) == ["group.member_removed", "group.member_added"]
    assert d.outcome.status == 204


def test_a_group_cannot_contain_itself_and_delete_reports_parents() -> None:
    g = _group()
    from dsync.scim import resource_logic as logic

    ops = [{"op": "add", "path": "members", "value": [{"value": str(g.id)}]}]
    result = logic.apply_patch(g.doc, logic.parse_patch_ops(ops), "Group")
    with pytest.raises(InvalidValue, match="itself"):
        decide_groups.decide_patch(PatchGroup(**_meta(), resource_id=g.id, operations=ops), g,
                                   result, MemberFacts({str(g.id): "Group"}, {}), NOW)
    parent = uuid.uuid4()
    d = decide_groups.decide_delete(DeleteGroup(**_meta(), resource_id=g.id), g, [parent])
    assert _types(d) == ["group.member_removed", "group.deleted"]
    assert d.events[0].subject == str(parent)
