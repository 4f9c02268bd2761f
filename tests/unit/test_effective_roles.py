"""Effective roles from the membership graph and the mappings (pure)."""
from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from dsync.messages.events import CloudEvent
from dsync_services.roles.effective_roles import (
    Access,
    RolesChange,
    access_of,
    closure,
    effective_access,
    normalise_roles,
    roles_changes,
)
from dsync_services.roles.targets import mapping_targets, targets_of


def test_direct_membership_gives_the_groups_roles() -> None:
    a = access_of({"eng"}, {}, {"eng": ["deploy", "read"]}, active=True)
    assert a == Access(groups=("eng",), roles=("deploy", "read"))


def test_union_over_groups_sorted_and_deduplicated() -> None:
    a = access_of({"eng", "ops"}, {}, {"eng": ["read", "deploy"], "ops": ["read", "page"]},
                  active=True)
    assert a.roles == ("deploy", "page", "read")
    assert a.groups == ("eng", "ops")


def test_nested_groups_inherit_parents_roles_at_any_depth() -> None:
    parents = {"team": {"eng"}, "eng": {"company"}}
    mappings = {"company": ["employee"], "eng": ["deploy"], "team": ["team-lead"]}
    a = access_of({"team"}, parents, mappings, active=True)
    assert a.groups == ("company", "eng", "team")
    assert a.roles == ("deploy", "employee", "team-lead")


def test_a_parent_does_not_get_its_childrens_roles() -> None:
    parents = {"team": {"eng"}}
    assert access_of({"eng"}, parents, {"team": ["x"]}, active=True).roles == ()


def test_cycles_terminate_and_every_group_in_the_cycle_counts() -> None:
    parents = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    a = access_of({"a"}, parents, {"a": ["ra"], "b": ["rb"], "c": ["rc"]}, active=True)
    assert a.groups == ("a", "b", "c") and a.roles == ("ra", "rb", "rc")
    assert closure({"x"}, {"x": {"x"}}) == frozenset({"x"})


def test_inactive_user_keeps_groups_but_holds_no_roles() -> None:
    a = access_of({"eng"}, {}, {"eng": ["deploy"]}, active=False)
    assert a == Access(groups=("eng",), roles=())


def test_unmapped_groups_give_nothing() -> None:
    assert access_of({"eng"}, {}, {}, active=True).roles == ()


def test_effective_access_for_many_users_and_missing_users() -> None:
    out = effective_access(["u1", "u2", "gone"], {"u1": {"eng"}, "u2": set()}, {},
                           {"eng": ["deploy"]}, {"u1": True, "u2": True})
    assert out["u1"].roles == ("deploy",)
    assert out["u2"] == Access()
    assert out["gone"] == Access()  # not in the directory any more: nothing


def test_roles_changes_only_for_changed_roles() -> None:
    before = {"u1": Access(("g",), ("a",)), "u2": Access(("g",), ("a",))}
    after = {"u1": Access(("g", "h"), ("a",)), "u2": Access(("g",), ("a", "b")),
             "u3": Access(("g",), ("a",)), "u4": Access()}
    assert roles_changes(before, after) == [RolesChange("u2", ("a",), ("a", "b")),
                                            RolesChange("u3", (), ("a",))]


def test_normalise_roles() -> None:
    assert normalise_roles([" b", "a", "b", ""]) == ("a", "b")


@given(st.dictionaries(st.integers(0, 8), st.sets(st.integers(0, 8), max_size=3), max_size=9),
       st.sets(st.integers(0, 8), max_size=3))
def test_closure_is_the_reachable_set(parents: dict[int, set[int]], start: set[int]) -> None:
    got = closure(start, parents)
    assert start <= got
    for g in got:  # closed under parents
        assert parents.get(g, set()) <= got
    # and minimal: every member is reachable from start
    reach, frontier = set(start), set(start)
    while frontier:
        frontier = {p for g in frontier for p in parents.get(g, ())} - reach
        reach |= frontier
    assert got == reach


def _event(type_: str, subject: str, data: dict[str, object]) -> CloudEvent:
    return CloudEvent(id=str(uuid4()), source="/t", type=type_, subject=subject,  # type: ignore[arg-type]
                      time=datetime.now(UTC), tenantid=str(uuid4()), sequence=1, data=data)


def test_targets_of_user_and_membership_events() -> None:
    u, g, h = uuid4(), uuid4(), uuid4()
    assert targets_of(_event("user.deactivated", str(u), {})).users == {u}
    deleted = targets_of(_event("user.deleted", str(u), {"id": str(u)}))
    assert deleted.users == {u} and deleted.forget_user == u
    added = targets_of(_event("group.member_added", str(g),
                              {"group_id": str(g), "member_id": str(u), "member_type": "User"}))
    assert added.users == {u} and not added.groups
    nested = targets_of(_event("group.member_removed", str(g),
                               {"group_id": str(g), "member_id": str(h),
                                "member_type": "Group"}))
    assert nested.groups == {h} and not nested.users
    gone = targets_of(_event("group.deleted", str(g), {"id": str(g), "displayName": "x"}))
    assert gone.groups == {g} and gone.drop_mapping == g
    assert mapping_targets(g).groups == {g}


def test_targets_of_other_or_malformed_events_are_empty() -> None:
    assert targets_of(_event("user.updated", str(uuid4()), {})).empty
    assert targets_of(_event("access.roles_changed", str(uuid4()), {})).empty
    assert targets_of(_event("group.member_added", "x", {"member_id": "nope"})).empty
    assert targets_of(_event("user.deactivated", "not-a-uuid", {})).empty


def test_queued_recomputation_targets() -> None:
    from dsync_services.roles.queued import targets_for

    u, g = uuid4(), uuid4()
    assert targets_for("Group", g, True).groups == {g}
    assert targets_for("User", u, True).users == {u}
    gone = targets_for("User", u, False)
    assert gone.users == {u} and gone.forget_user == u
    assert targets_for("User", None, True).empty
