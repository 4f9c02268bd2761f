"""`python -m dsync_services.migrate` (the Kubernetes migration Job) migrates an empty database."""
from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg

from dsync.db.migrate import migration_files
from dsync_testkit.plugin import Servers


async def test_migrate_command_applies_every_migration_once(servers: Servers) -> None:
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(servers.admin_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    dsn = servers.dsn_for(name)
    env = {**os.environ, "DSYNC_DATABASE_URL": dsn}
    for _ in range(2):  # the second run finds nothing pending
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dsync_services.migrate", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, out.decode()
    assert b"none pending" in out
    conn = await asyncpg.connect(dsn)
    try:
        versions = [r["version"] for r in await conn.fetch(
            "SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()
    assert versions == [v for v, _, _ in migration_files()]
