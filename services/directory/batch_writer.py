"""What one batch of commands writes, gathered in memory and written in few statements.

The fast path of `apply_commands` decides each command against the state as the batch
left it (`state_of`), records here what the decision writes, and flushes it: all user
rows in one upsert, all events of a tenant in one outbox statement, all ledger rows in
one statement at the end. Group commands read the database, so the batch flushes its
user writes before each of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from dsync.messages.commands import Command
from dsync.messages.events import DraftEvent
from dsync.pii import mask_pii
from dsync.pipeline import channels
from dsync.pipeline.outbox import append_events
from dsync.store.reads import user_groups
from dsync_services.directory import repository
from dsync_services.directory.decisions import (
    Decision,
    RemoveResource,
    SaveResource,
    StoredResource,
)

_UPSERT_USERS = """
INSERT INTO users (tenant_id, id, user_name, external_id, active, display_name, doc,
                   version, created_at, updated_at)
SELECT t, i, u, e, a, n, d::jsonb, v, c, m
  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[],
              $7::text[], $8::bigint[], $9::timestamptz[], $10::timestamptz[])
       AS x(t, i, u, e, a, n, d, v, c, m)
ON CONFLICT (tenant_id, id) DO UPDATE
   SET user_name = EXCLUDED.user_name, external_id = EXCLUDED.external_id,
       active = EXCLUDED.active, display_name = EXCLUDED.display_name, doc = EXCLUDED.doc,
       version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
"""

_LOAD_USERS = """
SELECT id, doc, version, created_at, updated_at FROM users
 WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE
"""

_RECORD_OPERATIONS = """
WITH rows AS (
    INSERT INTO operations AS o (id, tenant_id, method, path, resource_type, resource_id,
                                 status, reason_code, retryable, attempts, detail, command,
                                 response, received_at, completed_at)
    SELECT i, t, mt, p, rt, r, s, rc, false, 1, dt, cmd::jsonb, resp::jsonb, rcv, now()
      FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[],
                  $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                  $12::timestamptz[]) AS x(i, t, mt, p, rt, r, s, rc, dt, cmd, resp, rcv)
    ON CONFLICT (id) DO UPDATE
       SET status = EXCLUDED.status, resource_id = COALESCE(EXCLUDED.resource_id, o.resource_id),
           reason_code = EXCLUDED.reason_code, detail = EXCLUDED.detail,
           response = EXCLUDED.response, retryable = false, attempts = o.attempts + 1,
           completed_at = now()
     WHERE o.status NOT IN ('applied', 'rejected')
    RETURNING 1)
