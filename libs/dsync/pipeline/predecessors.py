"""Fast partition handover after a crash: a restarted consumer evicts its dead predecessor.

A consumer-group member that dies without leaving (SIGKILL, crash) keeps its partitions
until the group's session timeout runs out; the group then pauses again to rebalance
(≈ 9–11 s on the embedded broker with a 6 s timeout). But when the process that
starts next is on the same host, it can *know* the old member is dead: every consumer
records its Kafka member id in `service_heartbeats` (instance `<hostname>-<pid>`), and a
row of this host whose pid no longer runs is a dead member. The new process sends the
group coordinator a LeaveGroup on the dead member's behalf before it joins, so the
rebalance happens at once. Nothing else changes: the dead member's uncommitted records
are read again by the new owner and its handlers dedupe, as after any rebalance.

Only members proven dead are evicted (same host, pid gone, or a row under this very
process's name, left by a predecessor with the same pid as after a container restart); a
member elsewhere is left to the session timeout. Evicting a live member by mistake (e.g.
two containers sharing a hostname) would cost one rebalance, never a record: its next
commit fails and the new owner redoes the batch.
"""
from __future__ import annotations

import logging
import os
import socket

import asyncpg
from aiokafka.client import AIOKafkaClient, CoordinationType
from aiokafka.errors import KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

log = logging.getLogger(__name__)


def this_instance() -> str:
    """How a consumer of this process names itself in `service_heartbeats`."""
    return f"{socket.gethostname()}-{os.getpid()}"


def dead_here(instance: str) -> bool:
    """True when `instance` is a process of this host that no longer runs."""
    host, _, pid = instance.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit() or instance == this_instance():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # e.g. EPERM: it runs, as another user
    return False


async def evict_dead_predecessors(pool: asyncpg.Pool, bootstrap: str, service: str,
                                  group_id: str) -> int:
    """Make every proven-dead member of `group_id` recorded by `service` leave the group;
    forget their rows. Call before this process's consumer registers itself. Returns how
    many were evicted. Never raises for broker or database trouble (the session timeout
    remains the fallback)."""
    try:
        rows = await pool.fetch(
            "SELECT instance, member_id FROM service_heartbeats WHERE service = $1"
            " AND group_id = $2 AND member_id IS NOT NULL", service, group_id)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("cannot read the previous members of %s: %s", group_id, exc)
        return 0
    # A row under our own name was written by a predecessor that had our pid (a container
    # restarted as pid 1): we have not registered yet, so it cannot be ours.
    dead = [(r["instance"], r["member_id"]) for r in rows
            if r["instance"] == this_instance() or dead_here(r["instance"])]
    if not dead:
        return 0
    evicted = 0
    try:
        evicted = await _leave(bootstrap, group_id, [member for _, member in dead])
    except (KafkaError, OSError) as exc:
        log.warning("could not evict dead members of %s: %s", group_id, exc)
    try:
        await pool.execute("DELETE FROM service_heartbeats WHERE service = $1"
                           " AND instance = ANY($2::text[])", service,
                           [instance for instance, _ in dead])
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("cannot forget dead members of %s: %s", group_id, exc)
    return evicted


async def _leave(bootstrap: str, group_id: str, member_ids: list[str]) -> int:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, client_id="dsync-evict",
                            request_timeout_ms=5000)
    await client.bootstrap()
    try:
        node = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
        evicted = 0
        for member_id in member_ids:
            response = await client.send(node, LeaveGroupRequest(group_id, member_id))
            # 0 = left; 25 = UNKNOWN_MEMBER_ID: already gone (session expired meanwhile)
            if response.error_code in (0, 25):
                evicted += 1
                log.info("evicted dead member %s from %s", member_id, group_id)
            else:
                log.warning("LeaveGroup for %s in %s: error %d", member_id, group_id,
                            response.error_code)
        return evicted
    finally:
        await client.close()
