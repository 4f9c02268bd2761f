"""Apply pending migrations to `DSYNC_DATABASE_URL` and exit (the Kubernetes migration Job,
run before a rollout; every service also migrates at start, under an advisory lock).

`--new-epoch`, after restoring the database from a backup and before starting the
directory: every tenant's event `sequence` moves to the start of a new epoch
(`dsync.pipeline.epochs`, docs/deploy.md#backup-and-restore).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import asyncpg

from dsync.db.migrate import migrate
from dsync.logs import setup_logging
from dsync.pipeline.epochs import start_new_epoch
from dsync.settings import PostgresSettings

log = logging.getLogger("dsync.migrate")


async def run(dsn: str, *, new_epoch: bool) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        applied = await migrate(conn)
        log.info("migrations applied: %s",
                 ", ".join(f"{v:04d}" for v in applied) or "none pending")
        if new_epoch:
            moved = await start_new_epoch(conn)
            log.info("new sequence epoch started for %d tenants", moved)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dsync_services.migrate")
    parser.add_argument("--new-epoch", action="store_true",
                        help="after a database restore: start a new sequence epoch")
    args = parser.parse_args(argv)
    setup_logging("migrate")
    asyncio.run(run(PostgresSettings().database_url, new_epoch=args.new_epoch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