SELECT count(*) FROM rows
"""


class Redelivered(Exception):  # noqa: N818
    """A command of the batch had been applied before: redo the batch the careful way."""


@dataclass
class _Done:
    command: Command
    raw: bytes
    method: str
    path: str
    kind: str
    decision: Decision
    response: dict[str, Any] | None = None


@dataclass
class BatchWriter:
    conn: asyncpg.Connection
    now: datetime
    loaded: dict[UUID, StoredResource | None] = field(default_factory=dict)
    """Users as the batch left them (None: absent or deleted)."""
    _saves: dict[tuple[UUID, UUID], SaveResource] = field(default_factory=dict)
    _removes: list[tuple[UUID, RemoveResource]] = field(default_factory=list)
    _events: list[tuple[UUID, DraftEvent]] = field(default_factory=list)
    done: list[_Done] = field(default_factory=list)

    async def preload_users(self, tenant_id: UUID, ids: list[UUID]) -> None:
        """Load (and lock) the users the batch's commands target, in one query."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self.loaded]
        if not wanted:
            return
        rows = await self.conn.fetch(_LOAD_USERS, tenant_id, wanted)
        for i in wanted:
            self.loaded[i] = None
        for r in rows:
            self.loaded[r["id"]] = StoredResource(r["id"], r["doc"], r["version"],
                                                  r["created_at"], r["updated_at"])

    def record(self, done: _Done) -> None:
        """Keep what `done.decision` writes; the next decisions see it (`loaded`)."""
        tenant = done.command.tenant_id
        if done.decision.outcome.applied:
            for write in done.decision.writes:
                if isinstance(write, SaveResource):
                    self._saves[(tenant, write.id)] = write
                    self.loaded[write.id] = StoredResource(write.id, write.doc, write.version,
                                                           write.created_at, write.updated_at)
                elif isinstance(write, RemoveResource):
                    self._saves.pop((tenant, write.id), None)
                    self._removes.append((tenant, write))
                    self.loaded[write.id] = None
            self._events.extend((tenant, e) for e in done.decision.events)
        self.done.append(done)

    async def flush(self) -> None:
        """Write the users and events gathered so far (before a group command reads)."""
        if self._saves:
            saves = list(self._saves.items())
            await self.conn.execute(
                _UPSERT_USERS, [t for (t, _), _ in saves], [s.id for _, s in saves],
                [s.doc["userName"] for _, s in saves],
                [s.doc.get("externalId") for _, s in saves],
                [s.doc.get("active", True) is not False for _, s in saves],
                [s.doc.get("displayName") for _, s in saves],
                [orjson.dumps(s.doc).decode() for _, s in saves],
                [s.version for _, s in saves], [s.created_at for _, s in saves],
                [s.updated_at for _, s in saves])
            self._saves.clear()
        for tenant, remove in self._removes:
            await repository.save(self.conn, tenant, remove)
        self._removes.clear()
        by_tenant: dict[UUID, list[DraftEvent]] = {}
        for tenant, event in self._events:
            by_tenant.setdefault(tenant, []).append(event)
        for tenant, events in by_tenant.items():
            await append_events(self.conn, tenant, events, self.now, notify=False)
        self._events.clear()

    async def finish(self, render: Any, *, extra_outcomes: list[tuple[UUID, Any]],
                     extra_applied: bool) -> list[str]:
        """Flush, render the answers, write every ledger row and wake the gateways and
        the relay (one statement each). Raises Redelivered when a command had been
        applied already (nothing of this transaction must then be kept)."""
        await self.flush()
        await self._render_users(render)
        done = self.done
        errors = [d.decision.outcome.error for d in done]
        count = await self.conn.fetchval(
            _RECORD_OPERATIONS, [d.command.command_id for d in done],
            [d.command.tenant_id for d in done], [d.method for d in done],
            [d.path for d in done], [d.kind for d in done],
            [d.decision.outcome.resource_id for d in done],
            ["applied" if e is None else "rejected" for e in errors],
            [None if e is None else e.reason_code for e in errors],
            [None if e is None else mask_pii(e.detail) for e in errors],
            [None if e is None else d.raw.decode()
             for d, e in zip(done, errors, strict=True)],
            [orjson.dumps(d.response).decode() for d in done],
            [d.command.issued_at for d in done])
        if count != len(done):
            raise Redelivered(f"{len(done) - count} of {len(done)} commands were applied before")
        statuses = ["applied" if e is None else "rejected" for e in errors]
        await repository.notify_outcomes(
            self.conn, [(d.command.command_id, d.response) for d in done] + extra_outcomes,
            also=channels.OUTBOX if "applied" in statuses or extra_applied else None)
        return statuses

    async def _render_users(self, render: Any) -> None:
        """Answers of user commands; `groups` of changed users read in one query first."""
        changed = {(d.command.tenant_id, w.id) for d in self.done if d.response is None
                   for w in d.decision.writes
                   if isinstance(w, SaveResource) and not w.is_new and d.decision.outcome.applied}
        in_groups: set[tuple[UUID, UUID]] = set()
        for tenant in {t for t, _ in changed}:
            ids = [i for t, i in changed if t == tenant]
            rows = await self.conn.fetch(
                "SELECT DISTINCT member_id FROM group_members WHERE tenant_id = $1"
                " AND member_id = ANY($2::uuid[])", tenant, ids)
            in_groups |= {(tenant, r["member_id"]) for r in rows}
        for d in self.done:
            if d.response is not None:
                continue
            groups: dict[UUID, list[dict[str, Any]]] = {}
            for w in d.decision.writes:
                if isinstance(w, SaveResource) and (d.command.tenant_id, w.id) in in_groups:
                    groups[w.id] = await user_groups(self.conn, d.command.tenant_id, w.id)
            d.response = render(d.command, d.decision, groups)
