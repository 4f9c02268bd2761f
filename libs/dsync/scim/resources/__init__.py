"""Pure SCIM resource logic: IdP dialects, validation of User/Group bodies into stored
documents, the PATCH engine and its members deltas. No I/O anywhere in this package.

    normalize_resource(body, "User")                 # dialects.py
    validate_resource(body, "User", existing=None)   # validate.py -> (doc, members)
    normalize_patch(body) -> [PatchOp]               # patch/ops.py
    apply_patch(doc, ops, "Group") -> PatchResult    # patch/engine.py (+ MembersDelta)
    diff_previous(old_doc, new_doc)                  # diff.py
"""
from dsync.scim.resources.dialects import normalize_resource
from dsync.scim.resources.diff import diff_previous
from dsync.scim.resources.members import MemberRef
from dsync.scim.resources.patch import (
    MembersDelta,
    PatchOp,
    PatchResult,
    apply_patch,
    normalize_patch,
    patch_ops_from_dicts,
)
from dsync.scim.resources.validate import validate_resource

__all__ = ["MemberRef", "MembersDelta", "PatchOp", "PatchResult", "apply_patch",
           "diff_previous", "normalize_patch", "normalize_resource", "patch_ops_from_dicts",
           "validate_resource"]
