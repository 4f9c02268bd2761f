"""Dispatch: one handler per command type, looked up by the command's `type` tag.

A handler says which SCIM request the command came from (method, resource type), how to
`load` the state its decision needs (I/O), and how to `decide` (pure: state + command ->
outcome, writes, events). `apply_commands` persists what `decide` returns.
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dsync.db import DbConnection
from dsync.messages.commands import Command
from dsync_services.directory import decide_groups, decide_users, group_loading, repository
from dsync_services.directory.decisions import Decision


@dataclass(frozen=True)
class Handler:
    method: str
    resource_type: str
    load: Callable[[DbConnection, Any], Awaitable[Any]]
    decide: Callable[[Any, Any, datetime], Decision]
    """Pure. Raises ScimError for a command that is wrong given the state."""


async def _nothing(_conn: DbConnection, _command: Any) -> None:
    return None


async def _user(conn: DbConnection, command: Any) -> Any:
    return await repository.load(conn, "User", command.tenant_id, command.resource_id)


async def _user_and_groups(conn: DbConnection, command: Any) -> tuple[Any, list[Any]]:
    current = await _user(conn, command)
    groups = (await repository.groups_of_member(conn, command.tenant_id, current.id)
              if current else [])
    return current, groups


HANDLERS: dict[str, Handler] = {
    "user.create": Handler("POST", "User", _nothing, lambda c, _s, now:
                           decide_users.decide_create(c, uuid.uuid4(), now)),
    "user.replace": Handler("PUT", "User", _user, decide_users.decide_replace),
    "user.patch": Handler("PATCH", "User", _user, decide_users.decide_patch),
    "user.delete": Handler("DELETE", "User", _user_and_groups, lambda c, s, _now:
                           decide_users.decide_delete(c, *s)),
    "group.create": Handler("POST", "Group", group_loading.load_create, lambda c, s, now:
                            decide_groups.decide_create(c, s[0], s[1], now)),
    "group.replace": Handler("PUT", "Group", group_loading.load_replace, lambda c, s, now:
                             decide_groups.decide_replace(c, s[0], s[1], now)),
    "group.patch": Handler("PATCH", "Group", group_loading.load_patch, lambda c, s, now:
                           decide_groups.decide_patch(c, s[0], s[1], s[2], now)),
    "group.delete": Handler("DELETE", "Group", group_loading.load_delete, lambda c, s, _now:
                            decide_groups.decide_delete(c, *s)),
}


def describe(command: Command) -> tuple[str, str, str]:
    """(method, path, resource type) of the SCIM request a command came from."""
    handler = HANDLERS[command.type]
    target = getattr(command, "resource_id", None)
    kind = handler.resource_type
    return handler.method, f"/{kind}s" + (f"/{target}" if target else ""), kind


async def load_and_decide(conn: DbConnection, command: Command,
                          now: datetime) -> Decision:
    """Load what the command needs, then run its pure decision. Raises ScimError."""
    handler = HANDLERS[command.type]
    return handler.decide(command, await handler.load(conn, command), now)
