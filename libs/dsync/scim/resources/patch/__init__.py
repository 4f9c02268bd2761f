"""PATCH (RFC 7644 §3.5.2): message normalisation, paths, the engine, members deltas."""
from dsync.scim.resources.patch.engine import PatchResult, apply_patch
from dsync.scim.resources.patch.members import MembersDelta
from dsync.scim.resources.patch.ops import PatchOp, normalize_patch, patch_ops_from_dicts

__all__ = ["MembersDelta", "PatchOp", "PatchResult", "apply_patch", "normalize_patch",
           "patch_ops_from_dicts"]
