"""What changed between two stored documents (for `user.updated` / `group.updated` events)."""
from __future__ import annotations

from typing import Any


def diff_previous(old_doc: dict[str, Any], new_doc: dict[str, Any]) -> dict[str, Any]:
    """Previous values of the top-level attributes that differ, keyed by attribute name.

    An attribute that did not exist before maps to None. `schemas` is not reported (it
    follows the extension attributes, which are reported under their URN key). Ordered
    as in `old_doc`, then new attributes in `new_doc` order.
    """
    out: dict[str, Any] = {}
    for key in [*old_doc, *(k for k in new_doc if k not in old_doc)]:
        if key != "schemas" and old_doc.get(key) != new_doc.get(key):
            out[key] = old_doc.get(key)
    return out
