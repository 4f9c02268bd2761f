"""Parse cost against input size for every parser a request reaches, to show it is linear.

    .venv/bin/python bench/parsers.py

For each parser, each row is an input size and the best of 3 timings; the last column is
the cost per unit of input, which stays flat for a linear parser (a quadratic one doubles
when the size doubles). Parsers: the PATCH value-path filter (`members[value eq … or …]`,
up to its 1 MB limit), the `filter=` parser (up to its 10 KB limit), the query-limit checks
run on every request body, and `attributes=` projection of a page of resources (names
compiled once per request).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from dsync.scim.filter import compile_projection
from dsync.scim.filter.parser import parse_filter
from dsync.scim.limits import ScimLimits, check_filter, check_strings
from dsync.scim.resources.patch.paths import parse_path
from dsync.scim.text_check import check_json


def best_of(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def member_chain(n: int) -> str:
    return " or ".join(f'value eq "{i:08x}-0000-4000-8000-000000000000"' for i in range(n))


def table(title: str, unit: str, rows: list[tuple[int, float]]) -> None:
    print(f"\n{title}")
    print(f"  {unit:>12} {'seconds':>10} {'µs/' + unit:>12}")
    for size, seconds in rows:
        print(f"  {size:>12,} {seconds:>10.4f} {seconds / size * 1e6:>12.3f}")


def main() -> None:
    rows = []
    for n in (1_000, 4_000, 16_000):
        path = f"members[{member_chain(n)}]"
        rows.append((len(path), best_of(partial(parse_path, path))))
    table("PATCH value-path filter (members[value eq … or …])", "char", rows)

    rows = []
    for n in (20, 80, 200):
        text = " or ".join(f'userName eq "u{i:06d}@example.com"' for i in range(n))
        rows.append((len(text), best_of(partial(parse_filter, text))))
    table("filter= parser (scim2-models grammar, ≤ 10 KB)", "char", rows)

    limits = ScimLimits.model_construct()
    rows = []
    for n in (1_000, 4_000, 16_000):
        body: dict[str, object] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g",
            "members": [{"value": f"{i:08x}-0000-4000-8000-000000000000"} for i in range(n)]}

        def checks(b: dict[str, object] = body) -> None:
            check_json(b)
            check_strings(b, limits)
        rows.append((n, best_of(checks)))
    table("body checks (text + lengths) on a Group PUT", "member", rows)
    rows = []
    for depth in (4, 8, 16):
        text = "(" * depth + 'userName eq "a"' + ")" * depth
        rows.append((len(text), best_of(partial(check_filter, text, limits))))
    table("filter limit check", "char", rows)

    resource = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "x",
                "userName": "u", "displayName": "d", "title": "t",
                "emails": [{"value": "a@b", "type": "work"}], "meta": {"resourceType": "User"}}
    names = ["userName", "emails.value", "displayName", "title", "name.givenName"] * 20
    rows = []
    for pages in (100, 400, 1_000):
        def run(n: int = pages) -> None:
            projection = compile_projection("User", attributes=names, excluded=None)
            for _ in range(n):
                projection.apply(resource)
        rows.append((pages, best_of(run)))
    table(f"attributes= projection ({len(names)} names, compiled once per page)", "resource",
          rows)


if __name__ == "__main__":
    main()
