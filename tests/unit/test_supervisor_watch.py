"""The supervisor's watcher sleeps until a child exits or it is stopped (no polling)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from dsync.devservers import supervisor as sup


def _watcher_with(process: subprocess.Popen[bytes], tmp_path: Path) -> sup.Supervisor:
    s = sup.Supervisor(env={}, run_dir=tmp_path)
    s._managed["child"] = sup.Managed("child", {}, process=process)
    return s


def test_the_exit_of_a_child_wakes_the_watcher_before_the_idle_check(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    s = _watcher_with(child, tmp_path)
    started = time.monotonic()
    s._wait_for_an_exit()
    assert child.poll() is not None  # woken by the exit, not by the idle check
    assert time.monotonic() - started < sup.IDLE_CHECK_EVERY_S


def test_stop_wakes_a_watcher_whose_children_all_run(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        s = _watcher_with(child, tmp_path)
        woke = threading.Event()
        thread = threading.Thread(target=lambda: (s._wait_for_an_exit(), woke.set()))
        thread.start()
        time.sleep(0.2)
        assert not woke.is_set()  # nothing exited: still asleep
        s._stop.set()
        os.write(s._stop_pipe[1], b"x")
        assert woke.wait(sup.IDLE_CHECK_EVERY_S - 1)
        thread.join()
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
