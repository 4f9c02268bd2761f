"""validate_resource: POST/PUT bodies -> stored documents (+ group members)."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsync.scim.errors import InvalidSyntax, InvalidValue, Mutability, ScimError
from dsync.scim.resources import MemberRef, normalize_resource, validate_resource
from dsync.scim.resources.validate import check_immutable
from dsync.scim.resources.values import check_simple, check_value
from dsync.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, Attr

E = ENTERPRISE_SCHEMA

# Okta's "Create User" request (Okta SCIM 2.0 reference).
OKTA_CREATE = {
    "schemas": [USER_SCHEMA], "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [], "password": "1mz050nq", "active": True,
}


def test_okta_create_user_is_stored_without_password_and_read_only_attributes() -> None:
    doc, members = validate_resource(OKTA_CREATE, "User", existing=None)
    assert members is None
    assert "password" not in doc and "groups" not in doc
    assert doc == {k: v for k, v in OKTA_CREATE.items() if k not in ("password", "groups")}


def test_id_and_meta_are_ignored() -> None:
    body = {**OKTA_CREATE, "id": "client-chosen", "meta": {"resourceType": "User"}}
    doc, _ = validate_resource(body, "User", existing=None)
    assert "id" not in doc and "meta" not in doc


def test_enterprise_extension_is_kept_under_its_urn() -> None:
    body = {"schemas": [USER_SCHEMA, E], "userName": "a",
            E: {"department": "Tours", "manager": {"value": "m1", "displayName": "Boss"}}}
    doc, _ = validate_resource(body, "User", existing=None)
    assert doc[E] == {"department": "Tours", "manager": {"value": "m1"}}  # displayName readOnly
    assert doc["schemas"] == [USER_SCHEMA, E]


def test_extension_attributes_need_the_extension_urn_in_schemas() -> None:
    with pytest.raises(InvalidValue, match="schemas"):
        validate_resource({"schemas": [USER_SCHEMA], "userName": "a", E: {"department": "x"}},
                          "User", existing=None)


def test_declared_but_empty_extension_is_dropped_from_schemas() -> None:
    doc, _ = validate_resource({"schemas": [USER_SCHEMA, E], "userName": "a", E: {}},
                               "User", existing=None)
    assert doc == {"schemas": [USER_SCHEMA], "userName": "a"}


@pytest.mark.parametrize("schemas", [None, "x", [], ["urn:other"], [GROUP_SCHEMA], [1]])
def test_schemas_must_include_the_core_urn(schemas: Any) -> None:
    body: dict[str, Any] = {"userName": "a"}
    if schemas is not None:
        body["schemas"] = schemas
    with pytest.raises(InvalidValue, match="schemas"):
        validate_resource(body, "User", existing=None)


@pytest.mark.parametrize("user_name", [None, "", "   ", 42, ["a"]])
def test_user_name_is_a_required_non_empty_string(user_name: Any) -> None:
    body: dict[str, Any] = {"schemas": [USER_SCHEMA]}
    if user_name is not None:
        body["userName"] = user_name
    with pytest.raises(InvalidValue, match="userName"):
        validate_resource(body, "User", existing=None)


def test_group_display_name_required() -> None:
    with pytest.raises(InvalidValue, match="displayName"):
        validate_resource({"schemas": [GROUP_SCHEMA]}, "Group", existing=None)


@pytest.mark.parametrize(("patch", "where"), [
    ({"active": "yes"}, "active"), ({"active": 1}, "active"),
    ({"emails": {"value": "x"}}, "emails"), ({"emails": ["x@y"]}, "emails[0]"),
    ({"emails": [{"value": "x", "primary": "sure"}]}, "emails[0].primary"),
    ({"name": "Barbara"}, "name"), ({"name": {"givenName": 3}}, "name.givenName"),
    ({"displayName": {"x": 1}}, "displayName"), ({"externalId": 12}, "externalId"),
    ({E: {"department": ["x"]}}, "department"), ({E: "x"}, E),
])
def test_type_errors_name_the_attribute(patch: dict[str, Any], where: str) -> None:
    body = {"schemas": [USER_SCHEMA, E], "userName": "a", **patch}
    with pytest.raises(InvalidValue) as caught:
        validate_resource(body, "User", existing=None)
    assert where in caught.value.detail


def test_at_most_one_primary() -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "a",
            "emails": [{"value": "1@x", "primary": True}, {"value": "2@x", "primary": True}]}
    with pytest.raises(InvalidValue, match="primary"):
        validate_resource(body, "User", existing=None)


def test_unknown_attributes_and_extensions_are_dropped() -> None:
    custom = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
    body = {"schemas": [USER_SCHEMA, custom], "userName": "a", "shoeSize": 42,
            custom: {"badge": "1"}, "name": {"givenName": "B", "nickname": "x"}}
    doc, _ = validate_resource(body, "User", existing=None)
    assert doc == {"schemas": [USER_SCHEMA], "userName": "a", "name": {"givenName": "B"}}


def test_nulls_and_empty_arrays_are_unassigned() -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "a", "title": None, "emails": [],
            "name": {"givenName": None}, "phoneNumbers": [None]}
    doc, _ = validate_resource(body, "User", existing=None)
    assert doc == {"schemas": [USER_SCHEMA], "userName": "a"}


def test_keys_are_matched_case_insensitively() -> None:
    doc, _ = validate_resource({"SCHEMAS": [USER_SCHEMA], "USERNAME": "a", "Active": False},
                               "User", existing=None)
    assert doc == {"schemas": [USER_SCHEMA], "userName": "a", "active": False}


def test_group_members_come_apart_from_the_doc() -> None:
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "externalId": "tg",
            "members": [{"value": "u1", "display": "Babs"}, {"value": "g2", "type": "Group"},
                        {"value": "u1"}]}
    doc, members = validate_resource(body, "Group", existing=None)
    assert doc == {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "externalId": "tg"}
    assert members == [MemberRef("u1"), MemberRef("g2", "Group")]


def test_group_without_members_has_an_empty_list() -> None:
    _, members = validate_resource({"schemas": [GROUP_SCHEMA], "displayName": "g",
                                    "members": None}, "Group", existing=None)
    assert members == []


def test_invalid_member_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match=r"members\[0\]"):
        validate_resource({"schemas": [GROUP_SCHEMA], "displayName": "g",
                           "members": [{"display": "no id"}]}, "Group", existing=None)


def test_put_with_existing_replaces() -> None:
    existing, _ = validate_resource(OKTA_CREATE, "User", existing=None)
    doc, _ = validate_resource({"schemas": [USER_SCHEMA], "userName": "renamed"}, "User",
                               existing=existing)
    assert doc == {"schemas": [USER_SCHEMA], "userName": "renamed"}


def test_immutable_attribute_cannot_change_once_set() -> None:
    badge = Attr("badge", mutability="immutable")
    check_immutable((badge,), {}, {"badge": "1"})  # unassigned before: may be set
    check_immutable((badge,), {"badge": "1"}, {"badge": "1"})
    with pytest.raises(Mutability):
        check_immutable((badge,), {"badge": "1"}, {"badge": "2"})


def test_not_an_object() -> None:
    with pytest.raises(InvalidSyntax):
        validate_resource([], "User", existing=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("attr", "value", "ok"), [
    (Attr("n", "integer"), 3, True), (Attr("n", "integer"), True, False),
    (Attr("n", "integer"), 3.5, False), (Attr("d", "decimal"), 3.5, True),
    (Attr("d", "decimal"), float("nan"), False), (Attr("t", "dateTime"),
                                                  "2011-08-01T21:32:44.882Z", True),
    (Attr("t", "dateTime"), "2011-08-01", False), (Attr("t", "dateTime"), "yesterday", False),
    (Attr("b", "binary"), "AAEC", True), (Attr("r", "reference"), 5, False),
])
def test_simple_types(attr: Attr, value: Any, ok: bool) -> None:
    if ok:
        assert check_simple(attr, value, attr.name) == value
    else:
        with pytest.raises(InvalidValue, match=attr.name):
            check_simple(attr, value, attr.name)


def test_check_value_multi_valued_simple() -> None:
    tags = Attr("tags", multi=True)
    assert check_value(tags, ["a", None, "b"]) == ["a", "b"]


# --- property: any JSON-ish body gives a doc or a ScimError, never anything else ---------
KEYS = st.sampled_from(["schemas", "userName", "UserName", "displayName", "name", "emails",
                        "active", "members", "id", "meta", "groups", "password", "externalId",
                        "addresses", "value", "primary", "type", "givenName", E,
                        "urn:scim:schemas:core:2.0", f"{E}:manager", "name.givenName",
                        "manager", "x509Certificates", "roles"]) | st.text(max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=10) | st.sampled_from(["True", "false", USER_SCHEMA, GROUP_SCHEMA,
                                                     E, "2011-08-01T21:32:44Z"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSONISH, rt=st.sampled_from(["User", "Group"]))
def test_property_only_scim_errors(body: Any, rt: str) -> None:
    if isinstance(body, dict) and rt == "User":
        body.setdefault("schemas", [USER_SCHEMA, E])
    for candidate in (body, {**body, "userName": "u", "displayName": "d"}
                      if isinstance(body, dict) else body):
        try:
            normalized = normalize_resource(candidate, rt)
            doc, _ = validate_resource(normalized, rt, existing=None)
            validate_resource(normalized, rt, existing=doc)
        except ScimError:
            pass
