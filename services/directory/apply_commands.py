"""decode -> load state -> decide -> persist (state + outbox + ledger, one transaction).

`apply_batch` takes consecutive commands of one partition and applies them in order in ONE
transaction (group commit), each inside a savepoint so that a command whose writes break
an invariant (a uniqueness conflict) is rejected alone. A command whose operation is
already `applied` or `rejected` is a redelivery: it changes nothing and is answered again.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from dsync.messages.commands import Command
from dsync.scim.errors import InvalidValue, ScimError, Uniqueness
from dsync_services.directory import decide_users, group_commands, repository
from dsync_services.directory.decisions import Decision, Outcome, SaveResource, rejected
from dsync_services.directory.responses import render_saved

log = logging.getLogger(__name__)
TERMINAL = ("applied", "rejected")

_DESCRIBE: dict[str, tuple[str, str]] = {
    "user.create": ("POST", "User"), "user.replace": ("PUT", "User"),
    "user.patch": ("PATCH", "User"), "user.delete": ("DELETE", "User"),
    "group.create": ("POST", "Group"), "group.replace": ("PUT", "Group"),
    "group.patch": ("PATCH", "Group"), "group.delete": ("DELETE", "Group"),
}


def describe(command: Command) -> tuple[str, str, str]:
    """(method, path, resource type) of the SCIM request a command came from."""
    method, kind = _DESCRIBE[command.type]
    target = getattr(command, "resource_id", None)
    return method, f"/{kind}s" + (f"/{target}" if target else ""), kind


async def _decide(conn: asyncpg.Connection, command: Command, now: datetime) -> Decision:
    """Load what the command needs, then run the pure decision. Raises ScimError."""
    if command.type == "user.create":
        return decide_users.decide_create(command, uuid.uuid4(), now)
    if command.type in ("user.replace", "user.patch", "user.delete"):
        current = await repository.load(conn, "User", command.tenant_id, command.resource_id)
        if command.type == "user.replace":
            return decide_users.decide_replace(command, current, now)
        if command.type == "user.patch":
            return decide_users.decide_patch(command, current, now)
        groups = (await repository.groups_of_member(conn, command.tenant_id, current.id)
                  if current else [])
        return decide_users.decide_delete(command, current, groups)
    return await group_commands.decide(conn, command, now)


async def _response(conn: asyncpg.Connection, command: Command, decision: Decision
                    ) -> dict[str, Any]:
    outcome = decision.outcome
    if outcome.error is not None:
        return {"status": outcome.status, "error": outcome.error.body()}
    body: dict[str, Any] = {"status": outcome.status}
    save = next((w for w in decision.writes if isinstance(w, SaveResource)), None)
    if save is not None and outcome.status != 204:
        body["resource"] = await render_saved(conn, command.tenant_id, save)
    return body


_DATA_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
                asyncpg.ProgramLimitExceededError)
"""Database errors caused by a command's data (not by the database being down)."""


async def apply_one(conn: asyncpg.Connection, command: Command, raw: dict[str, Any], *,
                    isolate: bool) -> tuple[str, dict[str, Any] | None]:
    """Apply one command inside the caller's transaction; return the operation status
    (`applied`, `rejected` or `duplicate`) and the stored response (None for a duplicate).

    With `isolate`, the writes run in a savepoint and a database error caused by this
    command's data rejects the command alone (the slow path after a failed batch).
    """
    status = await repository.lock_operation(conn, command.command_id)
    if status in TERMINAL:
        return "duplicate", None
    method, path, kind = describe(command)
    if status is None:
        await repository.record_operation(conn, op_id=command.command_id,
                                          tenant_id=command.tenant_id, method=method,
                                          path=path, resource_type=kind, command=raw)
    now = datetime.now(UTC)
    try:
        decision = await _decide(conn, command, now)
        if decision.outcome.applied:
            await repository.check_unique(conn, command.tenant_id, decision.writes)
    except ScimError as exc:
        decision = rejected(exc, kind, getattr(command, "resource_id", None))
    if decision.outcome.applied:
        if isolate:
            try:
                async with conn.transaction():
                    await _persist(conn, command, decision, now)
            except asyncpg.UniqueViolationError as exc:
                decision = rejected(_uniqueness(kind, exc), kind, decision.outcome.resource_id)
            except _DATA_ERRORS as exc:
                decision = rejected(InvalidValue(
                    f"The resource could not be stored ({exc.sqlstate}): a value is too "
                    "large or malformed"), kind, decision.outcome.resource_id)
        else:
            await _persist(conn, command, decision, now)
    outcome: Outcome = decision.outcome
    err = outcome.error
    response = await repository.finish_operation(
        conn, op_id=command.command_id, status="applied" if err is None else "rejected",
        resource_id=outcome.resource_id, reason_code=err.reason_code if err else None,
        detail=err.detail if err else None, response=await _response(conn, command, decision))
    return ("applied" if err is None else "rejected"), response


async def _persist(conn: asyncpg.Connection, command: Command, decision: Decision,
                   now: datetime) -> None:
    for write in decision.writes:
        await repository.save(conn, command.tenant_id, write)
    await repository.append_events(conn, command.tenant_id, decision.events, now,
                                   notify=False)  # one NOTIFY per batch, in _run


def _uniqueness(kind: str, exc: asyncpg.UniqueViolationError) -> ScimError:
    what = "userName" if kind == "User" else "displayName"
    return Uniqueness(f"{what} is already taken in this tenant")


async def apply_batch(pool: asyncpg.Pool, commands: list[tuple[Command, dict[str, Any]]],
                      on_status: Callable[[str], None] | None = None) -> None:
    """Apply consecutive commands of one partition in ONE transaction, in order (group
    commit), then wake the waiting gateways with one NOTIFY per batch.

    If the batch fails on a data error (some command's data breaks a database rule), it is
    redone command by command with savepoints, so that command alone is rejected.
    Raises on connection-level errors (transient): nothing of the batch is kept then.
    """
    async with pool.acquire() as conn:
        try:
            statuses = await _run(conn, commands, isolate=False)
        except _DATA_ERRORS as exc:
            log.warning("batch of %d hit %s; isolating commands", len(commands),
                        type(exc).__name__)
            statuses = await _run(conn, commands, isolate=True)
    if on_status:
        for status in statuses:
            on_status(status)


async def _run(conn: asyncpg.Connection, commands: list[tuple[Command, dict[str, Any]]], *,
               isolate: bool) -> list[str]:
    async with conn.transaction():
        results = [await apply_one(conn, command, raw, isolate=isolate)
                   for command, raw in commands]
        await repository.notify_outcomes(
            conn, [(c.command_id, r[1]) for (c, _), r in zip(commands, results, strict=True)])
        statuses = [r[0] for r in results]
        if any(s == "applied" for s in statuses):
            await conn.execute("SELECT pg_notify($1, '')", repository.OUTBOX_CHANNEL)
    return statuses
