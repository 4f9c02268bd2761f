"""Start and stop the whole dsync stack the way `make run` does, as one subprocess.

`python -m dsync_services.stack` runs with its state (embedded PostgreSQL data, logs, pid
files) in a fresh temporary DSYNC_STATE_DIR, the gateway on a free port (and the four
metrics ports after it free too) and an admin token made up here. The stack starts the
embedded PostgreSQL and broker and supervises the five services; SIGTERM stops them all.
Anything of the tree still alive after the grace period is killed by PID.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from process_cpu import SERVICES, tree_pids

REPO = Path(__file__).resolve().parents[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(size: int = 5) -> int:
    """A port p such that p .. p+size-1 are all free (gateway + one metrics port each)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base: int = s.getsockname()[1]
        if base + size < 65536 and all(_port_free(base + i) for i in range(1, size)):
            return base
    raise RuntimeError("no block of free ports found")


def _started_at(pid: int) -> int | None:
    """A process's start time (clock ticks since boot), to tell it from a reused PID."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    return int(raw[raw.rfind(")") + 2:].split()[19])


class StackProcess:
    """One `python -m dsync_services.stack` subprocess and its temporary state."""

    def __init__(self, keep_state: bool = False) -> None:
        self.keep_state = keep_state
        self.state_dir = Path(tempfile.mkdtemp(prefix="dsync-bench-"))
        self.port = free_port_block()
        self.admin_token = "dsync_admin_bench_" + secrets.token_urlsafe(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 240.0) -> None:
        """Start the stack and wait until GET /healthz answers 200."""
        env = {"XDG_RUNTIME_DIR": tempfile.gettempdir(), **os.environ,  # as the Makefile
               "DSYNC_STATE_DIR": str(self.state_dir), "DSYNC_HTTP_PORT": str(self.port),
               "DSYNC_ADMIN_TOKEN": self.admin_token,
               # the bench measures throughput at the offered load: the per-tenant in-flight
               # cap (64 by default, docs/limits.md) would answer the open loop's bursts 429
               "DSYNC_CONCURRENCY_LIMIT": os.environ.get("DSYNC_CONCURRENCY_LIMIT", "1024")}
        with open(self.state_dir / "stack.log", "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "dsync_services.stack"], cwd=REPO, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited ({self.process.returncode}) before it was"
                                   f" healthy:\n{self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.5)
        raise RuntimeError(f"the stack was not healthy after {timeout_s:.0f} s:\n"
                           f"{self.log_tail()}")

    def check_alive(self) -> None:
        """Raise, with the logs' tails, if the stack process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the stack exited ({self.process.returncode}):\n"
                               f"{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as r:  # noqa: S310
                return bool(r.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for path in [self.state_dir / "stack.log", *sorted(self.state_dir.glob("logs/*.log"))]:
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                texts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(texts)

    def service_pids(self) -> dict[str, int]:
        """The supervisor's current PID of each service (changes when one is restarted)."""
        pids = {}
        for name in SERVICES:
            path = self.state_dir / "run" / f"{name}.pid"
            if path.exists():
                pids[name] = int(path.read_text().strip() or 0)
        return pids

    def create_tenant(self, name: str) -> str:
        """Create a tenant through the admin API; return its SCIM bearer token."""
        req = urllib.request.Request(  # noqa: S310 - our own URL
            self.base_url + "/admin/v1/tenants", data=json.dumps({"name": name}).encode(),
            method="POST", headers={"Authorization": f"Bearer {self.admin_token}",
                                    "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310
            return str(json.load(r)["scim_token"])

    def stop(self, grace_s: float = 60.0) -> None:
        """SIGTERM the stack, wait for it, kill whatever of its tree is left; remove the
        state directory unless keep_state."""
        if self.process is not None and self.process.poll() is None:
            tree = {pid: _started_at(pid) for pid in tree_pids(self.process.pid)}
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid, started in tree.items():
                if started is not None and _started_at(pid) == started:  # same process
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
        if not self.keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
