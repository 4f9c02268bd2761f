"""Which recorded consumer-group members are proven dead (dsync.pipeline.predecessors)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

from dsync.pipeline.predecessors import dead_here, this_instance


def test_only_a_process_of_this_host_that_no_longer_runs_is_dead() -> None:
    host = socket.gethostname()
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    child.wait()  # reaped: its pid runs no more
    assert dead_here(f"{host}-{child.pid}")
    assert not dead_here(this_instance())  # ourselves
    assert not dead_here(f"{host}-{os.getppid()}")  # a live process
    assert not dead_here(f"other-{host}-{child.pid}")  # another host: not provable
    assert not dead_here(f"{host}-notapid")
