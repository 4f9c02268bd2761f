"""Apply pending migrations to `DSYNC_DATABASE_URL` and exit (the Kubernetes migration Job,
run before a rollout; every service also migrates at start, under an advisory lock)."""
from __future__ import annotations

import asyncio
import logging
import sys

from dsync.db.migrate import migrate_dsn
from dsync.logs import setup_logging
from dsync.settings import PostgresSettings

log = logging.getLogger("dsync.migrate")


def main() -> int:
    setup_logging("migrate")
    applied = asyncio.run(migrate_dsn(PostgresSettings().database_url))
    log.info("migrations applied: %s", ", ".join(f"{v:04d}" for v in applied) or "none pending")
    return 0


if __name__ == "__main__":
    sys.exit(main())
