"""deploy/k8s renders (kustomize base + overlays) and validates offline against the
Kubernetes schemas; KEDA ScaledObjects are checked structurally (issue 12)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dsync_testkit.kustomize import render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.32"
CONSUMERS = {"directory": ("dsync.commands", "dsync-directory"),
             "roles": ("dsync.events", "dsync-roles"),
             "sessions": ("dsync.events", "dsync-sessions"),
             "fanout": ("dsync.events", "dsync-fanout")}


def _by_kind(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_there_are_dev_and_prod_overlays() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    docs = render(K8S / "overlays" / overlay)
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: checked structurally below
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked == len(docs) - len(CONSUMERS) and checked >= 14


def test_the_schema_check_rejects_a_broken_manifest() -> None:
    deployment = _by_kind(render(K8S / "overlays" / "prod"))[("Deployment", "dsync-gateway")]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "three"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    unknown = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_deployment_with_probes_resources_and_a_pdb(overlay: str) -> None:
    res = _by_kind(render(K8S / "overlays" / overlay))
    for svc in ("gateway", *CONSUMERS):
        deployment = res[("Deployment", f"dsync-{svc}")]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["command"][-1] == f"dsync_services.{svc}"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["limits"]["memory"]
        assert ":" in container["image"]
        pdb = res[("PodDisruptionBudget", f"dsync-{svc}")]
        assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"][
            "matchLabels"]
    job = res[("Job", "dsync-migrate")]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == \
        "dsync_services.migrate"
    hpa = res[("HorizontalPodAutoscaler", "dsync-gateway")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "dsync-gateway"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_each_consumer_on_its_lag_capped_at_the_partitions(overlay: str) -> None:
    res = _by_kind(render(K8S / "overlays" / overlay))
    config = res[("ConfigMap", "dsync-config")]["data"]
    partitions = {"dsync.commands": int(config["DSYNC_KAFKA_COMMANDS_PARTITIONS"]),
                  "dsync.events": int(config["DSYNC_KAFKA_EVENTS_PARTITIONS"])}
    scaled = {name: d for (kind, name), d in res.items() if kind == "ScaledObject"}
    assert set(scaled) == {f"dsync-{svc}" for svc in CONSUMERS}
    for svc, (topic, group) in CONSUMERS.items():
        obj = scaled[f"dsync-{svc}"]
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        spec = obj["spec"]
        assert ("Deployment", spec["scaleTargetRef"]["name"]) in res
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions[topic]
        kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
        assert len(kafka) == 1
        meta = kafka[0]["metadata"]
        assert (meta["topic"], meta["consumerGroup"]) == (topic, group)
        assert int(meta["lagThreshold"]) > 0
        assert meta["bootstrapServers"] == config["DSYNC_KAFKA_BOOTSTRAP"]
        for trigger in spec["triggers"]:
            assert set(trigger) <= {"type", "metadata", "name", "authenticationRef",
                                    "metricType"}
            assert all(isinstance(v, str) for v in trigger["metadata"].values())
    fanout = [t for t in scaled["dsync-fanout"]["spec"]["triggers"] if t["type"] == "prometheus"]
    assert len(fanout) == 1 and "dsync_webhook_deliveries" in fanout[0]["metadata"]["query"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_small_renderer_agrees_with_kubectl_kustomize(overlay: str) -> None:
    args = ["kubectl", "kustomize", str(K8S / "overlays" / overlay)]
    out = subprocess.run(args,  # noqa: S603,S607 - fixed arguments
                         capture_output=True, text=True, timeout=120, check=True).stdout
    theirs = _by_kind([d for d in yaml.safe_load_all(out) if d])
    assert theirs == _by_kind(render(K8S / "overlays" / overlay))
