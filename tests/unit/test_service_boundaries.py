"""Service boundaries, checked by walking every import of every module.

A service (`services/<name>/`) may import another service only through that service's
public module `api` (its admin routes, mounted by the gateway with `setup(app)`); the shared
library `libs/dsync` imports no service at all. Reading another service's tables is ruled
out the same way in SQL: roles and sessions read the directory's `directory_*` views.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "directory", "roles", "sessions", "fanout")
PUBLIC = "api"


def _imports(path: Path) -> list[str]:
    """Every absolute module an import statement of `path` names (`from a import b` gives
    `a.b` as well as `a`, so `from pkg import api` counts as importing `pkg.api`)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _violations(owner: str | None, path: Path) -> list[str]:
    bad = []
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "dsync_services" or len(parts) < 2 or parts[1] not in SERVICES:
            continue
        target = parts[1]
        if owner is None:
            bad.append(f"{path.relative_to(ROOT)} imports service module {name}")
        elif target != owner and (len(parts) < 3 or parts[2] != PUBLIC):
            bad.append(f"{path.relative_to(ROOT)} imports {name}: only "
                       f"dsync_services.{target}.{PUBLIC} is public")
    return bad


def test_services_import_each_other_only_through_their_api_module() -> None:
    bad = [v for svc in SERVICES for py in sorted((ROOT / "services" / svc).rglob("*.py"))
           for v in _violations(svc, py)]
    assert not bad, "\n".join(bad)


def test_the_shared_library_imports_no_service() -> None:
    bad = [v for py in sorted((ROOT / "libs").rglob("*.py")) for v in _violations(None, py)]
    assert not bad, "\n".join(bad)


def test_the_checker_catches_an_internal_import(tmp_path: Path) -> None:
    probe = ROOT / "services" / "gateway" / "_probe_boundary.py"
    probe.write_text("from dsync_services.fanout import sender\n"
                     "from dsync_services.fanout import api\n")
    try:
        found = _violations("gateway", probe)
    finally:
        probe.unlink()
    assert len(found) == 1 and "dsync_services.fanout.sender" in found[0]


_DIRECTORY_TABLES = re.compile(r"\b(FROM|JOIN)\s+(users|groups|group_members)\b", re.I)


def test_roles_and_sessions_read_the_directory_through_its_views() -> None:
    bad = [f"{py.relative_to(ROOT)}: {m.group(0)}"
           for svc in ("roles", "sessions") for py in (ROOT / "services" / svc).rglob("*.py")
           for m in _DIRECTORY_TABLES.finditer(py.read_text())]
    assert not bad, "\n".join(bad)


def test_the_gateway_mounts_every_public_api() -> None:
    app_source = (ROOT / "services" / "gateway" / "app.py").read_text()
    for svc in ("roles", "sessions", "fanout"):
        assert (ROOT / "services" / svc / f"{PUBLIC}.py").exists()
        assert f"{svc}_api.setup(app)" in app_source


_LEDGER_WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+operations\b", re.I)


def test_one_module_writes_the_operations_ledger() -> None:
    writers = sorted({str(py.relative_to(ROOT)) for top in ("libs", "services")
                      for py in (ROOT / top).rglob("*.py")
                      if _LEDGER_WRITE.search(py.read_text())})
    assert writers == ["libs/dsync/ledger/writes.py"]


def test_ledger_transitions_never_leave_a_final_status() -> None:
    from dsync.ledger.status import FINAL, TRANSITIONS, OpStatus, can_move

    assert all(not TRANSITIONS[s] for s in FINAL)
    assert can_move("failed", "accepted") and not can_move("applied", "failed")
    assert set(TRANSITIONS) == set(OpStatus)
