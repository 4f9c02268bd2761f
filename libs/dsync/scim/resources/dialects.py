"""IdP dialect normalisation: rewrite what real identity providers send into RFC shape.

Pure and lenient: these functions never reject anything (except a body that is not a JSON
object); they only rewrite the quirks below, and leave the rest for `validate.py` to judge.
Each quirk names the IdP it was captured from.

- OneLogin sends the SCIM 2.0 *draft* URNs: `urn:scim:schemas:core:2.0`,
  `urn:scim:schemas:core:2.0:User`, `urn:scim:schemas:extension:enterprise:2.0` ->
  the RFC 7643 URNs, in `schemas` and as attribute keys / path prefixes.
- Microsoft Entra ID (custom attribute mappings, the pre-2020 `customappsso` job) sends
  PascalCase or otherwise miscased attribute names (`UserName`, `Emails[].Primary`) ->
  the catalog's canonical names (SCIM names are case-insensitive, RFC 7643 §2.1).
- Microsoft Entra ID without the `aadOptscim062020` flag sends booleans as the strings
  `"True"` / `"False"` (any case), also inside sub-attributes such as `emails[].primary`
  -> JSON booleans, wherever the catalog says boolean.
- Microsoft Entra ID sends the enterprise `manager` as the bare manager id
  (`"manager": "26118915-6090-4610-87e4-49d8ca9f808d"`) -> `{"value": "<id>"}`.
- Integers (and decimals) given as numeric strings where the catalog says integer/decimal
  -> numbers (no attribute of the current catalog is numeric; the rule is generic).
- Attribute keys fully qualified by their schema URN inside a resource body
  (`"urn:...:enterprise:2.0:User:department": "x"`, as Entra writes PATCH values) -> the
  attribute inside its extension object (or at the top level for the core schema).
"""
from __future__ import annotations

import re
from typing import Any

from dsync.scim.errors import InvalidSyntax
from dsync.scim.resources.catalog import Catalog, canonical_urn, catalog_for, split_urn
from dsync.scim.schema import Attr, Schema

_INTEGER = re.compile(r"[+-]?\d{1,30}")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def coerce_simple(attr: Attr, value: Any) -> Any:
    """A simple value with the string quirks undone for `attr.type`; otherwise unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if attr.type == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if attr.type == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if attr.type == "decimal" and len(text) < 64 and _DECIMAL.fullmatch(text):
        return float(text)
    return value


def coerce_element(attr: Attr, value: Any) -> Any:
    """One value of `attr` (an element if multi-valued), with sub-attribute names canonical."""
    if attr.type != "complex":
        return coerce_simple(attr, value)
    if isinstance(value, str) and attr.name == "manager":
        return {"value": value}  # Entra: manager as a bare id
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        sub = attr.child(key) if isinstance(key, str) else None
        if sub is None:
            out[key] = item
        else:
            out[sub.name] = coerce_simple(sub, item)
    return out


def coerce_value(attr: Attr, value: Any) -> Any:
    """The full value of `attr` with every dialect quirk undone. Never raises."""
    if attr.multi and isinstance(value, list):
        return [coerce_element(attr, item) for item in value]
    return coerce_element(attr, value)


def _put(out: dict[Any, Any], lookup: Any, key: Any, value: Any) -> None:
    """Store `key: value` under the canonical name; `a.b` keys go into complex `a`."""
    head, dot, tail = key.partition(".") if isinstance(key, str) else (key, "", "")
    attr = lookup(head) if isinstance(head, str) else None
    if attr is None:
        out[key] = value
    elif not dot:
        out[attr.name] = coerce_value(attr, value)
    elif attr.type == "complex" and not attr.multi and attr.child(tail) is not None:
        parent = out.setdefault(attr.name, {})
        if isinstance(parent, dict):
            sub = attr.child(tail)
            assert sub is not None
            parent[sub.name] = coerce_simple(sub, value)
    else:
        out[key] = value


def _coerce_schema_block(schema: Schema, block: dict[Any, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, item in block.items():
        _put(out, schema.attr, key, item)
    return out


def _schemas_list(value: Any, resource_type: str) -> Any:
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for urn in value:
        mapped = canonical_urn(urn, resource_type) if isinstance(urn, str) else None
        item = mapped or urn
        if item not in out:
            out.append(item)
    return out


def _place(catalog: Catalog, out: dict[str, Any], key: str, value: Any) -> None:
    """Put one top-level body entry into `out` under its canonical home."""
    if key.lower() == "schemas":
        out["schemas"] = _schemas_list(value, catalog.resource_type)
        return
    split = split_urn(key) if key[:4].lower() == "urn:" else None
    if split is None:
        _put(out, catalog.top_attr, key, value)
        return
    urn, rest = split
    canonical = canonical_urn(urn, catalog.resource_type)
    extension = catalog.extension(urn)
    if extension is not None:
        block = out.setdefault(extension.id, {})
        if not isinstance(block, dict):
            return
        if not rest and isinstance(value, dict):
            block.update(_coerce_schema_block(extension, value))
        elif not rest:
            out[extension.id] = value
        else:
            _put(block, extension.attr, rest, value)
    elif canonical == catalog.core.id:
        if not rest:
            if isinstance(value, dict):
                for sub_key, item in value.items():
                    if isinstance(sub_key, str) and sub_key not in out:
                        _place(catalog, out, sub_key, item)
        else:
            _place(catalog, out, rest, value)
    else:
        out[key] = value


def normalize_resource(body: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """A new dict: `body` (a POST/PUT User or Group) with the IdP quirks above rewritten.

    Unknown attributes are kept as sent (validation decides what to drop). Raises
    InvalidSyntax only when `body` is not a JSON object.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    catalog = catalog_for(resource_type)
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(key, str):
            _place(catalog, out, key, value)
    return out
