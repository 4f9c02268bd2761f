"""Start the services as processes (as `make run` does) and talk to them over real HTTP."""
from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from dsync.devservers.ports import free_port
from dsync.devservers.supervisor import SERVICES, Supervisor

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass
class Tenant:
    id: str
    name: str
    token: str
    token_id: str


@dataclass
class RunningStack:
    supervisor: Supervisor
    base_url: str
    admin_token: str
    database_url: str
    bootstrap: str
    topic_prefix: str
    workdir: Path
    http: aiohttp.ClientSession = field(default_factory=aiohttp.ClientSession)

    @property
    def scim_url(self) -> str:
        return f"{self.base_url}/scim/v2"

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    async def admin(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.base_url}{path}", json=json,
                                     headers=self.admin_headers()) as r:
            body = await r.json(content_type=None) if r.content_length != 0 else None
            return r.status, body

    async def new_tenant(self, name: str | None = None) -> Tenant:
        status, body = await self.admin("POST", "/admin/v1/tenants",
                                        {"name": name or f"t-{uuid.uuid4().hex[:8]}"})
        assert status == 201, body
        return Tenant(body["id"], body["name"], body["scim_token"], body["scim_token_id"])

    async def scim(self, tenant: Tenant | str, method: str, path: str, json: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        token = tenant.token if isinstance(tenant, Tenant) else tenant
        hdrs = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
                **(headers or {})}
        async with self.http.request(method, f"{self.scim_url}{path}", json=json,
                                     headers=hdrs) as r:
            raw = await r.read()
            body = None
            if raw:
                import json as _json

                try:
                    body = _json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
            return r.status, body, r.headers

    async def create_user(self, tenant: Tenant, user_name: str, **attrs: Any) -> dict[str, Any]:
        status, body, _ = await self.scim(tenant, "POST", "/Users",
                                          {"schemas": [SCIM_USER], "userName": user_name, **attrs})
        assert status == 201, body
        return body  # type: ignore[no-any-return]

    async def wait_healthy(self, timeout: float = 90.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            crashing = [m.name for m in self.supervisor._managed.values()  # noqa: SLF001
                        if m.restarts >= 3]
            if crashing:
                tail = self.log(crashing[0])[-3000:]
                raise RuntimeError(f"{crashing[0]} keeps crashing at start:\n{tail}")
            try:
                async with self.http.get(f"{self.base_url}/healthz") as r:
                    if r.status == 200:
                        return
                    last = await r.json(content_type=None)
            except aiohttp.ClientError as exc:
                last = exc
            await asyncio.sleep(0.3)
        raise TimeoutError(f"stack not healthy after {timeout}s: {last}; logs in {self.workdir}")

    async def close(self) -> None:
        await self.http.close()
        await asyncio.to_thread(self.supervisor.stop)

    def log(self, service: str) -> str:
        return (self.workdir / "logs" / f"{service}.log").read_text(errors="replace")


async def start_stack(bootstrap: str, database_url: str, *, spares: bool = False,
                      **env_overrides: str) -> RunningStack:
    """The five services as processes (as `make run`, which also keeps warm `spares`)."""
    workdir = Path(tempfile.mkdtemp(prefix="dsync-stack-"))
    port = free_port()
    admin_token = "dsync_admin_" + secrets.token_urlsafe(24)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DSYNC_DATABASE_URL": database_url,
        "DSYNC_KAFKA_BOOTSTRAP": bootstrap,
        "DSYNC_KAFKA_TOPIC_PREFIX": prefix,
        "DSYNC_KAFKA_COMMANDS_PARTITIONS": "4",
        "DSYNC_KAFKA_EVENTS_PARTITIONS": "4",
        "DSYNC_HTTP_HOST": "127.0.0.1",
        "DSYNC_HTTP_PORT": str(port),
        "DSYNC_ADMIN_TOKEN": admin_token,
        "DSYNC_WEBHOOK_ALLOW_LOOPBACK": "true",
        "DSYNC_DB_POOL_MAX": "6",
        **env_overrides,
    }
    per_service = {name: {"DSYNC_METRICS_PORT": str(free_port())}
                   for name in SERVICES if name != "gateway"}
    supervisor = Supervisor(env=env, run_dir=workdir / "run", log_dir=workdir / "logs",
                            per_service_env=per_service, spares=spares)
    supervisor.start()
    stack = RunningStack(supervisor, f"http://127.0.0.1:{port}", admin_token, database_url,
                         bootstrap, prefix, workdir)
    try:
        await stack.wait_healthy()
    except BaseException:
        await stack.close()
        raise
    return stack
