"""PATCH add/replace/remove on a multi-valued complex attribute (emails, addresses, ...),
with or without a value filter and a sub-attribute (RFC 7644 §3.5.2.1-3).

- add, no filter: values are appended unless an equal value is there (an equal value that
  differs only by `primary` gets that `primary`);
- add with a filter that matches nothing: a value is created from the filter's
  `eq` terms (Entra: `add emails[type eq "work"].value`); NoTarget if the filter is not
  an `and` of `eq` terms;
- replace, no filter: the whole list is replaced; replace with a filter that matches
  nothing: NoTarget (RFC 7644 §3.5.2.3); matched values are replaced (no sub-attribute)
  or get the sub-attribute set;
- remove, no filter: all values go, or with a value array (Entra style) only the values
  whose given sub-attributes all match; remove with a filter: matching values go (no
  match: nothing to do), or only their sub-attribute;
- setting `primary: true` on one value sets it false on the others (RFC 7643 §2.4);
  making two values primary in one operation is InvalidValue.
"""
from __future__ import annotations

from typing import Any

from dsync.scim.errors import InvalidValue, NoTarget
from dsync.scim.resources.valuefilter import Node
from dsync.scim.resources.valuematch import equality_terms, matches
from dsync.scim.resources.values import check_one_primary, check_simple, check_single
from dsync.scim.schema import Attr


def _same_ignoring_primary(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "primary"} == {
        k: v for k, v in b.items() if k != "primary"}


def _add_values(items: list[Any], attr: Attr, value: Any, where: str) -> None:
    given = value if isinstance(value, list) else [value]
    for index, item in enumerate(given):
        new = check_single(attr, item, f"{where}[{index}]")
        if new is None:
            continue
        twin = next((e for e in items if isinstance(e, dict) and isinstance(new, dict)
                     and _same_ignoring_primary(e, new)), None)
        if twin is None:
            items.append(new)
        elif "primary" in new:
            twin["primary"] = new["primary"]


def _remove_values(items: list[Any], attr: Attr, value: Any, where: str) -> list[Any]:
    given = value if isinstance(value, list) else [value]
    selectors = [s for i, g in enumerate(given)
                 if (s := check_single(attr, g, f"{where}[{i}]")) is not None]

    def selected(element: Any) -> bool:
        return isinstance(element, dict) and any(
            all(element.get(k) == v for k, v in sel.items()) for sel in selectors)
    return [e for e in items if not selected(e)]


def _set_sub(element: dict[str, Any], sub: Attr, value: Any) -> None:
    if value is None:
        element.pop(sub.name, None)
    else:
        element[sub.name] = value


def _created(attr: Attr, node: Node, where: str) -> dict[str, Any]:
    terms = equality_terms(node)
    if terms is None:
        raise NoTarget(f"no value of '{attr.name}' matches the filter in '{where}'")
    return dict(check_single(attr, terms, where) or {})


def apply_multi(op: str, items: list[Any], attr: Attr, node: Node | None,
                sub: Attr | None, value: Any, where: str) -> list[Any]:
    """The new list of values of `attr` after one operation (`items` may be mutated).

    `node` must be bound to `attr`. Raises InvalidValue, NoTarget.
    """
    before = [e for e in items if isinstance(e, dict) and e.get("primary") is True]
    hit = [e for e in items if node is not None and matches(node, e, attr)]
    hit_ids = {id(e) for e in hit}  # `hit` keeps the objects alive, so ids stay unique
    if node is None and sub is None:
        if op == "add":
            if value is not None:
                _add_values(items, attr, value, where)
        elif op == "replace":
            given = [] if value is None else value if isinstance(value, list) else [value]
            items = [v for i, g in enumerate(given)
                     if (v := check_single(attr, g, f"{where}[{i}]")) is not None]
        else:
            items = [] if value is None else _remove_values(items, attr, value, where)
    elif node is None and sub is not None:
        leaf = check_simple(sub, value, f"{where}") if op != "remove" else None
        if not items and leaf is not None:
            items = [{sub.name: leaf}]
        for element in items:
            if isinstance(element, dict):
                _set_sub(element, sub, leaf)
    elif sub is None:
        if op == "remove":
            items = [e for e in items if id(e) not in hit_ids]
        else:
            new = check_single(attr, value, where)
            if not hit and op == "replace":
                raise NoTarget(f"no value of '{attr.name}' matches the filter in '{where}'")
            if not hit:
                assert node is not None
                items.append({**_created(attr, node, where), **(new or {})})
            elif op == "add":
                for element in hit:
                    element.update(new or {})
            else:
                items = [(dict(new) if new else None) if id(e) in hit_ids else e
                         for e in items]
    else:
        leaf = check_simple(sub, value, where) if op != "remove" else None
        if not hit and op == "replace":
            raise NoTarget(f"no value of '{attr.name}' matches the filter in '{where}'")
        if not hit and op == "add" and leaf is not None:
            assert node is not None
            items.append({**_created(attr, node, where), sub.name: leaf})
        for element in hit:
            _set_sub(element, sub, leaf)
    items = [e for e in items if e not in (None, {})]
    _settle_primary(items, before, attr, where)
    return items


def _settle_primary(items: list[Any], before: list[Any], attr: Attr, where: str) -> None:
    primaries = [e for e in items if isinstance(e, dict) and e.get("primary") is True]
    before_ids = {id(e) for e in before}
    new = [e for e in primaries if id(e) not in before_ids]
    if len(new) > 1:
        raise InvalidValue(f"at most one value of '{where}' may have primary true "
                           "(RFC 7643 §2.4)")
    if len(new) == 1:
        for element in primaries:
            if element is not new[0]:
                element["primary"] = False
    check_one_primary(attr, items, where)
