"""The hot path: a batch of user creates, replaces and patches written in ONE statement.

IdP traffic is mostly these three. For a batch made only of them the directory reads the
targeted users once (no lock, no transaction), decides every command in memory against
the state the previous ones left, and writes everything — users, outbox events with
their sequences, ledger rows, the outcome and outbox NOTIFYs — in a single statement,
which PostgreSQL runs atomically on its own: no BEGIN/COMMIT round trips.

Concurrency is optimistic: an update applies only if the user still has the version that
was read, and a ledger row only if the operation was not applied before; otherwise the
statement aborts as a whole (`dsync_abort_unless`: SQLSTATE 40001, serialization failure)
and the caller redoes
the batch the careful way (locks, savepoints). A uniqueness conflict aborts it the same
way (the unique index), and is then answered 409 by the careful path.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from dsync.db import DbConnection
from dsync.ledger.writes import finish_user_writes_cte
from dsync.messages.commands import Command
from dsync.messages.events import DraftEvent
from dsync.pii import mask_pii
from dsync.pipeline import channels
from dsync.pipeline.outbox import outbox_json
from dsync.store.reads import user_groups
from dsync_services.directory import repository
from dsync_services.directory.decisions import Decision, SaveResource, StoredResource

HOT_TYPES = frozenset({"user.create", "user.replace", "user.patch"})

_LOAD = """
SELECT u.tenant_id, u.id, u.doc, u.version, u.created_at, u.updated_at,
       EXISTS (SELECT 1 FROM group_members g
                WHERE g.tenant_id = u.tenant_id AND g.member_id = u.id) AS in_groups
  FROM users u JOIN unnest($1::uuid[], $2::uuid[]) AS x(t, i)
    ON u.tenant_id = x.t AND u.id = x.i
"""

_USER_COLUMNS = "$%d::uuid[], $%d::uuid[], $%d::text[], $%d::text[], $%d::bool[], $%d::text[]," \
                " $%d::text[], $%d::bigint[], $%d::timestamptz[], $%d::timestamptz[]"

_FINISH_USER_WRITES = finish_user_writes_cte(27)
_WRITE = f"""
WITH ins AS (
    INSERT INTO users (tenant_id, id, user_name, external_id, active, display_name, doc,
                       version, created_at, updated_at)
    SELECT t, i, u, e, a, n, d::jsonb, v, c, m
      FROM unnest({_USER_COLUMNS % tuple(range(1, 11))}) AS x(t, i, u, e, a, n, d, v, c, m)
    RETURNING 1),
upd AS (
    UPDATE users AS s SET user_name = x.u, external_id = x.e, active = x.a,
           display_name = x.n, doc = x.d::jsonb, version = x.v, updated_at = x.m
      FROM unnest({_USER_COLUMNS % tuple(range(11, 21))}, $21::bigint[])
           AS x(t, i, u, e, a, n, d, v, c, m, was)
     WHERE s.tenant_id = x.t AND s.id = x.i AND s.version = x.was
    RETURNING 1),
counts AS (SELECT * FROM unnest($22::uuid[], $23::bigint[]) AS c(t, k)),
seq AS (
    INSERT INTO tenant_event_sequences AS q (tenant_id, last_sequence)
    SELECT t, k FROM counts
    ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = q.last_sequence + EXCLUDED.last_sequence
    RETURNING q.tenant_id, q.last_sequence),
