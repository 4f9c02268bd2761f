"""Normalized change commands published by the gateway on `dsync.commands`, keyed by tenant.

Every command carries the tenant id decided at authentication, a unique `command_id`
(which is also the operation id in the ledger) and a schema version. The union is parsed
once at the edge with `parse_command`; consumers dispatch on the `type` tag.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION: Literal[1] = 1


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    command_id: UUID
    tenant_id: UUID
    issued_at: datetime


class _Targeted(_Command):
    resource_id: UUID
    if_match: str | None = None
    """The `If-Match` header as sent; the directory answers 412 when it does not match."""


class CreateUser(_Command):
    type: Literal["user.create"] = "user.create"
    resource: dict[str, Any]


class ReplaceUser(_Targeted):
    type: Literal["user.replace"] = "user.replace"
    resource: dict[str, Any]


class PatchUser(_Targeted):
    type: Literal["user.patch"] = "user.patch"
    operations: list[dict[str, Any]]


class DeleteUser(_Targeted):
    type: Literal["user.delete"] = "user.delete"


class CreateGroup(_Command):
    type: Literal["group.create"] = "group.create"
    resource: dict[str, Any]


class ReplaceGroup(_Targeted):
    type: Literal["group.replace"] = "group.replace"
    resource: dict[str, Any]


class PatchGroup(_Targeted):
    type: Literal["group.patch"] = "group.patch"
    operations: list[dict[str, Any]]


class DeleteGroup(_Targeted):
    type: Literal["group.delete"] = "group.delete"


Command = Annotated[
    CreateUser | ReplaceUser | PatchUser | DeleteUser
    | CreateGroup | ReplaceGroup | PatchGroup | DeleteGroup,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(raw: bytes | str) -> Command:
    """Decode one command from its JSON bytes. Raises `pydantic.ValidationError` (poison)."""
    return _ADAPTER.validate_json(raw)


def encode_command(command: Command) -> bytes:
    return command.model_dump_json().encode()
