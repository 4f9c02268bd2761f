"""Parsing SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.10): the grammar we rely
on from scim2_models, our size limit, and error details."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scim2_models.path import (
    AttrPath,
    Comparison,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from dsync.scim import errors
from dsync.scim.filter.parser import MAX_FILTER_BYTES, parse_attr_path, parse_filter

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

@pytest.mark.parametrize("text", [
    'userName eq "bjensen"', "title pr", 'meta.lastModified gt "2011-05-13T04:42:34Z"',
    f'schemas eq "{ENT}"',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co '
    '"@foo.com"]',
])
def test_rfc7644_3_4_2_2_examples_round_trip(text: str) -> None:
    """The tree renders back to the same filter (so nothing was lost or re-grouped)."""
    assert str(parse_filter(text)) == text


def test_rfc7644_3_4_2_2_and_binds_tighter_than_or() -> None:
    tree = parse_filter("a pr or b pr and c pr")
    assert isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.or_
    assert tree.terms[0] == Present(AttrPath("a"))
    assert isinstance(tree.terms[1], LogicalExpr) and tree.terms[1].op == LogicalOperator.and_


def test_rfc7644_3_4_2_2_not_applies_to_its_group_only() -> None:
    tree = parse_filter("not (a pr) and b pr")
    assert isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.and_
    assert tree.terms[0] == Not(Present(AttrPath("a")))


def test_rfc7644_3_4_2_2_parentheses_group() -> None:
    tree = parse_filter("(a pr or b pr) and c pr")
    assert isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.and_


def test_keywords_and_operators_are_case_insensitive() -> None:
    tree = parse_filter('userName EQ "x" AND NOT (title PR) Or active Eq TRUE')
    assert isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.or_


def test_json_values_with_escapes_numbers_and_null() -> None:
    tree = parse_filter('a eq "q\\"uote\\\\ \\u00e9" or b eq -1.5e2 or c eq null or d eq false')
    assert isinstance(tree, LogicalExpr)
    values = [t.value for t in tree.terms if isinstance(t, Comparison)]
    assert values == ['q"uote\\ é', -150.0, None, False]


def test_urn_prefixed_path_splits_at_last_colon() -> None:
    tree = parse_filter(f'{ENT}:manager.value eq "m"')
    assert isinstance(tree, Comparison)
    assert tree.attr_path == AttrPath("manager", "value", ENT)


def test_entra_value_path_with_sub_attribute_comparison() -> None:
    tree = parse_filter('emails[type eq "work"].value eq "x"')
    assert isinstance(tree, ValuePath)
    assert str(tree.val_filter) == 'type eq "work" and value eq "x"'


@pytest.mark.parametrize(("text", "detail"), [
    ("", "empty"),
    ("   ", "empty"),
    ("userName", "expected '[' or an operator"),
    ('userName eq', "unexpected end of filter; expected a value"),
    ('userName eq "unterminated', "column"),
    ('userName regex "x"', "the operator 'regex' is not supported"),
    ("userName eq 'single quotes'", "column"),
    ('a eq "x" or', "unexpected end"),
    ("title pr and", "unexpected end"),
    ("not title pr", "column"),
    ('emails[type eq "work"', "unexpected end"),
    ('emails[type eq "work"]]', "column"),
    ('emails[value[type eq "x"]]', "column"),
    ('name.givenName[value eq "x"]', "sub-attribute"),
    ("a.b.c pr", "column"),
    ("a eq 1e999", "out of range"),
    ("(" * 40 + "a pr" + ")" * 39, "unexpected end"),
    ("not (" * 40 + "a pr" + ")" * 40, "nests more than 32"),
    ('x\'-- eq "a"', "column"),
])
def test_invalid_filters_raise_invalid_filter_with_detail(text: str, detail: str) -> None:
    with pytest.raises(errors.InvalidFilter) as caught:
        parse_filter(text)
    assert caught.value.scim_type == "invalidFilter"
    assert caught.value.status == 400
    assert detail in caught.value.detail


def test_filter_size_limit() -> None:
    clause = 'userName eq "x" or '
    at_limit = "title pr" + " " * (MAX_FILTER_BYTES - len("title pr"))
    parse_filter(at_limit)
    parse_filter(clause * (MAX_FILTER_BYTES // len(clause) - 1) + "title pr")
    with pytest.raises(errors.InvalidFilter, match="10241 bytes long"):
        parse_filter(at_limit + " ")
    with pytest.raises(errors.InvalidFilter, match="bytes long"):
        parse_filter('userName eq "' + "é" * (MAX_FILTER_BYTES // 2) + '"')   # bytes, not chars


def test_unencodable_text_is_invalid() -> None:
    with pytest.raises(errors.InvalidFilter, match="UTF-8"):
        parse_filter('userName eq "\ud800"')


@pytest.mark.parametrize(("text", "expected"), [
    ("userName", AttrPath("userName")),
    ("name.givenName", AttrPath("name", "givenName")),
    (f"{ENT}:manager.value", AttrPath("manager", "value", ENT)),
    (" emails ", AttrPath("emails")),
    ("members.$ref", AttrPath("members", "$ref")),
])
def test_parse_attr_path(text: str, expected: AttrPath) -> None:
    assert parse_attr_path(text) == expected


@pytest.mark.parametrize("text", ["", "a.b.c", "1abc", "a b", "emails[type eq \"x\"]", "a."])
def test_parse_attr_path_rejects_non_paths(text: str) -> None:
    assert parse_attr_path(text) is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_invalid_filter(text: str) -> None:
    try:
        parse_filter(text)
    except errors.InvalidFilter:
        pass


_TOKENS = st.sampled_from([
    "userName", "emails", "emails.value", "name.givenName", f"{ENT}:department", "urn:x:y",
    " eq ", " ne ", " co ", " sw ", " gt ", " pr", " and ", " or ", "not ", "(", ")", "[", "]",
    '"x"', '"\\u0000"', '"\\"', "true", "null", "12", "-0.5", ".", ":", " ", "\t", "$ref"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=25).map("".join))
def test_filter_ish_text_raises_only_invalid_filter(text: str) -> None:
    try:
        parse_filter(text)
    except errors.InvalidFilter:
        pass
