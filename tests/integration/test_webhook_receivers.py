"""The webhook receiver examples (Python with `standardwebhooks`, Node.js with node:crypto)
receive real deliveries from the stack, verify them, and refuse forged ones."""
from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from dsync.devservers.ports import free_port
from dsync_testkit.stack import RunningStack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "receiver-secret-0123456789"  # noqa: S105 - a test secret
RECEIVERS = {
    "python": [sys.executable, str(EXAMPLES / "webhook_receiver.py")],
    "node": [shutil.which("node") or "node", str(EXAMPLES / "webhook_receiver.mjs")],
}


async def _wait_listening(url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as r:
                    await r.read()
                    return
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("language", sorted(RECEIVERS))
async def test_example_receiver_verifies_real_deliveries(stack: RunningStack,
                                                         language: str) -> None:
    if language == "node" and shutil.which("node") is None:
        pytest.skip("node is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = await asyncio.create_subprocess_exec(
        *RECEIVERS[language], "--port", str(port), "--secret", SECRET, "--max-events", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await _wait_listening(url)
        async with aiohttp.ClientSession() as http:
            forged = {"webhook-id": "x", "webhook-timestamp": str(int(time.time())),
                      "webhook-signature": "v1,AAAA"}
            async with http.post(url, data=b'{"id":"x"}', headers=forged) as r:
                assert r.status == 400
        tenant = await stack.new_tenant()
        status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                         {"url": url, "secret": SECRET})
        assert status == 201, body
        for i in range(3):
            await stack.create_user(tenant, f"hook{i}@example.com")
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    printed = [json.loads(line) for line in out.decode().splitlines()]
    assert [(e["type"], e["sequence"], e["tenantid"]) for e in printed] == [
        ("user.created", n, tenant.id) for n in (1, 2, 3)]