box AS (
    INSERT INTO outbox (tenant_id, sequence, event)
    SELECT e.t, s.last_sequence - c.k + e.o,
           jsonb_set(e.ev::jsonb, '{{sequence}}', to_jsonb(s.last_sequence - c.k + e.o))
      FROM unnest($24::uuid[], $25::bigint[], $26::text[]) AS e(t, o, ev)
      JOIN seq s ON s.tenant_id = e.t JOIN counts c ON c.t = e.t
     ORDER BY e.t, e.o  -- outbox ids (the relay's order) follow the sequences
    RETURNING 1),
ops AS ({_FINISH_USER_WRITES}),
woken AS (SELECT pg_notify('{channels.OUTCOMES}', p) FROM unnest($38::text[]) AS p)
SELECT dsync_abort_unless((SELECT count(*) FROM upd) = $39, 'a user changed since it was read')
   AND dsync_abort_unless((SELECT count(*) FROM ops) = $40, 'an operation was applied before')
   AND (SELECT count(*) FROM woken) >= 0 AND (SELECT count(*) FROM box) >= 0
   AND (SELECT count(*) FROM ins) >= 0,
   pg_notify('{channels.OUTBOX}', '')
"""


@dataclass
class Applied:
    command: Command
    raw: bytes
    method: str
    path: str
    decision: Decision


@dataclass
class UserBatch:
    """Users read once, decided in order, written in one statement (module docstring)."""

    now: datetime
    state: dict[UUID, StoredResource | None] = field(default_factory=dict)
    version_read: dict[UUID, int] = field(default_factory=dict)
    in_groups: set[UUID] = field(default_factory=set)
    created: set[UUID] = field(default_factory=set)
    applied: list[Applied] = field(default_factory=list)

    async def load(self, conn: DbConnection | asyncpg.Pool,
                   targets: list[tuple[UUID, UUID]]) -> None:
        """Read the (tenant id, user id) targets of the batch in one query."""
        if not targets:
            return
        for _, i in targets:
            self.state[i] = None
        rows = await conn.fetch(_LOAD, [t for t, _ in targets], [i for _, i in targets])
        for r in rows:
            self.state[r["id"]] = StoredResource(r["id"], r["doc"], r["version"],
                                                 r["created_at"], r["updated_at"])
            self.version_read[r["id"]] = r["version"]
            if r["in_groups"]:
                self.in_groups.add(r["id"])

    def record(self, applied: Applied) -> None:
        for write in applied.decision.writes if applied.decision.outcome.applied else ():
            assert isinstance(write, SaveResource)
            self.state[write.id] = StoredResource(write.id, write.doc, write.version,
                                                  write.created_at, write.updated_at)
            if write.is_new:
                self.created.add(write.id)
        self.applied.append(applied)

    async def write(self, conn: DbConnection | asyncpg.Pool,
                    answer: Callable[[Command, Decision, list[dict[str, Any]] | None],
                                     dict[str, Any]]) -> list[str]:
        """Render the answers and write the whole batch in one statement; the statuses.
        Raises asyncpg errors (SerializationError: an optimistic check failed; nothing was
        written)."""
        groups = {uid: await user_groups(conn, tenant, uid)
                  for tenant, uid in self._changed_users() if uid in self.in_groups}
        answers = [answer(a.command, a.decision, _groups_of(a.decision, groups))
                   for a in self.applied]
        inserts, updates = self._user_rows()
        counts, events = self._events()
        errors = [a.decision.outcome.error for a in self.applied]
        a = self.applied
        await conn.fetchval(
            _WRITE, *_columns(inserts), *_columns(updates, with_version_read=True),
            [t for t, _ in counts], [k for _, k in counts],
            [t for t, _, _ in events], [o for _, o, _ in events], [e for _, _, e in events],
            [x.command.command_id for x in a], [x.command.tenant_id for x in a],
            [x.method for x in a], [x.path for x in a],
            [x.decision.outcome.resource_id for x in a],
            ["applied" if e is None else "rejected" for e in errors],
            [None if e is None else e.reason_code for e in errors],
            [None if e is None else mask_pii(e.detail) for e in errors],
            [None if e is None else x.raw.decode() for x, e in zip(a, errors, strict=True)],
            [orjson.dumps(r).decode() for r in answers],
            [x.command.issued_at for x in a],
            repository.outcome_payloads([(x.command.command_id, r)
                                         for x, r in zip(a, answers, strict=True)]),
            len(updates), len(a))
        return ["applied" if e is None else "rejected" for e in errors]

    def _changed_users(self) -> set[tuple[UUID, UUID]]:
        return {(x.command.tenant_id, w.id) for x in self.applied if x.decision.outcome.applied
                for w in x.decision.writes if isinstance(w, SaveResource) and not w.is_new}

    def _user_rows(self) -> tuple[list[tuple[UUID, SaveResource, int]],
                                  list[tuple[UUID, SaveResource, int]]]:
        last: dict[UUID, tuple[UUID, SaveResource]] = {}
        for x in self.applied:
            if x.decision.outcome.applied:
                for w in x.decision.writes:
                    assert isinstance(w, SaveResource)
                    last[w.id] = (x.command.tenant_id, w)
        inserts = [(t, w, 0) for i, (t, w) in last.items() if i in self.created]
        updates = [(t, w, self.version_read[i]) for i, (t, w) in last.items()
                   if i not in self.created]
        return inserts, updates

    def _events(self) -> tuple[list[tuple[UUID, int]], list[tuple[UUID, int, str]]]:
        per_tenant: dict[UUID, list[DraftEvent]] = {}
        for x in self.applied:
            if x.decision.outcome.applied:
                per_tenant.setdefault(x.command.tenant_id, []).extend(x.decision.events)
        counts = [(t, len(evs)) for t, evs in per_tenant.items() if evs]
        rows = [(t, n, outbox_json(e, t, self.now))
                for t, evs in per_tenant.items() for n, e in enumerate(evs, start=1)]
        return counts, rows


def _groups_of(decision: Decision, groups: dict[UUID, list[dict[str, Any]]]
               ) -> list[dict[str, Any]] | None:
    save = next((w for w in decision.writes if isinstance(w, SaveResource)), None)
    return groups.get(save.id) if save is not None else None


def _columns(rows: list[tuple[UUID, SaveResource, int]], *,
             with_version_read: bool = False) -> list[list[Any]]:
    cols: list[list[Any]] = [
        [t for t, _, _ in rows], [w.id for _, w, _ in rows],
        [w.doc["userName"] for _, w, _ in rows], [w.doc.get("externalId") for _, w, _ in rows],
        [w.doc.get("active", True) is not False for _, w, _ in rows],
        [w.doc.get("displayName") for _, w, _ in rows],
        [orjson.dumps(w.doc).decode() for _, w, _ in rows], [w.version for _, w, _ in rows],
        [w.created_at for _, w, _ in rows], [w.updated_at for _, w, _ in rows]]
    if with_version_read:
        cols.append([v for _, _, v in rows])
    return cols
