"""Bulk request reading and bulkId references (RFC 7644 §3.7–3.7.2), pure."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsync.scim.errors import InvalidPath, InvalidSyntax, InvalidValue, ScimError, TooLarge
from dsync.scim.schema import BULK_REQUEST_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from dsync_services.gateway.bulk_refs import (
    UnresolvedReference,
    parse_operation,
    parse_path,
    parse_request,
    references,
    resolve_id,
    substitute,
)


def bulk(*ops: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schemas": [BULK_REQUEST_SCHEMA], "Operations": list(ops), **extra}


def post(bulk_id: str, path: str, **data: Any) -> dict[str, Any]:
    return {"method": "POST", "path": path, "bulkId": bulk_id, "data": data}


USER = {"schemas": [USER_SCHEMA], "userName": "alice"}


def test_rfc7644_3_7_2_user_then_group_with_member_reference() -> None:
    planned = parse_request(bulk(
        post("qwerty", "/Users", **USER),
        post("ytrewq", "/Groups", schemas=[GROUP_SCHEMA], displayName="Tour Guides",
             members=[{"type": "User", "value": "bulkId:qwerty"}])), 1000)
    assert planned.order == [0, 1]
    assert [op.error for op in planned.operations] == [None, None]
    assert planned.operations[1].refs == {"qwerty"}
    data = substitute(planned.operations[1].data, {"qwerty": "92b7"})
    assert data["members"] == [{"type": "User", "value": "92b7"}]


def test_rfc7644_3_7_2_forward_reference_runs_the_declaring_post_first() -> None:
    # Bob's manager is Alice, created by a later operation (the RFC's enterprise example).
    planned = parse_request(bulk(
        post("ytrewq", "/Users", userName="Bob", **{
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "manager": {"value": "bulkId:qwerty"}}}),
        post("qwerty", "/Users", userName="Alice"),
        {"method": "DELETE", "path": "/Users/5d8d29d3-342c-4b5f-8683-a3cb6763ffcc"}), 1000)
    assert planned.order == [1, 0, 2]
    assert all(op.error is None for op in planned.operations)


def test_rfc7644_3_7_1_circular_references_are_409() -> None:
    planned = parse_request(bulk(
        post("qwerty", "/Groups", displayName="A", members=[{"value": "bulkId:ytrewq"}]),
        post("ytrewq", "/Groups", displayName="B", members=[{"value": "bulkId:qwerty"}]),
        post("u", "/Users", userName="c"),
        post("g", "/Groups", displayName="D", members=[{"value": "bulkId:qwerty"}])), 1000)
    errors = [op.error for op in planned.operations]
    assert isinstance(errors[0], UnresolvedReference) and errors[0].status == 409
    assert isinstance(errors[1], UnresolvedReference)
    assert errors[2] is None
    assert isinstance(errors[3], UnresolvedReference)  # depends on the cycle
    assert planned.order == [2, 0, 1, 3]
    with pytest.raises(UnresolvedReference):  # a reference whose POST did not run
        substitute(planned.operations[3].data, {"u": "1"})


def test_self_reference_is_circular() -> None:
    planned = parse_request(bulk(post("a", "/Groups", displayName="A",
                                      members=[{"value": "bulkId:a"}])), 10)
    assert isinstance(planned.operations[0].error, UnresolvedReference)


def test_cycle_reached_through_a_cross_edge_is_found() -> None:
    # a -> b -> c -> a, and b -> d -> c: d is on a cycle too
    def grp(bid: str, *refs: str) -> dict[str, Any]:
        return post(bid, "/Groups", displayName=bid,
                    members=[{"value": f"bulkId:{r}"} for r in refs])
    planned = parse_request(bulk(grp("a", "b"), grp("b", "c", "d"), grp("c", "a"),
                                 grp("d", "c"), grp("e")), 10)
    assert [op.error is not None for op in planned.operations] == [True] * 4 + [False]


def test_undeclared_reference_is_invalid_value_and_others_go_on() -> None:
    planned = parse_request(bulk(
        {"method": "PATCH", "path": "/Users/bulkId:nope", "data": {"Operations": []}},
        post("u", "/Users", **USER)), 10)
    assert isinstance(planned.operations[0].error, InvalidValue)
    assert "nope" in planned.operations[0].error.detail
    assert planned.operations[1].error is None


def test_duplicate_bulk_id_fails_the_second_post() -> None:
    planned = parse_request(bulk(post("u", "/Users", **USER), post("u", "/Users", **USER)), 10)
    assert planned.operations[0].error is None
    assert isinstance(planned.operations[1].error, InvalidValue)


@pytest.mark.parametrize(("raw", "error"), [
    ("nope", InvalidSyntax),
    ({"method": "GET", "path": "/Users/x"}, InvalidSyntax),
    ({"path": "/Users", "bulkId": "a", "data": {}}, InvalidSyntax),
    ({"method": "POST", "path": "/Users", "data": {}}, InvalidSyntax),  # no bulkId
    ({"method": "POST", "path": "/Users/1", "bulkId": "a", "data": {}}, InvalidPath),
    ({"method": "PUT", "path": "/Users", "data": {}}, InvalidPath),
    ({"method": "PUT", "path": "/Users/1"}, InvalidSyntax),  # no data
    ({"method": "DELETE", "path": "/Widgets/1"}, InvalidPath),
    ({"method": "DELETE", "path": "/Users/1/x"}, InvalidPath),
    ({"method": "DELETE", "path": "/Users/1?x=1"}, InvalidPath),
    ({"method": "DELETE"}, InvalidPath),
    ({"method": "DELETE", "path": "/Users/1", "version": 3}, InvalidSyntax),
    ({"method": "POST", "path": "/Users", "bulkId": 7, "data": {}}, InvalidSyntax),
])
def test_bad_operations_carry_their_error(raw: Any, error: type[ScimError]) -> None:
    op = parse_operation(0, raw)
    assert isinstance(op.error, error), op.error


def test_operation_fields_are_case_insensitive_and_method_normalised() -> None:
    op = parse_operation(3, {"Method": "patch", "PATH": "groups/abc", "Data": {"x": 1},
                             "Version": 'W/"2"'})
    assert op.error is None
    assert (op.method, op.resource_type, op.resource_id, op.version) == (
        "PATCH", "Group", "abc", 'W/"2"')


def test_request_level_errors() -> None:
    with pytest.raises(InvalidSyntax):
        parse_request([], 10)
    with pytest.raises(InvalidSyntax):
        parse_request({"Operations": []}, 10)  # no schemas
    with pytest.raises(InvalidSyntax):
        parse_request(bulk(Operations=None), 10)
    with pytest.raises(TooLarge) as too_large:
        parse_request(bulk(*[post(str(i), "/Users") for i in range(11)]), 10)
    assert too_large.value.status == 413 and "10" in too_large.value.detail
    for bad in (0, -1, "1", True, 1.5):
        with pytest.raises(InvalidValue):
            parse_request(bulk(failOnErrors=bad), 10)
    assert parse_request(bulk(failOnErrors=2), 10).fail_on_errors == 2


def test_references_in_patch_value_paths_and_paths() -> None:
    data = {"Operations": [{"op": "remove", "path": 'members[value eq "bulkId:u1"]'},
                           {"op": "add", "path": "members", "value": [{"value": "bulkId:u2"}]}]}
    assert references(data) == {"u1", "u2"}
    out = substitute(data, {"u1": "A", "u2": "B"})
    assert out["Operations"][0]["path"] == 'members[value eq "A"]'
    assert out["Operations"][1]["value"] == [{"value": "B"}]
    assert resolve_id("bulkId:u1", {"u1": "A"}) == "A"
    assert resolve_id("plain", {}) == "plain"
    assert parse_path("/Users") == ("User", None)


def test_too_deep_data_is_invalid_value() -> None:
    deep: Any = "bulkId:x"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(InvalidValue):
        references(deep)
    with pytest.raises(InvalidValue):
        substitute(deep, {"x": "1"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["bulkId:a", "bulkId:b", "bulkId:", '"bulkId:a"']),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["method", "path", "bulkId", "data", "version", "Operations",
                         "schemas", "failOnErrors", "members", "value"]) | st.text(max_size=5),
        inner, max_size=5),
    max_leaves=30)
operations = st.fixed_dictionaries({}, optional={
    "method": st.sampled_from(["POST", "put", "PATCH", "DELETE", "GET", ""]) | json_values,
    "path": st.sampled_from(["/Users", "/Groups", "/Users/bulkId:a", "Groups/bulkId:b",
                             "/Users/x/y", "/Nope"]) | json_values,
    "bulkId": st.sampled_from(["a", "b", "c"]) | json_values,
    "data": json_values,
    "version": json_values,
}) | json_values


@settings(max_examples=300, deadline=None)
@given(st.lists(operations, max_size=8), json_values, st.integers(1, 10))
def test_no_input_raises_anything_but_a_scim_error(ops: list[Any], extra: Any,
                                                  limit: int) -> None:
    for body in (bulk(*ops), bulk(*ops, failOnErrors=extra), extra, {"Operations": ops}):
        try:
            planned = parse_request(body, limit)
        except ScimError:
            continue
        assert sorted(planned.order) == list(range(len(planned.operations)))
        position = {i: n for n, i in enumerate(planned.order)}
        declares = {op.bulk_id: op.index for op in reversed(planned.operations)
                    if op.method == "POST" and op.bulk_id}
        for op in planned.operations:  # a POST runs before the operations referencing it
            if op.error is None:
                assert all(position[declares[r]] < position[op.index] for r in op.refs)
        created: dict[str, str] = {}
        for i in planned.order:
            op = planned.operations[i]
            if op.error is not None:
                continue
            try:
                substitute(op.data, created)
                if op.resource_id:
                    resolve_id(op.resource_id, created)
            except ScimError:
                continue
            if op.bulk_id:
                created[op.bulk_id] = f"id-{i}"


class _ScriptedRun:
    """Stands in for BulkRun: answers each operation with a scripted status."""

    def __init__(self, statuses: dict[int, str], stop_at: int | None = None) -> None:
        self.statuses, self.stop_at, self.stopped, self.seen = statuses, stop_at, False, []

    async def run(self, op: Any) -> dict[str, Any]:
        self.seen.append(op.index)
        self.stopped = op.index == self.stop_at
        return {"index": op.index, "status": self.statuses.get(op.index, "201")}


async def test_execute_answers_in_request_order_and_stops_as_told() -> None:
    from dsync_services.gateway.scim_bulk import execute

    ops = [post("a", "/Groups", displayName="A", members=[{"value": "bulkId:b"}]),
           post("b", "/Users", **USER), post("c", "/Users", **USER), post("d", "/Users", **USER)]
    run = _ScriptedRun({})
    entries = await execute(parse_request(bulk(*ops), 10), run)  # type: ignore[arg-type]
    assert run.seen == [1, 0, 2, 3] and [e["index"] for e in entries] == [0, 1, 2, 3]
    run = _ScriptedRun({1: "409", 2: "400"})
    entries = await execute(parse_request(bulk(*ops, failOnErrors=2), 10), run)  # type: ignore[arg-type]
    assert [e["index"] for e in entries] == [0, 1, 2]  # stopped after the 2nd error
    run = _ScriptedRun({}, stop_at=0)  # the pipeline became unavailable
    entries = await execute(parse_request(bulk(*ops), 10), run)  # type: ignore[arg-type]
    assert [e["index"] for e in entries] == [0, 1]
