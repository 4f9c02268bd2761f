"""Runs each dsync service as its own OS process and restarts it when it dies.

This is what an orchestrator does in production; `make run` and the end-to-end tests use
it. Each service's PID is written to `<run_dir>/<service>.pid` and rewritten on restart.
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
SERVICES = ("gateway", "directory", "roles", "sessions", "fanout")
CHECK_EVERY_S = 0.1
"""How often the watcher looks at its processes where it cannot be woken by their exit
(no `os.pidfd_open`); with it, every `IDLE_CHECK_EVERY_S`."""
IDLE_CHECK_EVERY_S = 5.0


@dataclass
class Managed:
    name: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    spare: subprocess.Popen[bytes] | None = None


@dataclass
class Supervisor:
    """Start, watch and stop the service processes.

    `env` is the environment shared by all services; `per_service_env` adds to it.
    """

    env: dict[str, str]
    run_dir: Path
    log_dir: Path | None = None
    services: tuple[str, ...] = field(default_factory=lambda: SERVICES)
    per_service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    restart_delay_s: float = 0.5
    """Pause before restarting a process that died within `stable_s` of its start (a crash
    loop); one that ran longer is restarted at once (a crash is a failover: every second
    the service is down counts)."""
    stable_s: float = 10.0
    spares: bool = False
    """Keep a warm spare per service: a process with its imports done, waiting on stdin
    (`dsync.process.run_service`). A service that dies is replaced by its spare at once
    instead of a cold start (seconds of imports on a loaded machine), and a new spare is
    started behind it. Costs one idle process per service."""
    _managed: dict[str, Managed] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _stop_pipe: tuple[int, int] = field(default_factory=os.pipe)

    def start(self) -> None:
        """Start every service and the watcher thread."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.services:
            env = {**self.env, **self.per_service_env.get(name, {}),
                   "DSYNC_SERVICE_NAME": name}
            self._managed[name] = Managed(name, env)
            self._spawn(self._managed[name])
        if self.spares:
            for m in self._managed.values():
                self._spawn_spare(m)
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _spawn(self, m: Managed) -> None:
        out = (open(self.log_dir / f"{m.name}.log", "ab")  # noqa: SIM115
               if self.log_dir else None)
        try:
            m.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", f"dsync_services.{m.name}"], env=m.env,
                stdout=out, stderr=subprocess.STDOUT if out else None)
        finally:
            if out:
                out.close()  # the child keeps its own descriptor
        m.started_at = time.monotonic()
        (self.run_dir / f"{m.name}.pid").write_text(f"{m.process.pid}\n")

    def _spawn_spare(self, m: Managed) -> None:
        out = (open(self.log_dir / f"{m.name}.log", "ab")  # noqa: SIM115
               if self.log_dir else None)
        try:
            m.spare = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", f"dsync_services.{m.name}"],
                env={**m.env, "DSYNC_SPARE": "1"}, stdin=subprocess.PIPE,
                stdout=out, stderr=subprocess.STDOUT if out else None)
        finally:
            if out:
                out.close()

    def _promote(self, m: Managed) -> bool:
        """Let the warm spare take over; False when there is none alive."""
        spare, m.spare = m.spare, None
        if spare is None or spare.poll() is not None or spare.stdin is None:
            return False
        try:
            spare.stdin.write(b"go\n")
            spare.stdin.close()
        except OSError:
            return False
        m.process = spare
        m.started_at = time.monotonic()
        (self.run_dir / f"{m.name}.pid").write_text(f"{spare.pid}\n")
        return True

    def _wait_for_an_exit(self) -> None:
        """Sleep until a service process exits, `stop` is called or the idle check is due.
        A process's pidfd becomes readable when it exits: no wake-ups while all is well
        (polling ten times a second cost the idle stack about 0.1 % of a core)."""
        if not hasattr(os, "pidfd_open"):
            self._stop.wait(CHECK_EVERY_S)
            return
        pidfds: list[int] = []
        try:
            for m in self._managed.values():
                if m.process is None or m.process.poll() is not None:
                    return  # exited already: look now
                try:
                    pidfds.append(os.pidfd_open(m.process.pid))
                except OSError:  # gone between poll() and here, or pidfds not allowed
                    self._stop.wait(CHECK_EVERY_S)
                    return
            select.select([*pidfds, self._stop_pipe[0]], [], [], IDLE_CHECK_EVERY_S)
        finally:
            for fd in pidfds:
                os.close(fd)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wait_for_an_exit()
            for m in self._managed.values():
                if m.process is not None and m.process.poll() is not None \
                        and not self._stop.is_set():
                    code = m.process.returncode
                    log.warning("%s exited (%s); restarting", m.name, code)
                    print(f"[dsync] {m.name} exited with {code}; restarting", flush=True)
                    crash_loop = time.monotonic() - m.started_at < self.stable_s
                    m.restarts += 1
                    if not crash_loop and self._promote(m):
                        self._spawn_spare(m)
                        continue
                    if crash_loop:
                        time.sleep(self.restart_delay_s)
                    if self._stop.is_set():
                        return
                    self._spawn(m)

    def pid(self, name: str) -> int:
        proc = self._managed[name].process
        assert proc is not None
        return proc.pid

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send `sig` to a service (fault tests); the watcher restarts it. Returns old pid."""
        pid = self.pid(name)
        os.kill(pid, sig)
        return pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every service, SIGKILL what is still running after `timeout`."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._stop_pipe[1], b"x")  # wakes the watcher
        if self._thread:
            self._thread.join(timeout=2)
        if self._thread is None or not self._thread.is_alive():
            for fd in self._stop_pipe:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._stop_pipe = (-1, -1)
        procs = [m.process for m in self._managed.values() if m.process is not None]
        for m in self._managed.values():
            if m.spare is not None:
                procs.append(m.spare)
                with contextlib.suppress(OSError):
                    if m.spare.stdin is not None:
                        m.spare.stdin.close()  # a waiting spare exits on EOF
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for m in self._managed.values():
            (self.run_dir / f"{m.name}.pid").unlink(missing_ok=True)
