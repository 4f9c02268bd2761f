"""PATCH engine: golden samples (RFC 7644 §3.5.2 examples, captured Okta / Entra / JumpCloud
requests) and focused cases for paths, filters, mutability, primary and atomicity."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsync.scim.errors import InvalidPath, InvalidValue, Mutability, NoTarget, ScimError
from dsync.scim.resources import MemberRef, PatchOp, apply_patch, normalize_patch, validate_resource
from dsync.scim.schema import ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA

GOLDEN = Path(__file__).parent / "golden" / "patch"
E = ENTERPRISE_SCHEMA


def _delta_as_json(delta: Any) -> dict[str, Any] | None:
    if delta is None:
        return None
    def refs(items: list[MemberRef]) -> list[dict[str, Any]]:
        return [{"value": r.value, "type": r.type} for r in items]
    return {"add": refs(delta.add), "remove": sorted(delta.remove),
            "replace": None if delta.replace is None else refs(delta.replace),
            "remove_all": delta.remove_all}


@pytest.mark.parametrize("sample", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden(sample: Path) -> None:
    case = json.loads(sample.read_text())
    doc_before = copy.deepcopy(case["doc"])
    expected = case["expected"]
    if "error" in expected:
        with pytest.raises(ScimError) as caught:
            apply_patch(case["doc"], normalize_patch(case["request"]), case["resource_type"])
        assert caught.value.scim_type == expected["error"]
        assert case["doc"] == doc_before
        return
    result = apply_patch(case["doc"], normalize_patch(case["request"]), case["resource_type"])
    assert result.doc == expected["doc"]
    assert result.changed == expected["changed"]
    assert _delta_as_json(result.members) == expected.get("members", None if case[
        "resource_type"] == "User" else _delta_as_json(result.members))
    assert case["doc"] == doc_before  # the input is never modified


def test_golden_samples_cover_rfc_and_idps() -> None:
    names = {p.stem for p in GOLDEN.glob("*.json")}
    for prefix in ("rfc7644-3.5.2.1", "rfc7644-3.5.2.2", "rfc7644-3.5.2.3", "okta-", "entra-"):
        assert any(n.startswith(prefix) for n in names), prefix


USER: dict[str, Any] = {
    "schemas": [USER_SCHEMA], "userName": "bjensen", "displayName": "Babs",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [{"value": "b@work.example", "type": "work", "primary": True},
               {"value": "b@home.example", "type": "home"}],
    "active": True,
}


def patch(doc: dict[str, Any], *ops: dict[str, Any], rt: str = "User") -> Any:
    return apply_patch(doc, normalize_patch({"schemas": [PATCH_SCHEMA], "Operations": list(ops)}),
                       rt)


def test_add_simple_attribute_and_changed() -> None:
    result = patch(USER, {"op": "add", "path": "title", "value": "Tour Guide"})
    assert result.doc["title"] == "Tour Guide"
    assert result.changed == {"title": None}


def test_replace_complex_merges_sub_attributes() -> None:
    result = patch(USER, {"op": "replace", "path": "name", "value": {"familyName": "Smith"}})
    assert result.doc["name"] == {"givenName": "Barbara", "familyName": "Smith"}


def test_replace_multi_valued_without_filter_replaces_all() -> None:
    result = patch(USER, {"op": "replace", "path": "emails", "value": [{"value": "n@x.example"}]})
    assert result.doc["emails"] == [{"value": "n@x.example"}]


def test_remove_multi_valued_without_filter_unassigns() -> None:
    result = patch(USER, {"op": "remove", "path": "emails"})
    assert "emails" not in result.doc
    assert result.changed == {"emails": USER["emails"]}


def test_remove_last_extension_attribute_drops_extension_schema() -> None:
    doc = {**USER, "schemas": [USER_SCHEMA, E], E: {"department": "Tours"}}
    result = patch(doc, {"op": "remove", "path": f"{E}:department"})
    assert E not in result.doc
    assert result.doc["schemas"] == [USER_SCHEMA]


def test_add_extension_attribute_adds_extension_schema() -> None:
    result = patch(USER, {"op": "add", "path": f"{E}:costCenter", "value": "4130"})
    assert result.doc[E] == {"costCenter": "4130"}
    assert result.doc["schemas"] == [USER_SCHEMA, E]


def test_bare_extension_urn_path_add_and_remove() -> None:
    added = patch(USER, {"op": "add", "path": E,
                         "value": {"department": "Tours", "manager": {"value": "m1"}}})
    assert added.doc[E] == {"department": "Tours", "manager": {"value": "m1"}}
    removed = patch(added.doc, {"op": "remove", "path": E})
    assert E not in removed.doc and removed.doc["schemas"] == [USER_SCHEMA]


def test_urn_path_with_sub_attribute() -> None:
    result = patch(USER, {"op": "replace", "path": f"{E}:manager.value", "value": "m2"})
    assert result.doc[E] == {"manager": {"value": "m2"}}


def test_paths_are_case_insensitive() -> None:
    result = patch(USER, {"op": "replace", "path": "NAME.GIVENNAME", "value": "Babs"},
                   {"op": "replace", "path": 'EMAILS[TYPE EQ "WORK"].VALUE',
                    "value": "n@w.example"})
    assert result.doc["name"]["givenName"] == "Babs"
    assert result.doc["emails"][0]["value"] == "n@w.example"


def test_filter_with_and_or_not() -> None:
    result = patch(USER, {"op": "remove",
                          "path": 'emails[not (type eq "work") or value co "nothing"]'})
    assert [e["type"] for e in result.doc["emails"]] == ["work"]
    result = patch(USER, {"op": "replace", "path": 'emails[type eq "work" and primary eq true]',
                          "value": {"value": "z@w.example", "type": "work"}})
    assert result.doc["emails"][0] == {"value": "z@w.example", "type": "work"}


@pytest.mark.parametrize(("flt", "hits"), [
    ('value sw "b@"', 2), ('value ew ".example"', 2), ('value co "home"', 1),
    ('primary pr', 1), ('display pr', 0), ('type ne "work"', 1), ('value gt "b@i"', 1),
    ('value le "b@home.example"', 1), ('value ge "B@HOME.EXAMPLE"', 2), ('value lt "a"', 0),
    ('(type eq "work") or (type eq "home")', 2),
])
def test_filter_operators(flt: str, hits: int) -> None:
    result = patch(USER, {"op": "remove", "path": f"emails[{flt}]"})
    assert len(USER["emails"]) - len(result.doc.get("emails", [])) == hits


def test_filter_respects_case_exact() -> None:
    doc = {**USER, "externalId": "X"}
    # emails.value is caseExact false: matches regardless of case
    result = patch(doc, {"op": "remove", "path": 'emails[value eq "B@WORK.EXAMPLE"]'})
    assert len(result.doc["emails"]) == 1


def test_ordering_on_boolean_is_invalid_filter() -> None:
    with pytest.raises(ScimError) as caught:
        patch(USER, {"op": "remove", "path": "emails[primary gt true]"})
    assert caught.value.scim_type == "invalidFilter"


def test_add_with_filter_creates_from_eq_terms_only() -> None:
    result = patch(USER, {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value',
                          "value": "+1 555"})
    assert result.doc["phoneNumbers"] == [{"type": "mobile", "value": "+1 555"}]
    with pytest.raises(NoTarget):
        patch(USER, {"op": "add", "path": 'phoneNumbers[type co "mob"].value', "value": "1"})


def test_replace_filter_without_match_is_no_target() -> None:
    with pytest.raises(NoTarget):
        patch(USER, {"op": "replace", "path": 'emails[type eq "other"]', "value": {"value": "x"}})


def test_remove_filter_without_match_is_a_no_op() -> None:
    result = patch(USER, {"op": "remove", "path": 'emails[type eq "other"]'})
    assert result.doc == USER and result.changed == {}


def test_remove_sub_attribute_of_filtered_values() -> None:
    result = patch(USER, {"op": "remove", "path": 'emails[type eq "work"].primary'})
    assert result.doc["emails"][0] == {"value": "b@work.example", "type": "work"}


def test_remove_with_value_list_on_emails_removes_only_those() -> None:
    result = patch(USER, {"op": "remove", "path": "emails",
                          "value": [{"value": "b@home.example"}]})
    assert result.doc["emails"] == [USER["emails"][0]]


def test_two_primaries_in_one_add_is_invalid() -> None:
    with pytest.raises(InvalidValue):
        patch(USER, {"op": "add", "path": "emails", "value": [
            {"value": "1@x", "primary": True}, {"value": "2@x", "primary": True}]})


def test_type_errors_name_the_attribute() -> None:
    with pytest.raises(InvalidValue, match="active"):
        patch(USER, {"op": "replace", "path": "active", "value": "maybe"})
    with pytest.raises(InvalidValue, match="emails"):
        patch(USER, {"op": "add", "path": "emails", "value": [{"value": 42}]})
    with pytest.raises(InvalidValue, match="name"):
        patch(USER, {"op": "replace", "path": "name", "value": "Barbara"})


@pytest.mark.parametrize("path", ["id", "meta", "meta.created", "groups",
                                  f"{E}:manager.displayName"])
def test_read_only_targets_are_mutability(path: str) -> None:
    with pytest.raises(Mutability):
        patch(USER, {"op": "replace", "path": path, "value": "x"})


def test_required_attribute_cannot_be_removed_or_nulled() -> None:
    with pytest.raises(Mutability):
        patch(USER, {"op": "replace", "path": "userName", "value": None})
    with pytest.raises(InvalidValue):
        patch(USER, {"op": "replace", "path": "userName", "value": "  "})
    with pytest.raises(Mutability):
        patch({"schemas": [], "displayName": "g"}, {"op": "remove", "path": "displayName"},
              rt="Group")


def test_null_value_unassigns() -> None:
    result = patch(USER, {"op": "replace", "path": "displayName", "value": None})
    assert "displayName" not in result.doc


def test_password_is_accepted_and_never_stored() -> None:
    result = patch(USER, {"op": "replace", "path": "password", "value": "s3cret"},
                   {"op": "replace", "value": {"password": "other"}},
                   {"op": "remove", "path": "password"})
    assert "password" not in result.doc and result.changed == {}


def test_unknown_extension_is_ignored_unknown_core_attribute_is_invalid_path() -> None:
    result = patch(USER, {"op": "add", "path":
                          "urn:ietf:params:scim:schemas:extension:custom:2.0:User:badge",
                          "value": "x"})
    assert result.doc == USER
    with pytest.raises(InvalidPath):
        patch(USER, {"op": "add", "path": "shoeSize", "value": "42"})
    with pytest.raises(InvalidPath):
        patch(USER, {"op": "add", "path": "members", "value": [{"value": "x"}]})  # User


@pytest.mark.parametrize("path", ["name[givenName eq \"x\"]", "name.nope", "emails[", "a..b",
                                  'emails[type eq "work"]x', "emails[type zz 1]",
                                  f"{E}:nope", "urn:ietf:params:scim:schemas:core:2.0:Group:x"])
def test_bad_paths_are_invalid_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch(USER, {"op": "add", "path": path, "value": "x"})


def test_schemas_path_is_ignored() -> None:
    assert patch(USER, {"op": "add", "path": "schemas", "value": [E]}).doc == USER


def test_atomic_all_or_nothing() -> None:
    doc = copy.deepcopy(USER)
    with pytest.raises(NoTarget):
        patch(doc, {"op": "replace", "path": "displayName", "value": "changed"},
              {"op": "replace", "path": 'emails[type eq "nope"].value', "value": "x"})
    assert doc == USER


def test_apply_accepts_pathless_ops_built_directly() -> None:
    result = apply_patch(USER, [PatchOp("replace", None, {"active": "false"})], "User")
    assert result.doc["active"] is False
    with pytest.raises(NoTarget):
        apply_patch(USER, [PatchOp("remove", None)], "User")


def test_no_change_reports_nothing() -> None:
    result = patch(USER, {"op": "replace", "path": "active", "value": True})
    assert result.changed == {} and result.doc == USER


# ---- property: any operations either apply or raise a ScimError -------------------------

RICH_USER = json.loads((GOLDEN / "rfc7644-3.5.2.3-replace-pathless.json").read_text())["doc"]
GROUP_DOC = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g"}
PATHS = st.sampled_from([
    "active", "userName", "displayName", "nickName", "name", "name.givenName", "emails",
    "emails.value", "emails.primary", 'emails[type eq "work"]', 'emails[type eq "work"].value',
    'emails[primary eq true].primary', 'emails[value gt "a" or not (display pr)]',
    'addresses[type eq "work"].streetAddress', 'addresses[type eq "home"]', "members",
    'members[value eq "a"]', 'members[value eq "a" or value eq "b"]', f"{E}:manager",
    f"{E}:manager.value", f"{E}:manager.displayName", E, f"{E}:department",
    f"{USER_SCHEMA}:name.familyName", "id", "meta.created", "groups", "password", "schemas",
    "externalId", "x509Certificates", 'phoneNumbers[type eq "mobile"].value',
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "urn:x:y:z:attr",
]) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
           | st.sampled_from(["True", "false", "work", "home", "a", "b"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["value", "type", "primary", "display", "givenName", "familyName",
                     "active", "id", "displayName", "members", "department", "manager",
                     "streetAddress", f"{E}:department", "name.givenName", E, "$ref"])
    | st.text(max_size=5), inner, max_size=4), max_leaves=12)
OP_DICTS = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Replace"])},
    optional={"path": PATHS, "value": VALUES})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_ops=st.lists(OP_DICTS, min_size=1, max_size=4),
       target=st.sampled_from([("User", RICH_USER), ("User", USER), ("Group", GROUP_DOC)]))
def test_property_apply_patch_raises_only_scim_errors(
        raw_ops: list[dict[str, Any]], target: tuple[str, dict[str, Any]]) -> None:
    resource_type, doc = target
    before = copy.deepcopy(doc)
    try:
        ops = normalize_patch({"Operations": raw_ops})
    except ScimError:
        ops = [PatchOp(o["op"].lower(), o.get("path") if isinstance(o.get("path"), str)
                       else None, o.get("value")) for o in raw_ops]
    try:
        result = apply_patch(doc, ops, resource_type)
    except ScimError:
        assert doc == before
        return
    assert doc == before
    # the result is itself a valid stored document, exactly as validation would store it
    assert validate_resource(result.doc, resource_type, existing=doc)[0] == result.doc
