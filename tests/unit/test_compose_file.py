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
    services = compose["services"]
    nodes = sorted(n for n in services if n.startswith("kafka-"))
    assert nodes == ["kafka-1", "kafka-2", "kafka-3"]
    voters = services["kafka-1"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    for i, node in enumerate(nodes, start=1):
        env = services[node]["environment"]
        assert services[node]["image"].startswith("apache/kafka")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_NODE_ID"] == i and f"{i}@{node}:9093" in voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{node}:9092"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"] == "postgres:18"
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["DSYNC_DATABASE_URL"].startswith("postgresql://")
        assert env["DSYNC_KAFKA_BOOTSTRAP"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
        assert env["DSYNC_KAFKA_REPLICATION_FACTOR"] == "3"
        assert env["DSYNC_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert set(services[name]["depends_on"]) == {"postgres", "migrate", *nodes}
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"


def test_migrations_run_once_before_the_services() -> None:
    migrate = _compose()["services"]["migrate"]
    assert migrate["command"] == ["python", "-m", "dsync_services.migrate"]
    assert migrate["restart"] == "no"


def test_gateways_scale_behind_the_proxy_which_alone_publishes_a_port() -> None:
    services = _compose()["services"]
    assert services["proxy"]["ports"] == ["8080:80"]
    assert "ports" not in services["gateway"] and services["gateway"]["expose"] == ["8080"]
    assert all("ports" not in services[n] for n in SERVICES)
    conf = (ROOT / "deploy" / "compose" / "nginx.conf").read_text()
    assert "gateway:8080" in conf and "resolver 127.0.0.11" in conf
    mounted = services["proxy"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).resolve() == (ROOT / "deploy" / "compose" / "nginx.conf").resolve()


def test_the_gateway_knows_its_public_url_and_needs_the_admin_token() -> None:
    env = _compose()["services"]["gateway"]["environment"]
    assert env["DSYNC_PUBLIC_BASE_URL"].startswith("${DSYNC_PUBLIC_BASE_URL:-http")
    assert "DSYNC_ADMIN_TOKEN" in env


def test_every_dsync_service_has_a_readiness_healthcheck() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        check = " ".join(services[name]["healthcheck"]["test"])
        port = "8080" if name == "gateway" else services[name]["environment"]["DSYNC_METRICS_PORT"]
        assert f"http://127.0.0.1:{port}/readyz" in check, name
    for name in ("postgres", "kafka-1", "proxy"):
        assert services[name]["healthcheck"]["test"]


def test_the_image_installs_the_services_it_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY services" in dockerfile and "COPY libs" in dockerfile
    assert "-c constraints.txt" in dockerfile
    for name in SERVICES:
        assert (ROOT / "services" / name / "__main__.py").exists()
