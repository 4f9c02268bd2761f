"""The production compose file has the shape the README promises (no Docker engine here,
so its structure is what we can check)."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "directory", "roles", "sessions", "fanout")


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_runs_from_the_one_image_with_its_own_command() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc["command"] == ["python", "-m", f"dsync_services.{name}"]
        assert svc["build"] == "." and svc["image"] == "dsync:latest"
        assert "replicas" not in svc.get("deploy", {}) or svc["deploy"]["replicas"] >= 1


def test_services_point_at_kafka_kraft_and_postgres() -> None:
    compose = _compose()
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert compose["services"]["postgres"]["image"].startswith("postgres:")
    for name in SERVICES:
        env = compose["services"][name]["environment"]
        assert env["DSYNC_DATABASE_URL"].startswith("postgresql://")
        assert env["DSYNC_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert set(compose["services"][name]["depends_on"]) == {"postgres", "kafka"}


def test_only_the_gateway_is_published_and_needs_the_admin_token() -> None:
    services = _compose()["services"]
    assert services["gateway"]["ports"] == ["8080:8080"]
    assert "DSYNC_ADMIN_TOKEN" in services["gateway"]["environment"]
    assert all("ports" not in services[n] for n in SERVICES if n != "gateway")


def test_the_image_installs_the_services_it_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY services" in dockerfile and "COPY libs" in dockerfile
    assert "-c constraints.txt" in dockerfile
    for name in SERVICES:
        assert (ROOT / "services" / name / "__main__.py").exists()
