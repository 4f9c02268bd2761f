"""The directory's answer to one write command, as the gateway turns it into HTTP.

Stored in the ledger (`operations.response`) and carried in the `dsync_outcomes`
NOTIFY when it fits; the gateway validates it with `WriteAnswer.model_validate`.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class WriteAnswer(BaseModel):
    """`status` is the HTTP status; `error` the SCIM error body of a rejection; `resource`
    the resource after the write (None when unchanged or deleted). `members_complete` is
    False when a group's answer left out its members (too many to carry): the gateway then
    reads the group itself."""

    model_config = ConfigDict(frozen=True)

    status: int
    resource: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    members_complete: bool = True

    def wire(self) -> dict[str, Any]:
        """The JSON object stored and carried (defaults left out: smaller NOTIFYs)."""
        return self.model_dump(exclude_defaults=True)
