"""Every limit the SCIM edge enforces on a request, in one settings class, and the pure
checks that apply them. `/ServiceProviderConfig` advertises the ones RFC 7643 §5 has words
for (bulk, `filter.maxResults`); `docs/limits.md` lists them all with their settings.

A request over a limit is refused before anything is recorded or queued: 400 (`tooMany`
for a count, `invalidValue` for a length, `invalidFilter` for a filter) or 413 for a body.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from dsync.scim.errors import InvalidFilter, InvalidValue, TooMany
from dsync.scim.filter.parser import MAX_FILTER_BYTES
from dsync.settings import _Frozen

NAME_ATTRIBUTES = frozenset({"username", "externalid", "displayname"})
"""Attributes held to `max_name_chars` wherever they appear (core, members, PATCH values)."""
FILTER_DEPTH_CEILING = 32
"""The filter grammar's own nesting ceiling: `max_filter_depth` cannot be raised above it."""


class ScimLimits(_Frozen):
    """`DSYNC_<FIELD>` for each field (e.g. `DSYNC_MAX_NAME_CHARS`); see docs/limits.md."""

    bulk_max_operations: int = Field(1000, ge=1, le=100_000)
    bulk_max_payload_bytes: int = Field(1_048_576, ge=1024, le=64 * 1024 * 1024)
    max_name_chars: int = Field(512, ge=16, le=65_536)
    max_value_chars: int = Field(16_384, ge=256, le=1_048_576)
    max_attribute_names: int = Field(100, ge=1, le=10_000)
    max_filter_chars: int = Field(4096, ge=64, le=MAX_FILTER_BYTES)
    max_filter_depth: int = Field(16, ge=1, le=FILTER_DEPTH_CEILING)
    max_patch_operations: int = Field(1000, ge=1, le=100_000)
    max_members_per_patch: int = Field(20_000, ge=1, le=1_000_000)
    max_count: int = Field(1000, ge=1, le=10_000)
    max_list_members: int = Field(10_000, ge=1, le=1_000_000)


def check_strings(value: Any, limits: ScimLimits) -> None:
    """Raise InvalidValue for a string longer than its limit anywhere in a request body:
    `max_name_chars` for userName/externalId/displayName (as a key, or as the `path` of a
    PATCH operation whose `value` is the string), `max_value_chars` for any other."""
    stack: list[tuple[Any, int]] = [(value, limits.max_value_chars)]
    while stack:
        item, cap = stack.pop()
        if isinstance(item, str):
            if len(item) > cap:
                raise InvalidValue(f"a value is {len(item)} characters long; at most {cap} "
                                   "are accepted here")
        elif isinstance(item, dict):
            path = item.get("path")
            named = isinstance(path, str) and path.rsplit(":", 1)[-1].lower() in NAME_ATTRIBUTES
            for key, sub in item.items():
                if isinstance(key, str) and len(key) > limits.max_value_chars:
                    raise InvalidValue("an attribute name is too long")
                name = isinstance(key, str) and key.rsplit(":", 1)[-1].lower() in NAME_ATTRIBUTES
                short = name or (named and key == "value")
                stack.append((sub, limits.max_name_chars if short else limits.max_value_chars))
        elif isinstance(item, list):
            stack.extend((sub, cap) for sub in item)


def check_attribute_names(names: list[str] | None, what: str, limits: ScimLimits) -> None:
    if names is not None and len(names) > limits.max_attribute_names:
        raise TooMany(f"{what} lists {len(names)} names; at most "
                      f"{limits.max_attribute_names} are accepted")


def check_filter(text: str | None, limits: ScimLimits) -> None:
    """Raise InvalidFilter for a filter longer than `max_filter_chars` or nesting parentheses
    and brackets deeper than `max_filter_depth` (one linear scan; strings skipped)."""
    if text is None:
        return
    if len(text) > limits.max_filter_chars:
        raise InvalidFilter(f"the filter is {len(text)} characters long; at most "
                            f"{limits.max_filter_chars} are accepted")
    if filter_depth(text) > limits.max_filter_depth:
        raise InvalidFilter(f"the filter nests deeper than {limits.max_filter_depth} levels")


def filter_depth(text: str) -> int:
    """Deepest nesting of `(`/`[` in `text` outside JSON strings."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]":
            depth -= 1
    return deepest


def check_patch(body: Any, limits: ScimLimits) -> None:
    """Raise TooMany for a PatchOp with more than `max_patch_operations` operations or more
    than `max_members_per_patch` member values across them (counted before parsing)."""
    if not isinstance(body, dict):
        return
    ops = next((v for k, v in body.items() if isinstance(k, str)
                and k.lower() == "operations"), None)
    if not isinstance(ops, list):
        return
    if len(ops) > limits.max_patch_operations:
        raise TooMany(f"the PATCH request has {len(ops)} operations; at most "
                      f"{limits.max_patch_operations} are accepted")
    members = sum(_member_values(op) for op in ops if isinstance(op, dict))
    if members > limits.max_members_per_patch:
        raise TooMany(f"the PATCH request names {members} members; at most "
                      f"{limits.max_members_per_patch} are accepted per request")


def _member_values(op: dict[str, Any]) -> int:
    value = op.get("value")
    path = op.get("path")
    if isinstance(path, str) and path.strip().lower().startswith("members"):
        return len(value) if isinstance(value, list) else 1
    if isinstance(value, dict):
        return sum(len(v) for k, v in value.items()
                   if isinstance(k, str) and k.lower() == "members" and isinstance(v, list))
    return 0
