"""IdP dialects: normalize_resource (POST/PUT bodies) and normalize_patch (PatchOp
messages), with captured-style requests from Okta, Entra ID and OneLogin."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsync.scim.errors import InvalidPath, InvalidSyntax, InvalidValue, NoTarget, ScimError
from dsync.scim.resources import (
    PatchOp,
    normalize_patch,
    normalize_resource,
    patch_ops_from_dicts,
    validate_resource,
)
from dsync.scim.resources.dialects import coerce_simple
from dsync.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, Attr

E = ENTERPRISE_SCHEMA


# ---- normalize_resource -------------------------------------------------------------------

def test_entra_create_user_passes_through() -> None:
    # Microsoft Entra ID "Create User" request, as its SCIM tutorial shows it.
    body = {"schemas": [USER_SCHEMA, E], "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1", "active": True,
            "emails": [{"primary": True, "type": "work",
                        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName",
                     "givenName": "givenName"}, "roles": []}
    assert normalize_resource(body, "User") == body
    doc, _ = validate_resource(normalize_resource(body, "User"), "User", existing=None)
    assert "meta" not in doc and "roles" not in doc and doc["schemas"] == [USER_SCHEMA]


def test_entra_pascal_case_and_string_booleans() -> None:
    # Entra custom mappings (customappsso job): miscased names, "True"/"False" strings.
    body = {"Schemas": [USER_SCHEMA], "UserName": "ryan@contoso.com", "Active": "False",
            "Name": {"GivenName": "Ryan", "FAMILYNAME": "Lee"},
            "Emails": [{"Value": "ryan@contoso.com", "Type": "work", "Primary": "True"}],
            "Addresses": [{"Type": "work", "Primary": "false", "StreetAddress": "1 Main"}]}
    assert normalize_resource(body, "User") == {
        "schemas": [USER_SCHEMA], "userName": "ryan@contoso.com", "active": False,
        "name": {"givenName": "Ryan", "familyName": "Lee"},
        "emails": [{"value": "ryan@contoso.com", "type": "work", "primary": True}],
        "addresses": [{"type": "work", "primary": False, "streetAddress": "1 Main"}]}


@pytest.mark.parametrize(("raw", "expected"), [("True", True), ("FALSE", False),
                                               (" true ", True), ("yes", "yes"), (1, 1)])
def test_boolean_strings(raw: Any, expected: Any) -> None:
    out = normalize_resource({"active": raw}, "User")
    assert out["active"] == expected


def test_onelogin_draft_urns() -> None:
    # OneLogin sends the SCIM 2.0 draft URNs.
    body = {"schemas": ["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"],
            "userName": "jdoe@example.com", "name": {"givenName": "John", "familyName": "Doe"},
            "emails": [{"value": "jdoe@example.com", "primary": True}],
            "urn:scim:schemas:extension:enterprise:2.0": {"department": "Sales"}}
    out = normalize_resource(body, "User")
    assert out["schemas"] == [USER_SCHEMA, E]
    assert out[E] == {"department": "Sales"}
    doc, _ = validate_resource(out, "User", existing=None)
    assert doc[E] == {"department": "Sales"}
    group = normalize_resource({"schemas": ["urn:scim:schemas:core:2.0:Group"],
                                "displayName": "g"}, "Group")
    assert group["schemas"] == [GROUP_SCHEMA]


def test_entra_manager_as_bare_id() -> None:
    out = normalize_resource({"schemas": [USER_SCHEMA, E], "userName": "a",
                              E: {"Manager": "26118915-6090-4610-87e4-49d8ca9f808d"}}, "User")
    assert out[E] == {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}


def test_urn_prefixed_and_dotted_keys_in_a_body() -> None:
    out = normalize_resource({"schemas": [USER_SCHEMA, E], "userName": "a",
                              f"{E}:department": "Sales", f"{E}:manager.value": "m1",
                              "name.givenName": "Ann",
                              f"{USER_SCHEMA}:displayName": "Ann A"}, "User")
    assert out[E] == {"department": "Sales", "manager": {"value": "m1"}}
    assert out["name"] == {"givenName": "Ann"} and out["displayName"] == "Ann A"


def test_core_urn_as_a_key_is_flattened() -> None:
    out = normalize_resource({"schemas": [USER_SCHEMA], USER_SCHEMA: {"userName": "a"}}, "User")
    assert out["userName"] == "a"


def test_numbers_as_strings_for_numeric_attributes() -> None:
    assert coerce_simple(Attr("n", "integer"), " 42 ") == 42
    assert coerce_simple(Attr("n", "integer"), "4.2") == "4.2"
    assert coerce_simple(Attr("d", "decimal"), "4.5") == 4.5
    assert coerce_simple(Attr("s"), "42") == "42"


def test_unknown_attributes_are_left_for_validation() -> None:
    assert normalize_resource({"shoeSize": "42"}, "User") == {"shoeSize": "42"}


def test_normalize_resource_rejects_non_objects_only() -> None:
    with pytest.raises(InvalidSyntax):
        normalize_resource("x", "User")  # type: ignore[arg-type]


# ---- normalize_patch ----------------------------------------------------------------------

def ops(*items: dict[str, Any], schemas: Any = (PATCH_SCHEMA,)) -> list[PatchOp]:
    body: dict[str, Any] = {"Operations": list(items)}
    if schemas is not None:
        body["schemas"] = list(schemas) if isinstance(schemas, tuple) else schemas
    return normalize_patch(body)


def test_entra_capitalised_ops_and_string_booleans() -> None:
    assert ops({"op": "Replace", "path": "active", "value": "False"},
               {"op": "Add", "path": 'emails[type eq "work"].primary', "value": "True"},
               {"op": "Remove", "path": "title"}) == [
        PatchOp("replace", "active", False),
        PatchOp("add", 'emails[type eq "work"].primary', True),
        PatchOp("remove", "title")]


def test_okta_pathless_replace_active() -> None:
    assert ops({"op": "replace", "value": {"active": False}}) == [
        PatchOp("replace", "active", False)]


def test_okta_group_rename_ignores_id() -> None:
    assert ops({"op": "replace", "value": {"id": "abf4dd94", "displayName": "Test SCIMv2"}}) == [
        PatchOp("replace", "displayName", "Test SCIMv2")]


def test_pathless_urn_and_dotted_keys_expand_in_order() -> None:
    assert ops({"op": "Add", "value": {
        f"{E}:department": "Sales", "name.givenName": "Ann", "schemas": [USER_SCHEMA],
        E: {"costCenter": "42", "manager": "m1"}, "meta": {}, "shoeSize": 1,
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User:badge": "x",
        "active": "true"}}) == [
        PatchOp("add", f"{E}:department", "Sales"), PatchOp("add", "name.givenName", "Ann"),
        PatchOp("add", f"{E}:costCenter", "42"), PatchOp("add", f"{E}:manager", {"value": "m1"}),
        PatchOp("add", "active", True)]


def test_entra_add_manager_as_string() -> None:
    assert ops({"op": "Add", "path": f"{E}:manager", "value": "m1"}) == [
        PatchOp("add", f"{E}:manager", {"value": "m1"})]


def test_entra_remove_members_value_list_keeps_value() -> None:
    assert ops({"op": "Remove", "path": "members", "value": [{"value": "id1"}]}) == [
        PatchOp("remove", "members", [{"value": "id1"}])]


def test_missing_schemas_is_tolerated_wrong_schemas_is_not() -> None:
    assert ops({"op": "add", "path": "title", "value": "x"}, schemas=None)
    for schemas in ([], ["urn:ietf:params:scim:schemas:core:2.0:User"], "x"):
        with pytest.raises(InvalidSyntax):
            ops({"op": "add", "path": "title", "value": "x"}, schemas=schemas)


@pytest.mark.parametrize("body", [
    {"schemas": [PATCH_SCHEMA]}, {"Operations": []}, {"Operations": {"op": "add"}},
    {"Operations": ["add"]}, {"Operations": [{"op": "upsert", "path": "a", "value": 1}]},
    {"Operations": [{"path": "title", "value": 1}]}, {"Operations": [{"op": "add", "path": 3}]},
    [], "PATCH",
])
def test_malformed_messages_are_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidSyntax):
        normalize_patch(body)


def test_remove_without_path_is_no_target() -> None:
    with pytest.raises(NoTarget):
        ops({"op": "remove"})
    with pytest.raises(NoTarget):
        ops({"op": "remove", "path": "  "})


def test_add_without_value_or_with_non_object_pathless_value() -> None:
    with pytest.raises(InvalidValue):
        ops({"op": "add", "path": "title"})
    with pytest.raises(InvalidValue):
        ops({"op": "replace", "value": [1, 2]})


def test_malformed_path() -> None:
    with pytest.raises(InvalidPath):
        ops({"op": "add", "path": 'emails[type eq "work"', "value": "x"})


def test_keys_are_case_insensitive() -> None:
    assert normalize_patch({"SCHEMAS": [PATCH_SCHEMA.upper()], "operations": [
        {"OP": "ADD", "Path": "title", "Value": "x"}]}) == [PatchOp("add", "title", "x")]


def test_round_trip_through_dicts_is_identity() -> None:
    original = ops({"op": "Replace", "value": {"active": "False", "name.givenName": "A"}},
                   {"op": "remove", "path": 'members[value eq "x"]'},
                   {"op": "remove", "path": "members", "value": [{"value": "y"}]},
                   {"op": "add", "path": "title", "value": None})
    assert patch_ops_from_dicts([o.as_dict() for o in original]) == original
    assert patch_ops_from_dicts([]) == []


# ---- property: arbitrary patch bodies raise only ScimError --------------------------------
PATHS = st.sampled_from([
    "active", "userName", "displayName", "name", "name.givenName", "emails", "emails.value",
    'emails[type eq "work"]', 'emails[type eq "work"].value', 'emails[primary eq true]',
    'addresses[type eq "work"].streetAddress', "members", 'members[value eq "a"]',
    'members[value eq "a" or value eq "b"]', f"{E}:manager", f"{E}:manager.value", E,
    f"{USER_SCHEMA}:name.familyName", "id", "meta.created", "groups", "password", "schemas",
    "x509Certificates", 'emails[value co "x" and not (type eq "home")]', "urn:x:y:z",
    'members[display eq "x"]', "emails[", 'emails[type eq "work"].', "",
]) | st.text(max_size=20)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=8) | st.sampled_from(["True", "False", "work", "a"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["value", "type", "primary", "display", "givenName", "active", "id",
                     "displayName", "members", f"{E}:department", "name.givenName", E])
    | st.text(max_size=6), inner, max_size=4), max_leaves=15)
OPS = st.fixed_dictionaries({"op": st.sampled_from(["add", "Add", "replace", "Replace",
                                                    "remove", "REMOVE", "move"]) | SCALARS},
                            optional={"path": PATHS | SCALARS, "value": JSONISH})
BODIES = st.fixed_dictionaries({"Operations": st.lists(OPS, max_size=4) | JSONISH},
                               optional={"schemas": st.just([PATCH_SCHEMA]) | JSONISH}) | JSONISH


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES)
def test_property_normalize_patch_raises_only_scim_errors(body: Any) -> None:
    try:
        normalize_patch(body)
    except ScimError:
        pass


def test_entra_app_role_assignment_with_string_primary() -> None:
    # Entra's AssertiveAppRoleAssignmentsComplex mapping sends roles with "True" strings.
    [op] = ops({"op": "Add", "path": "roles", "value": [
        {"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]})
    assert op == PatchOp("add", "roles", [
        {"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}])
