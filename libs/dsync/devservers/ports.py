"""Free TCP ports and readiness waits on loopback."""
from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    """Block until a TCP connect to host:port succeeds; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not accept connections on {host}:{port} "
                                   f"within {timeout:.0f}s") from None
            time.sleep(0.05)
