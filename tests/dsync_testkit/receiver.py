"""A real webhook receiver on 127.0.0.1: every POST to /hooks/<name> is answered 200 and
kept with its arrival time (monotonic), in arrival order."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Arrival:
    at: float
    event: dict[str, Any]


@dataclass
class HookReceiver:
    base_url: str = ""
    arrivals: dict[str, list[Arrival]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def new_route(self) -> tuple[str, list[Arrival]]:
        """A fresh path: its URL and the list its arrivals go to."""
        name = uuid.uuid4().hex[:10]
        self.arrivals[name] = []
        return f"{self.base_url}/hooks/{name}", self.arrivals[name]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrivals[request.match_info["name"]].append(
            Arrival(time.monotonic(), json.loads(body)))
        return web.Response(text="ok")


def first_arrival_sequences(arrivals: list[Arrival]) -> list[int]:
    """Sequences in the order their events first arrived (re-sends of an event dropped)."""
    seen: set[str] = set()
    out: list[int] = []
    for a in arrivals:
        if a.event["id"] not in seen:
            seen.add(a.event["id"])
            out.append(int(a.event["sequence"]))
    return out
