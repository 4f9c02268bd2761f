"""SCIM filter → PostgreSQL compilation and sortBy/sortOrder, without a database.

Golden SQL for the shapes that matter (index-backed columns, EXISTS for multi-valued
attributes, group_members for groups/members), error cases with their scimType, and property
tests: no input raises anything but a SCIM error, and values never reach the SQL text.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsync.scim import errors
from dsync.scim.filter import DEFAULT_ORDER, SqlFragment, compile_filter, compile_sort

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GID = "6c5bb468-14b2-4183-baf2-06d523e03bd3"

# Every example filter of RFC 7644 §3.4.2.2 (Figure 2 and the text around it).
RFC7644_3_4_2_2 = {
    "rfc7644-3.4.2.2-username-eq": 'userName eq "bjensen"',
    "rfc7644-3.4.2.2-familyname-co": 'name.familyName co "O\'Malley"',
    "rfc7644-3.4.2.2-username-sw": 'userName sw "J"',
    "rfc7644-3.4.2.2-urn-username-sw": 'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    "rfc7644-3.4.2.2-title-pr": "title pr",
    "rfc7644-3.4.2.2-lastmodified-gt": 'meta.lastModified gt "2011-05-13T04:42:34Z"',
    "rfc7644-3.4.2.2-lastmodified-ge": 'meta.lastModified ge "2011-05-13T04:42:34Z"',
    "rfc7644-3.4.2.2-lastmodified-lt": 'meta.lastModified lt "2011-05-13T04:42:34Z"',
    "rfc7644-3.4.2.2-lastmodified-le": 'meta.lastModified le "2011-05-13T04:42:34Z"',
    "rfc7644-3.4.2.2-pr-and-eq": 'title pr and userType eq "Employee"',
    "rfc7644-3.4.2.2-pr-or-eq": 'title pr or userType eq "Intern"',
    "rfc7644-3.4.2.2-schemas-eq": f'schemas eq "{ENT}"',
    "rfc7644-3.4.2.2-and-grouped-or":
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    "rfc7644-3.4.2.2-ne-and-not":
        'userType ne "Employee" and not (emails co "example.com" or emails.value co '
        '"example.org")',
    "rfc7644-3.4.2.2-and-grouped-eq": 'userType eq "Employee" and (emails.type eq "work")',
    "rfc7644-3.4.2.2-and-value-path":
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    "rfc7644-3.4.2.2-value-path-or-value-path":
        'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co '
        '"@foo.com"]',
}


def _user(text: str, first: int = 1) -> SqlFragment:
    return compile_filter(text, "User", first_param=first)


def _placeholders(sql: str) -> list[int]:
    return sorted({int(n) for n in re.findall(r"\$(\d+)", sql)})


@pytest.mark.parametrize("text", RFC7644_3_4_2_2.values(), ids=RFC7644_3_4_2_2.keys())
@pytest.mark.parametrize("resource_type", ["User", "Group"])
def test_rfc7644_3_4_2_2_examples_compile(text: str, resource_type: str) -> None:
    fragment = compile_filter(text, resource_type, first_param=4)  # type: ignore[arg-type]
    assert _placeholders(fragment.sql) == list(range(4, 4 + len(fragment.params)))


GOLDEN: dict[str, tuple[str, str, list[object]]] = {
    "rfc7644-3.4.2.2-username-eq-uses-lower-index": (
        'userName eq "bjensen"', "(lower(r.user_name) = lower($3::text))", ["bjensen"]),
    "rfc7644-3.4.2.2-username-sw-escapes-like": (
        'userName sw "a_b%c!"', "(lower(r.user_name) LIKE lower($3::text) ESCAPE '!')",
        ["a!_b!%c!!%"]),
    "rfc7644-3.4.2.2-externalid-is-case-exact": (
        'externalId eq "X"', "(r.external_id IS NOT NULL AND r.external_id = $3::text)", ["X"]),
    "rfc7644-3.4.2.2-ne-is-not-eq": (
        'externalId ne "X"', "(NOT (r.external_id IS NOT NULL AND r.external_id = $3::text))",
        ["X"]),
    "rfc7644-3.4.2.2-title-pr": ("title pr", "COALESCE((r.doc->>'title') <> '', FALSE)", []),
    "rfc7644-3.4.2.2-eq-null-is-not-pr": (
        "title eq null", "(NOT COALESCE((r.doc->>'title') <> '', FALSE))", []),
    "rfc7644-3.4.2.2-active-eq": ("active eq true", "(r.active = $3::boolean)", [True]),
    "rfc7644-3.4.2.2-lastmodified-gt": (
        'meta.lastModified gt "2011-05-13T04:42:34Z"', "(r.updated_at > $3::timestamptz)",
        [datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)]),
    "rfc7644-3.4.2.2-created-offset-normalised-to-utc": (
        'meta.created le "2011-05-13T06:42:34+02:00"', "(r.created_at <= $3::timestamptz)",
        [datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)]),
    "rfc7644-3.4.2.2-id-eq-valid-uuid": (
        f'id eq "{GID.upper()}"', "(r.id = $3::uuid)", [uuid.UUID(GID)]),
    "rfc7644-3.4.2.2-id-eq-malformed-is-false": ('id eq "nope"', "FALSE", []),
    "rfc7644-3.4.2.2-resource-type-is-constant": ('meta.resourceType eq "Group"', "FALSE", []),
    "rfc7644-3.4.2.1-unknown-attribute-has-no-value": ('nickname2 eq "x"', "FALSE", []),
    "rfc7644-3.4.2.2-version-etag": ('meta.version eq "W/\\"7\\""', "(r.version = $3::bigint)",
                                     [7]),
    "rfc7644-3.4.2.2-emails-value-any": (
        'emails.value eq "a@b"',
        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r.doc->'emails') = "
        "'array' THEN r.doc->'emails' ELSE '[]'::jsonb END) AS e1(v) WHERE ((e1.v->>'value') "
        "IS NOT NULL AND lower((e1.v->>'value')) = lower($3::text)))", ["a@b"]),
    "rfc7644-3.4.2.2-enterprise-department": (
        f'{ENT}:department eq "Sales"',
        f"(((r.doc->'{ENT}')->>'department') IS NOT NULL AND lower(((r.doc->'{ENT}')->>"
        "'department')) = lower($3::text))", ["Sales"]),
}


@pytest.mark.parametrize(("text", "sql", "params"), GOLDEN.values(), ids=GOLDEN.keys())
def test_golden_user_sql(text: str, sql: str, params: list[object]) -> None:
    assert _user(text, first=3) == SqlFragment(sql, params)


def test_group_display_name_uses_lower_index_and_members_use_group_members() -> None:
    fragment = compile_filter(f'displayName eq "Admins" and members[value eq "{GID}"]', "Group",
                              first_param=2)
    assert fragment.sql == (
        "((lower(r.display_name) = lower($2::text)) AND EXISTS (SELECT 1 FROM group_members e1 "
        "WHERE e1.tenant_id = r.tenant_id AND e1.group_id = r.id AND (e1.member_id = $3::uuid)))")
    assert fragment.params == ["Admins", uuid.UUID(GID)]


def test_user_groups_come_from_group_members_of_this_user() -> None:
    sql = _user(f'groups.value eq "{GID}"').sql
    assert "gm.tenant_id = r.tenant_id AND gm.member_id = r.id" in sql
    assert sql.endswith("WHERE (e1.group_id = $1::uuid))")


def test_entra_string_booleans_and_value_path_sub_attribute() -> None:
    assert _user('active eq "False"').params == [False]
    fragment = _user('emails[type eq "work"].value eq "x"')
    assert fragment.params == ["work", "x"] and fragment.sql.count("EXISTS") == 1


def test_attribute_names_are_case_insensitive() -> None:
    assert _user('USERNAME eq "x"') == _user('userName eq "x"')
    assert _user('NAME.GIVENNAME eq "x"') == _user('name.givenName eq "x"')
    assert _user(f'{ENT.upper()}:DEPARTMENT eq "x"') == _user(f'{ENT}:department eq "x"')


def test_placeholders_start_at_first_param() -> None:
    fragment = _user('userName eq "a" or (title co "b" and emails[type eq "c"])', first=7)
    assert _placeholders(fragment.sql) == [7, 8, 9]
    assert fragment.params == ["a", "%b%", "c"]


@pytest.mark.parametrize(("text", "detail"), [
    ("active gt true", "gt is not defined for the boolean attribute active"),
    ('emails.primary lt "true"', "lt is not defined for the boolean attribute emails.primary"),
    ("active co true", "boolean"),
    ("active eq 1", "compare it with true or false"),
    ("userName eq true", "compare it with a quoted string"),
    ("userName eq 42", "compare it with a quoted string"),
    ('meta.created co "2011"', "co is not defined for the dateTime attribute"),
    ('meta.created gt "yesterday"', "is not a valid dateTime"),
    ("meta.created gt 5", "RFC 3339"),
    ('name eq "x"', "name is complex"),
    ("userName gt null", "null can only be compared with eq or ne"),
    ('meta.location eq "x"', "not filterable"),
    ('meta.version gt "1"', "supports only eq"),
    ('x509Certificates.value gt "a"', "binary"),
    ('userName[value eq "x"]', "neither multi-valued nor complex"),
    ('groups.$ref eq "x"', "not filterable"),
    ('userName eq "\\u0000"', "NUL"),
    ('userName eq "\\udc00"', "Unicode"),
    ('meta.created gt "0001-01-01T00:00:00+14:00"', "not a valid dateTime"),
    ('userName xx "a"', "the operator 'xx' is not supported"),
])
def test_invalid_filters_have_scim_type_invalid_filter(text: str, detail: str) -> None:
    with pytest.raises(errors.InvalidFilter) as caught:
        _user(text)
    assert caught.value.scim_type == "invalidFilter"
    assert detail in caught.value.detail


def test_caller_errors_are_not_scim_errors() -> None:
    with pytest.raises(ValueError, match="resource type"):
        compile_filter("title pr", "Widget", first_param=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first_param"):
        compile_filter("title pr", "User", first_param=0)


# -- sortBy / sortOrder (RFC 7644 §3.4.2.3) ---------------------------------------------

@pytest.mark.parametrize(("sort_by", "order", "expected"), [
    (None, None, DEFAULT_ORDER),
    (None, "descending", DEFAULT_ORDER),
    ("userName", None, 'lower(r.user_name) COLLATE "C" ASC NULLS LAST, r.id ASC'),
    ("username", "Descending", 'lower(r.user_name) COLLATE "C" DESC NULLS FIRST, r.id ASC'),
    ("externalId", "ascending", 'r.external_id COLLATE "C" ASC NULLS LAST, r.id ASC'),
    ("meta.lastModified", "descending", "r.updated_at DESC NULLS FIRST, r.id ASC"),
    ("id", None, "r.id ASC NULLS LAST, r.id ASC"),
    ("meta.resourceType", None, "r.id ASC"),
    ("name.familyName", None,
     """lower(((r.doc->'name')->>'familyName')) COLLATE "C" ASC NULLS LAST, r.id ASC"""),
])
def test_rfc7644_3_4_2_3_sort(sort_by: str | None, order: str | None, expected: str) -> None:
    assert compile_sort(sort_by, order, "User") == expected


def test_rfc7644_3_4_2_3_sort_multi_valued_by_primary_then_first() -> None:
    order = compile_sort("emails", None, "User")
    assert "ORDER BY COALESCE(s.v->'primary' = 'true'::jsonb, FALSE) DESC, s.n LIMIT 1" in order
    assert order.endswith("ASC NULLS LAST, r.id ASC")


@pytest.mark.parametrize(("sort_by", "order", "detail"), [
    ("userName", "up", "sortOrder must be 'ascending' or 'descending'"),
    ("nope", None, "not an attribute of User"),
    ("emails[type eq \"work\"]", None, "not an attribute"),
    ("name", None, "name a sub-attribute such as name.formatted"),
    ("groups", None, "cannot sort by"),
    ("schemas", None, "cannot sort by"),
    ("meta.location", None, "not filterable"),
])
def test_invalid_sort_raises_invalid_value(sort_by: str, order: str | None, detail: str) -> None:
    with pytest.raises(errors.InvalidValue) as caught:
        compile_sort(sort_by, order, "User")
    assert caught.value.scim_type == "invalidValue"
    assert detail in caught.value.detail


def test_group_sort_by_members_is_invalid_but_display_name_works() -> None:
    assert compile_sort("displayName", None, "Group").startswith("lower(r.display_name)")
    with pytest.raises(errors.InvalidValue):
        compile_sort("members.value", None, "Group")


# -- properties ---------------------------------------------------------------------------

_PATHS = ["userName", "displayName", "externalId", "id", "active", "title", "name.givenName",
          "name", "emails", "emails.value", "emails.primary", "emails.type", "groups.value",
          "groups.display", "members.value", "members.type", "members.display", "meta.created",
          "meta.lastModified", "meta.version", "meta.resourceType", "meta.location", "schemas",
          f"{ENT}:department", f"{ENT}:manager.value", "department", "x509Certificates.value",
          "nope", "NAME.FAMILYNAME", "urn:x:y:z"]
_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
_VALUE_TEXT = st.text(max_size=12)


def _json_string(text: str) -> str:
    return json.dumps(text)


_values = st.one_of(_VALUE_TEXT.map(_json_string), st.sampled_from(
    ["true", "false", "null", "0", "-1.5", "1e3", '"2011-05-13T04:42:34Z"', f'"{GID}"',
     '"W/\\"3\\""', '"\\u0000"', '"\\ud800"', "'x'", '"a"b"']))
_leaf = st.one_of(
    st.tuples(st.sampled_from(_PATHS), st.sampled_from(_OPS), _values).map(" ".join),
    st.sampled_from(_PATHS).map(lambda p: f"{p} pr"))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from([" and ", " or ", " AND ", "  or "]), children)
        .map("".join),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(["emails", "groups", "members", "name", "schemas", "meta",
                                   "userName", "nope"]), children)
        .map(lambda t: f"{t[0]}[{t[1]}]"),
    )


FILTERS = st.recursive(_leaf, _combine, max_leaves=8)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=FILTERS, resource_type=st.sampled_from(["User", "Group"]),
       first=st.integers(min_value=1, max_value=50))
def test_generated_filters_compile_or_raise_scim_errors(text: str, resource_type: str,
                                                        first: int) -> None:
    try:
        fragment = compile_filter(text, resource_type, first_param=first)  # type: ignore[arg-type]
    except errors.InvalidFilter:
        return
    assert _placeholders(fragment.sql) == list(range(first, first + len(fragment.params)))
    assert fragment.sql.isascii()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_invalid_filter(text: str) -> None:
    try:
        compile_filter(text, "User", first_param=1)
    except errors.InvalidFilter:
        pass


_MARKER = "\u2603"   # no compiled SQL contains non-ASCII text of its own
_STORABLE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                    min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(_PATHS), op=st.sampled_from(_OPS),
       a=_STORABLE, b=_STORABLE)
def test_values_are_bound_never_spliced(path: str, op: str, a: str, b: str) -> None:
    """Two filters differing only in the string value compile to the same SQL text, and
    that text never carries the value (nor SQL smuggled inside it)."""
    results = []
    for value in (f"{_MARKER}{a}'; DROP TABLE users; --", f"{_MARKER}{b}\\%_"):
        try:
            fragment = _user(f"{path} {op} {_json_string(value)}")
        except errors.InvalidFilter as exc:
            results.append(type(exc))
            continue
        assert _MARKER not in fragment.sql and "DROP" not in fragment.sql
        results.append(fragment.sql)
    assert results[0] == results[1]
