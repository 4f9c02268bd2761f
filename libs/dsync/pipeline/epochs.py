"""Sequence epochs: what keeps per-tenant `sequence` increasing across a database restore.

A tenant's `sequence` is `epoch * 2**32 + n`, with epoch 0 until an operator restores the
database. A point-in-time restore rewinds `tenant_event_sequences`, while `dsync.events`
still holds the events published after the restore point; new events would reuse their
numbers and consumers would drop them as duplicates. `start_new_epoch` (run by
`python -m dsync_services.migrate --new-epoch`, with the directory stopped) moves every
tenant to the start of the next epoch, so its next event is `(epoch + 1) * 2**32 + 1`.
Consumers read a higher epoch as "the directory was restored": see docs/events.md.
"""
from __future__ import annotations

import asyncpg

EPOCH_BITS = 32


def epoch_of(sequence: int) -> int:
    return sequence >> EPOCH_BITS


def first_of_epoch(epoch: int) -> int:
    """The first sequence number a tenant's events get in `epoch`."""
    return (epoch << EPOCH_BITS) + 1


_NEW_EPOCH = f"""
UPDATE tenant_event_sequences
   SET last_sequence = ((last_sequence >> {EPOCH_BITS}) + 1) << {EPOCH_BITS}
"""


async def start_new_epoch(conn: asyncpg.Connection) -> int:
    """Move every tenant to the start of its next epoch; returns how many tenants moved.
    One statement, one transaction: run it with no directory running."""
    status = await conn.execute(_NEW_EPOCH)
    return int(status.split()[-1])


__all__ = ["EPOCH_BITS", "epoch_of", "first_of_epoch", "start_new_epoch"]
