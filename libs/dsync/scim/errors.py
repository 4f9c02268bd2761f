"""SCIM errors: one declarative table from domain error to (HTTP status, scimType, reason code).

Raised by pure code (filters, PATCH, validation, decide); rendered by the gateway as a SCIM
error body (RFC 7644 §3.12) and recorded in the operations ledger with `reason_code`.
Handlers never catch these themselves.
"""
from __future__ import annotations

from typing import Any, ClassVar

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base: a request that is wrong (never retried). Subclasses fix status/scimType/reason."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None
    reason_code: ClassVar[str] = "invalid_value"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status),
                               "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out


def _error(name: str, status: int, scim_type: str | None, reason: str) -> type[ScimError]:
    return type(name, (ScimError,), {"status": status, "scim_type": scim_type,
                                     "reason_code": reason, "__doc__": f"{status} {scim_type}"})


InvalidFilter = _error("InvalidFilter", 400, "invalidFilter", "invalid_filter")
TooMany = _error("TooMany", 400, "tooMany", "too_many")
Uniqueness = _error("Uniqueness", 409, "uniqueness", "uniqueness")
Mutability = _error("Mutability", 400, "mutability", "mutability")
InvalidSyntax = _error("InvalidSyntax", 400, "invalidSyntax", "invalid_syntax")
InvalidPath = _error("InvalidPath", 400, "invalidPath", "invalid_path")
NoTarget = _error("NoTarget", 400, "noTarget", "no_target")
InvalidValue = _error("InvalidValue", 400, "invalidValue", "invalid_value")
InvalidVersion = _error("InvalidVersion", 400, "invalidVers", "invalid_version")
Sensitive = _error("Sensitive", 400, "sensitive", "sensitive")
NotFound = _error("NotFound", 404, None, "not_found")
VersionMismatch = _error("VersionMismatch", 412, None, "version_mismatch")
TooLarge = _error("TooLarge", 413, None, "too_large")
Unauthorized = _error("Unauthorized", 401, None, "unauthorized")
Forbidden = _error("Forbidden", 403, None, "forbidden")
MethodNotAllowed = _error("MethodNotAllowed", 405, None, "method_not_allowed")
NotImplementedYet = _error("NotImplementedYet", 501, None, "not_implemented")
UnsupportedMediaType = _error("UnsupportedMediaType", 415, None, "unsupported_media_type")
