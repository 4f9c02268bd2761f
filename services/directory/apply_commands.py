"""decode -> load state -> decide -> persist (state + outbox + ledger, atomically).

`apply_batch` takes consecutive commands of one partition and applies them in order, run
by run. A run of user creates/replaces/patches (most IdP traffic) goes the hot way
(`user_batch`): one read, in-memory decisions, ONE write statement. Any other run, and a
hot run whose statement aborted (a uniqueness conflict, a value PostgreSQL refuses, a user
changed since it was read, a redelivered command), goes the careful way: one transaction,
command by command, each operation row locked first (a command whose operation is already
`applied` or `rejected` is a redelivery: it changes nothing and is answered again); after
a data error the run is redone with each command's writes in a savepoint, so a bad
command is rejected alone. Every run commits on its own; a redelivered batch finds the
runs already applied through the ledger.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from dsync.db import DbConnection
from dsync.ledger import writes
from dsync.messages.answers import WriteAnswer
from dsync.messages.commands import Command
from dsync.pipeline import channels
from dsync.scim.errors import InvalidValue, ScimError, Uniqueness
from dsync.scim.render import user_resource
from dsync_services.directory import repository
from dsync_services.directory.decisions import (
    Decision,
    Outcome,
    SaveResource,
    rejected,
)
from dsync_services.directory.handlers import HANDLERS, describe, load_and_decide
from dsync_services.directory.responses import answer_saved
from dsync_services.directory.user_batch import HOT_TYPES, Applied, UserBatch

log = logging.getLogger(__name__)
TERMINAL = ("applied", "rejected")

async def _answer(conn: DbConnection, command: Command, decision: Decision
                  ) -> dict[str, Any]:
    outcome = decision.outcome
    if outcome.error is not None:
        return WriteAnswer(status=outcome.status, error=outcome.error.body()).wire()
    save = next((w for w in decision.writes if isinstance(w, SaveResource)), None)
    if save is None or outcome.status == 204:
        return WriteAnswer(status=outcome.status).wire()
    return (await answer_saved(conn, command.tenant_id, outcome.status, save)).wire()


_DATA_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
                asyncpg.ProgramLimitExceededError)
"""Database errors caused by a command's data (not by the database being down)."""


async def apply_one(conn: DbConnection, command: Command, raw: bytes, *,
                    isolate: bool) -> tuple[str, dict[str, Any] | None]:
    """Apply one command inside the caller's transaction; return the operation status
    (`applied`, `rejected` or `duplicate`) and the stored response (None for a duplicate).

    With `isolate`, the writes run in a savepoint and a database error caused by this
    command's data rejects the command alone (the slow path after a failed batch).
    """
    status = await writes.lock_write(conn, command.command_id)
    if status in TERMINAL:
        return "duplicate", None
    method, path, kind = describe(command)
    if status is None:
        await writes.record_write(conn, op_id=command.command_id,
                                  tenant_id=command.tenant_id, method=method, path=path,
                                  resource_type=kind, command=orjson.loads(raw),
                                  received_at=command.issued_at)
    now = datetime.now(UTC)
    try:
        decision = await load_and_decide(conn, command, now)
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
    response = await _answer(conn, command, decision)
    await writes.finish_write(
        conn, op_id=command.command_id, status="applied" if err is None else "rejected",
        resource_id=outcome.resource_id, reason_code=err.reason_code if err else None,
        detail=err.detail if err else None, response=response)
    return ("applied" if err is None else "rejected"), response


async def _persist(conn: DbConnection, command: Command, decision: Decision,
                   now: datetime) -> None:
    for write in decision.writes:
        await repository.save(conn, command.tenant_id, write)
    await repository.append_events(conn, command.tenant_id, decision.events, now,
                                   notify=False)  # one NOTIFY per batch


def _uniqueness(kind: str, exc: asyncpg.UniqueViolationError) -> ScimError:
    what = "userName" if kind == "User" else "displayName"
    return Uniqueness(f"{what} is already taken in this tenant")


async def apply_batch(pool: asyncpg.Pool, commands: list[tuple[Command, bytes]],
                      on_status: Callable[[str], None] | None = None) -> None:
    """Apply consecutive commands of one partition in order, then wake the waiting
    gateways (NOTIFY at commit). See the module docstring.
    Raises on connection-level errors (transient); runs already committed stay applied
    and are recognised as such when the batch is redelivered.
    """
    statuses: list[str] = []
    async with pool.acquire() as conn:
        for hot, run in _runs(commands):
            statuses += await (_hot(conn, run) if hot else _careful(conn, run))
    if on_status:
        for status in statuses:
            on_status(status)


def _runs(commands: list[tuple[Command, bytes]]
          ) -> list[tuple[bool, list[tuple[Command, bytes]]]]:
    """Consecutive commands grouped by whether they can go the hot way."""
    runs: list[tuple[bool, list[tuple[Command, bytes]]]] = []
    for item in commands:
        hot = item[0].type in HOT_TYPES
        if runs and runs[-1][0] == hot:
            runs[-1][1].append(item)
        else:
            runs.append((hot, [item]))
    return runs


async def _hot(conn: DbConnection, commands: list[tuple[Command, bytes]]) -> list[str]:
    """User creates/replaces/patches: one read, one write statement (user_batch)."""
    batch = UserBatch(datetime.now(UTC))
    await batch.load(conn, [(c.tenant_id, target) for c, _ in commands  # not the creates
                            if (target := getattr(c, "resource_id", None)) is not None])
    for command, raw in commands:
        method, path, _ = describe(command)
        rid: UUID | None = getattr(command, "resource_id", None)  # None: a create
        try:
            current = batch.state.get(rid) if rid is not None else None
            decision = HANDLERS[command.type].decide(command, current, batch.now)
        except ScimError as exc:
            decision = rejected(exc, "User", rid)
        batch.record(Applied(command, raw, method, path, decision))
    try:
        return await batch.write(conn, _user_answer)
    except (*_DATA_ERRORS, asyncpg.SerializationError) as exc:
        log.info("hot run of %d: %s; applying command by command", len(commands),
                 type(exc).__name__)
        return await _careful(conn, commands)


def _user_answer(command: Command, decision: Decision,
                 groups: list[dict[str, Any]] | None) -> dict[str, Any]:
    outcome = decision.outcome
    if outcome.error is not None:
        return WriteAnswer(status=outcome.status, error=outcome.error.body()).wire()
    save = next((w for w in decision.writes if isinstance(w, SaveResource)), None)
    if save is None or outcome.status == 204:
        return WriteAnswer(status=outcome.status).wire()
    return WriteAnswer(status=outcome.status, resource=user_resource(
        save.id, save.doc, save.version, save.created_at, save.updated_at, groups)).wire()


async def _careful(conn: DbConnection,
                   commands: list[tuple[Command, bytes]]) -> list[str]:
    try:
        return await _run(conn, commands, isolate=False)
    except _DATA_ERRORS as exc:
        log.warning("run of %d hit %s; isolating commands", len(commands),
                    type(exc).__name__)
        return await _run(conn, commands, isolate=True)


async def _run(conn: DbConnection, commands: list[tuple[Command, bytes]], *,
               isolate: bool) -> list[str]:
    async with conn.transaction():
        results = [await apply_one(conn, command, raw, isolate=isolate)
                   for command, raw in commands]
        statuses = [r[0] for r in results]
        await repository.notify_outcomes(
            conn, [(c.command_id, r[1]) for (c, _), r in zip(commands, results, strict=True)],
            also=channels.OUTBOX if "applied" in statuses else None)
    return statuses
