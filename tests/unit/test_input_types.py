"""Type checks on query / SearchRequest parameters and on text the database cannot store."""
from __future__ import annotations

import pytest

from dsync.scim.errors import InvalidValue
from dsync.scim.text_check import check_json
from dsync.tokens import bearer
from dsync_services.gateway import scim_params


@pytest.mark.parametrize("params", [
    {"filter": 1}, {"sortBy": 1}, {"sortOrder": ["ascending"]}, {"startIndex": 1.5},
    {"startIndex": True}, {"count": "1e3"}, {"startIndex": "99999999999999999999"},
    {"startIndex": 2**31}, {"attributes": {"a": 1}}, {"excludedAttributes": [1]},
    {"cursor": 5}, {"count": "1" * 5000},
])
def test_wrongly_typed_parameter_is_invalid_value(params: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        scim_params.parse(params)


def test_well_typed_parameters_parse() -> None:
    p = scim_params.parse({"filter": "userName pr", "startIndex": "3", "count": 10**12,
                           "attributes": "userName, emails", "sortOrder": "Descending"})
    assert (p.filter, p.start_index, p.count) == ("userName pr", 3, scim_params.MAX_COUNT)
    assert p.attributes == ["userName", "emails"] and p.sort_order == "Descending"


@pytest.mark.parametrize("doc", [
    "a\x00b", "\ud800", {"k\x00": 1}, [{"x": ["\udfff"]}], float("inf"), {"n": float("nan")},
])
def test_unstorable_json_is_invalid_value(doc: object) -> None:
    with pytest.raises(InvalidValue):
        check_json(doc)


def test_storable_json_passes() -> None:
    check_json({"userName": "zoë 😀", "n": [1, 2.5, None, True], "nested": {"a": "b"}})


@pytest.mark.parametrize("header", ["Bearer \udcff", "Bearer é", "Bearer a\x01b"])
def test_bearer_with_non_ascii_bytes_is_no_token(header: str) -> None:
    assert bearer(header) is None


def test_limits_refuse_long_names_deep_filters_and_big_patches() -> None:
    from dsync.scim.errors import InvalidFilter, TooMany
    from dsync.scim.limits import ScimLimits, check_filter, check_patch, check_strings

    limits = ScimLimits.model_construct()
    check_strings({"userName": "u" * 512, "title": "t" * 16_384}, limits)
    for body in ({"userName": "u" * 513}, {"members": [{"value": "m", "displayName": "d" * 513}]},
                 {"Operations": [{"op": "replace", "path": "externalId", "value": "e" * 513}]},
                 {"title": "t" * 16_385}):
        with pytest.raises(InvalidValue):
            check_strings(body, limits)
    check_filter("(" * 16 + "a pr" + ")" * 16, limits)
    check_filter('userName eq "((((((((((((((((((((("', limits)  # inside a string
    with pytest.raises(InvalidFilter):
        check_filter("(" * 17 + "a pr" + ")" * 17, limits)
    check_patch({"Operations": [{"op": "add", "path": "members",
                                 "value": [{"value": str(i)} for i in range(20_000)]}]}, limits)
    with pytest.raises(TooMany):
        check_patch({"Operations": [{"op": "add", "value": {
            "members": [{"value": str(i)} for i in range(20_001)]}}]}, limits)
    with pytest.raises(TooMany):
        check_patch({"operations": [{"op": "remove", "path": "title"}] * 1001}, limits)
    with pytest.raises(TooMany):
        scim_params.parse({"attributes": ",".join(["a"] * 101)}, limits)
