"""Session fixtures for real servers.

With `DSYNC_DATABASE_URL` / `DSYNC_KAFKA_BOOTSTRAP` set, those servers are used; otherwise an
embedded PostgreSQL (fsync off) and an embedded Tansu broker are started once per test
session and stopped at the end. Each test that needs a clean database uses a fresh
database created from a migrated template, so tests never see each other's rows.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dsync.devservers import EmbeddedBroker, EmbeddedPostgres

from dsync.db.migrate import migrate_dsn

TEMPLATE_DB = "dsync_template"


class Servers:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="dsync-test-"))
        self.pg: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.admin_dsn = os.environ.get("DSYNC_DATABASE_URL", "")
        self.bootstrap = os.environ.get("DSYNC_KAFKA_BOOTSTRAP", "")

    def start(self) -> None:
        if not self.admin_dsn:
            self.pg = EmbeddedPostgres(self.tmp / "pg", durable=False,
                                       log_path=self.tmp / "postgres.log")
            self.admin_dsn = self.pg.start()
        if not self.bootstrap:
            self.broker = EmbeddedBroker(log_path=self.tmp / "broker.log")
            self.bootstrap = self.broker.start()
            # as `make run` does: services and in-test relays republish after a broker reset
            os.environ["DSYNC_KAFKA_EMBEDDED_BROKER"] = "true"

    def stop(self) -> None:
        if self.broker:
            self.broker.stop()
        if self.pg:
            self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dsn_for(self, database: str) -> str:
        base, _, _ = self.admin_dsn.rpartition("/")
        return f"{base}/{database}"


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    s = Servers()
    s.start()
    asyncio.run(_prepare_template(s))
    yield s
    s.stop()


async def _prepare_template(s: Servers) -> None:
    conn = await asyncpg.connect(s.admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await conn.close()
    await migrate_dsn(s.dsn_for(TEMPLATE_DB))


async def fresh_database(s: Servers) -> str:
    """Create an empty, migrated database (copy of the template); return its DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(s.admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    finally:
        await conn.close()
    return s.dsn_for(name)


@pytest.fixture
async def database_url(servers: Servers) -> AsyncIterator[str]:
    """DSN of a fresh migrated database for this test."""
    yield await fresh_database(servers)


@pytest.fixture
def kafka_bootstrap(servers: Servers) -> str:
    return servers.bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix per test, so tests never read each other's records."""
    return f"t{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- the whole stack, as processes
from dsync_testkit.stack import RunningStack, start_stack  # noqa: E402


@pytest.fixture(scope="module")
async def stack(servers: Servers) -> AsyncIterator[RunningStack]:
    """Every service as its own OS process (as `make run` starts them), on a fresh database
    and fresh topics; shared by the tests of one module (tests use their own tenants)."""
    running = await start_stack(servers.bootstrap, await fresh_database(servers))
    try:
        yield running
    finally:
        await running.close()
