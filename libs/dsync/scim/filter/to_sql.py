"""Compiling a parsed SCIM filter into a PostgreSQL boolean expression over alias `r`.

Multi-valued attributes match when any value matches (an EXISTS per attribute); `ne` is
NOT eq, so it matches resources lacking the attribute and, for multi-valued attributes,
those where no value is equal (the reading scim2_models uses too). `eq null` is `not pr`.
Unknown attributes are treated as having no value (RFC 7644 §3.4.2.1): eq/pr are FALSE.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim2_models.path import (
    AttrPath,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from dsync.scim import errors
from dsync.scim.filter.attributes import Resolved, ResourceType, resolve
from dsync.scim.filter.comparisons import Params, compare, present
from dsync.scim.filter.operands import Elements, Operand, elements, single_operand
from dsync.scim.schema import Attr


@dataclass(frozen=True)
class SqlFragment:
    """A boolean SQL expression over table alias `r` with `$N` placeholders for `params`."""

    sql: str
    params: list[Any]


@dataclass(frozen=True)
class _Target:
    operand: Operand
    attr: Attr                     # governs type and caseExact
    name: str                      # for error details
    wrap: Callable[[str], str]     # EXISTS over the values of a multi-valued attribute


def _same(term: str) -> str:
    return term


class FilterCompiler(FilterVisitor[str]):
    """Visits a filter tree; `scope` is set inside a value path `attr[...]`."""

    def __init__(self, resource_type: ResourceType, params: Params,
                 aliases: Callable[[], str], scope: tuple[Resolved, Elements] | None = None):
        self.resource_type = resource_type
        self.params = params
        self.aliases = aliases
        self.scope = scope

    def visit_logical_expr(self, node: LogicalExpr) -> str:
        joiner = " AND " if node.op == LogicalOperator.and_ else " OR "
        return "(" + joiner.join(self.visit(term) for term in node.terms) + ")"

    def visit_not(self, node: Not) -> str:
        return f"(NOT {self.visit(node.expr)})"

    def visit_present(self, node: Present) -> str:
        return self._present(node.attr_path)

    def visit_comparison(self, node: Comparison) -> str:
        op, value, path = node.op.value, node.value, node.attr_path
        if value is None:
            if op not in ("eq", "ne"):
                raise errors.InvalidFilter(f"{path} {op} null: null can only be compared "
                                           "with eq or ne")
            term = self._present(path)
            return f"(NOT {term})" if op == "eq" else term
        if op == "ne":
            return f"(NOT {self._compare(path, 'eq', value)})"
        return self._compare(path, op, value)

    def visit_value_path(self, node: ValuePath) -> str:
        resolved = resolve(node.attr_path, self.resource_type)
        if resolved is None:
            return "FALSE"
        if not (resolved.attr.multi or resolved.attr.type == "complex"):
            raise errors.InvalidFilter(f"{node.attr_path}[...]: {resolved.name} is neither "
                                       "multi-valued nor complex")
        source = elements(resolved, self.resource_type, self.aliases())
        inner = FilterCompiler(self.resource_type, self.params, self.aliases,
                               (resolved, source)).visit(node.val_filter)
        return source.exists(inner)

    def _present(self, path: AttrPath) -> str:
        target = self._target(path, default_value=False)
        return "FALSE" if target is None else target.wrap(present(target.operand))

    def _compare(self, path: AttrPath, op: str, value: Any) -> str:
        target = self._target(path, default_value=True)
        if target is None:
            return "FALSE"
        term = compare(target.operand, target.attr, target.name, op, value, self.params)
        return target.wrap(term)

    def _target(self, path: AttrPath, *, default_value: bool) -> _Target | None:
        if self.scope is not None:
            return self._element_target(path)
        resolved = resolve(path, self.resource_type)
        if resolved is None:
            return None
        attr, sub = resolved.attr, resolved.sub
        if sub is None and default_value and attr.type == "complex":
            sub = attr.child("value")             # `emails co "x"` means emails.value
        if attr.multi:
            source = elements(resolved, self.resource_type, self.aliases())
            return _Target(source.operand(sub.name if sub else None), sub or attr,
                           str(path), source.exists)
        resolved = Resolved(resolved.schema, attr, sub, resolved.extension)
        return _Target(single_operand(resolved, self.resource_type), resolved.leaf,
                       str(path), _same)

    def _element_target(self, path: AttrPath) -> _Target | None:
        assert self.scope is not None
        parent, source = self.scope
        if path.uri is not None or path.sub_attr is not None:
            return None
        name = f"{parent.attr.name}.{path.attr}"
        if parent.attr.type != "complex":         # schemas[value eq "..."]
            is_self = path.attr.lower() == "value"
            return _Target(source.operand(None), parent.attr, name, _same) if is_self else None
        sub = parent.attr.child(path.attr)
        return None if sub is None else _Target(source.operand(sub.name), sub, name, _same)


def compile_tree(tree: FilterNode, resource_type: ResourceType, first_param: int) -> SqlFragment:
    """Compile a parsed filter; raises InvalidFilter for type/operator mismatches."""
    params = Params(first_param)
    counter = itertools.count(1)
    sql = FilterCompiler(resource_type, params, lambda: f"e{next(counter)}").visit(tree)
    return SqlFragment(sql, params.values)
