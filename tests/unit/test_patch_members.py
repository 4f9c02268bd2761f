"""Group members through PATCH: the doc is never touched, a MembersDelta comes out."""
from __future__ import annotations

from typing import Any

import pytest

from dsync.scim.errors import InvalidFilter, InvalidPath, InvalidValue, Mutability
from dsync.scim.resources import MemberRef, MembersDelta, apply_patch, normalize_patch
from dsync.scim.resources.patch.members import MembersDeltaBuilder
from dsync.scim.schema import GROUP_SCHEMA, PATCH_SCHEMA

GROUP = {"schemas": [GROUP_SCHEMA], "displayName": "Engineering"}


def delta(*ops: dict[str, Any]) -> MembersDelta:
    result = apply_patch(GROUP, normalize_patch({"schemas": [PATCH_SCHEMA],
                                                 "Operations": list(ops)}), "Group")
    assert result.doc == GROUP
    assert result.members is not None
    return result.members


def ids(refs: list[MemberRef] | None) -> list[str]:
    return [r.value for r in refs or []]


def test_add_members_in_order_with_types() -> None:
    d = delta({"op": "add", "path": "members", "value": [
        {"value": "u1", "type": "user"}, {"value": "g1", "$ref": "https://x/scim/v2/Groups/g1"},
        {"value": "u2", "display": "ignored"}]})
    assert d.add == [MemberRef("u1", "User"), MemberRef("g1", "Group"), MemberRef("u2")]
    assert not d.remove and d.replace is None and not d.remove_all


def test_single_member_object_is_accepted() -> None:
    assert ids(delta({"op": "add", "path": "members", "value": {"value": "u1"}}).add) == ["u1"]


def test_remove_by_or_chain_of_value_eq() -> None:
    d = delta({"op": "remove", "path": 'members[value eq "a" or value eq "b" or VALUE EQ "c"]'})
    assert d.remove == {"a", "b", "c"}


def test_remove_with_value_list_removes_only_those_not_all() -> None:
    d = delta({"op": "Remove", "path": "members", "value": [{"value": "a"}, {"Value": "b"}]})
    assert d.remove == {"a", "b"} and not d.remove_all


def test_remove_without_value_removes_all() -> None:
    assert delta({"op": "remove", "path": "members"}).remove_all


def test_add_then_remove_same_member_cancels() -> None:
    d = delta({"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
              {"op": "remove", "path": 'members[value eq "a"]'})
    assert ids(d.add) == ["b"] and d.remove == {"a"}


def test_remove_then_add_same_member_keeps_it() -> None:
    d = delta({"op": "remove", "path": 'members[value eq "a"]'},
              {"op": "add", "path": "members", "value": [{"value": "a"}]})
    assert ids(d.add) == ["a"] and not d.remove


def test_replace_then_add_and_remove_fold_into_replace() -> None:
    d = delta({"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
              {"op": "add", "path": "members", "value": [{"value": "c"}]},
              {"op": "remove", "path": 'members[value eq "a"]'})
    assert ids(d.replace) == ["b", "c"]
    assert not d.add and not d.remove and not d.remove_all


def test_replace_with_empty_list_or_null_empties_the_group() -> None:
    assert delta({"op": "replace", "path": "members", "value": []}).replace == []
    assert delta({"op": "replace", "path": "members", "value": None}).replace == []


def test_pathless_replace_with_members_is_a_full_replace() -> None:
    d = delta({"op": "replace", "value": {"displayName": "Engineering",
                                          "members": [{"value": "a"}]}})
    assert ids(d.replace) == ["a"]


def test_jumpcloud_repeated_adds_are_deduplicated() -> None:
    d = delta(*[{"op": "add", "path": "members", "value": [{"value": "a"}]}] * 5)
    assert ids(d.add) == ["a"]


def test_empty_delta_when_no_members_op() -> None:
    result = apply_patch(GROUP, normalize_patch({"Operations": [
        {"op": "replace", "path": "displayName", "value": "Eng"}]}), "Group")
    assert result.members is not None and result.members.is_empty
    assert result.changed == {"displayName": "Engineering"}


@pytest.mark.parametrize(("op", "error"), [
    ({"op": "remove", "path": 'members[display eq "x"]'}, InvalidFilter),
    ({"op": "remove", "path": 'members[value co "x"]'}, InvalidFilter),
    ({"op": "remove", "path": 'members[value eq "x" and type eq "User"]'}, InvalidFilter),
    ({"op": "add", "path": 'members[value eq "x"]', "value": {"value": "x"}}, InvalidPath),
    ({"op": "replace", "path": 'members[value eq "x"].display', "value": "y"}, Mutability),
    ({"op": "replace", "path": "members.value", "value": "y"}, Mutability),
    ({"op": "add", "path": "members", "value": [{"display": "no value"}]}, InvalidValue),
    ({"op": "add", "path": "members", "value": [{"value": ""}]}, InvalidValue),
    ({"op": "add", "path": "members", "value": ["u1"]}, InvalidValue),
    ({"op": "add", "path": "members", "value": [{"value": "u1", "type": "Robot"}]},
     InvalidValue),
    ({"op": "remove", "path": "members", "value": [{"nope": 1}]}, InvalidValue),
])
def test_malformed_members_ops(op: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        delta(op)


def test_builder_invariants() -> None:
    builder = MembersDeltaBuilder()
    builder.remove_all()
    builder.remove({"x"})
    builder.add([MemberRef("a")])
    d = builder.build()
    assert d.remove_all and not d.remove and ids(d.add) == ["a"]


def test_ten_thousand_member_add_dedupes_overlapping_ops() -> None:
    members = [{"value": f"{i:08d}-0000-0000-0000-000000000000", "display": f"u{i}"}
               for i in range(10_000)]
    body = {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": members[:1000]},
                           {"op": "add", "path": "members", "value": members}]}
    result = apply_patch(GROUP, normalize_patch(body), "Group")
    assert result.members is not None and len(result.members.add) == 10_000


def test_remove_filter_with_many_ids() -> None:
    chain = " or ".join(f'value eq "id-{i}"' for i in range(2000))
    d = delta({"op": "remove", "path": f"members[{chain}]"})
    assert len(d.remove) == 2000
