"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) on rendered resources."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsync.scim.filter import project

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"

USER: dict[str, Any] = {
    "schemas": [CORE, ENT],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "bjensen",
    "userName": "bjensen",
    "displayName": "Babs Jensen",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "password": "never shown",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
               {"value": "babs@jensen.org", "type": "home"}],
    "active": True,
    ENT: {"department": "Tour Operations", "manager": {"value": "26118915", "displayName": "J"}},
    "groups": [{"value": "e9e30dba", "display": "Tour Guides", "type": "direct"}],
    "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
             "lastModified": "2011-05-13T04:42:34Z", "version": 'W/"3"'},
}
GROUP: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id": "e9e30dba", "displayName": "Tour Guides", "externalId": "tg",
    "members": [{"value": "2819c223", "display": "Babs Jensen", "type": "User"}],
    "meta": {"resourceType": "Group", "version": 'W/"1"'},
}
ALWAYS = {"schemas": USER["schemas"], "id": USER["id"], "userName": "bjensen"}


def _user(attributes: list[str] | None = None, excluded: list[str] | None = None) -> dict:
    return project(USER, "User", attributes=attributes, excluded=excluded)


def test_rfc7644_3_4_2_5_no_parameters_returns_default_set() -> None:
    expected = {k: v for k, v in USER.items() if k != "password"}
    assert _user() == expected
    assert _user([], []) == expected


def test_rfc7644_3_4_2_5_attributes_keep_only_named_plus_always() -> None:
    assert _user(["emails"]) == {**ALWAYS, "emails": USER["emails"]}
    assert _user(["displayName", "ACTIVE"]) == {**ALWAYS, "displayName": "Babs Jensen",
                                               "active": True}


def test_rfc7644_3_4_2_5_sub_attributes() -> None:
    assert _user(["name.givenName"]) == {**ALWAYS, "name": {"givenName": "Barbara"}}
    assert _user(["emails.value"]) == {
        **ALWAYS, "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]}
    assert _user(["emails.value", "emails.type"])["emails"][1] == {
        "value": "babs@jensen.org", "type": "home"}
    assert _user(["emails.value", "emails"])["emails"] == USER["emails"]
    assert _user(["meta.lastModified"])["meta"] == {"lastModified": "2011-05-13T04:42:34Z"}


def test_rfc7644_3_4_2_5_urn_prefixed_names_and_extensions() -> None:
    assert _user([f"{CORE}:userName", f"{CORE}:name.familyName"]) == {
        **ALWAYS, "name": {"familyName": "Jensen"}}
    assert _user([f"{ENT}:department"]) == {**ALWAYS, ENT: {"department": "Tour Operations"}}
    assert _user([f"{ENT}:manager.value"]) == {**ALWAYS, ENT: {"manager": {"value": "26118915"}}}
    assert _user([ENT]) == {**ALWAYS, ENT: USER[ENT]}
    assert _user(["department"]) == {**ALWAYS, ENT: {"department": "Tour Operations"}}


def test_rfc7644_3_4_2_5_excluded_attributes() -> None:
    out = _user(excluded=["emails", "name.givenName", "groups"])
    assert "emails" not in out and "groups" not in out
    assert out["name"] == {"familyName": "Jensen"}
    assert out["displayName"] == "Babs Jensen"
    assert "emails" not in _user(excluded=["EMAILS"])
    assert _user(excluded=["emails.type"])["emails"] == [
        {"value": "bjensen@example.com", "primary": True}, {"value": "babs@jensen.org"}]


def test_rfc7644_3_4_2_5_excluded_extension_parts() -> None:
    assert ENT not in _user(excluded=[ENT])
    assert _user(excluded=[f"{ENT}:department"])[ENT] == {"manager": USER[ENT]["manager"]}
    assert ENT not in _user(excluded=[f"{ENT}:department", f"{ENT}:manager"])


def test_rfc7643_returned_always_attributes_cannot_be_excluded() -> None:
    out = _user(excluded=["id", "userName", "schemas", "displayName"])
    assert {k: out[k] for k in ALWAYS} == ALWAYS
    assert "displayName" not in out                 # User displayName is returned "default"
    group = project(GROUP, "Group", attributes=["members"], excluded=["displayName"])
    assert group["displayName"] == "Tour Guides"    # Group displayName is returned "always"


def test_returned_never_is_dropped_even_when_asked() -> None:
    assert "password" not in _user(["password"])
    assert "password" not in _user()


def test_group_excluded_members() -> None:
    assert project(GROUP, "Group", attributes=None, excluded=["members"]) == {
        k: v for k, v in GROUP.items() if k != "members"}
    assert project(GROUP, "Group", attributes=["members.value"], excluded=None) == {
        "schemas": GROUP["schemas"], "id": "e9e30dba", "displayName": "Tour Guides",
        "members": [{"value": "2819c223"}]}


def test_comma_separated_names_and_unknown_names() -> None:
    assert _user(["name.givenName, active"]) == _user(["name.givenName", "active"])
    assert _user(["nope", "emails[type eq \"work\"]", "a.b.c", "urn:x:y"]) == ALWAYS
    assert _user(excluded=["nope"]) == _user()


def test_empty_sub_selection_drops_the_attribute() -> None:
    assert "name" not in _user(["name.middleName"])
    assert "emails" not in _user(["emails.display"])


@pytest.mark.parametrize("resource", [USER, GROUP])
def test_input_is_not_modified(resource: dict) -> None:
    before = copy.deepcopy(resource)
    kind = "User" if resource is USER else "Group"
    project(resource, kind, attributes=["emails.value", "members.value", "name.givenName"],
            excluded=["emails.type", "meta.version"])
    assert resource == before


_NAMES = st.sampled_from([
    "id", "userName", "name", "name.givenName", "emails", "emails.value", "members",
    "members.value", "displayName", "meta", "meta.version", ENT, f"{ENT}:department", "groups",
    "nope", "", " ", ",", "a.b.c", "urn:x", "$ref", "EMAILS.TYPE"]) | st.text(max_size=15)


@settings(max_examples=300, deadline=None)
@given(attributes=st.none() | st.lists(_NAMES, max_size=5),
       excluded=st.none() | st.lists(_NAMES, max_size=5),
       kind=st.sampled_from(["User", "Group"]))
def test_projection_never_fails_and_keeps_always_attributes(
        attributes: list[str] | None, excluded: list[str] | None, kind: str) -> None:
    resource = USER if kind == "User" else GROUP
    out = project(resource, kind, attributes=attributes, excluded=excluded)  # type: ignore[arg-type]
    assert out["id"] == resource["id"] and out["schemas"] == resource["schemas"]
    assert "password" not in out
