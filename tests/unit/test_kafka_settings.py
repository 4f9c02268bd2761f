"""Kafka replication, SASL and TLS settings reach every client and topic creation (issue 12)."""
from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from dsync.kafka.clients import build_admin, build_consumer, build_producer, build_reader
from dsync.kafka.connection import connection_kwargs
from dsync.kafka.topics import new_topics
from dsync.pipeline.relay import OutboxRelay, RelayMetrics
from dsync.settings import KafkaSettings


def _settings(**values: Any) -> KafkaSettings:
    return KafkaSettings(kafka_bootstrap="k1:9093,k2:9093", **values)


async def _clients(settings: KafkaSettings) -> list[Any]:
    """The low-level client of every kind of aiokafka client dsync builds (never started)."""
    producer = build_producer(settings, client_id="t")
    consumer = build_consumer(settings, "topic", group_id="g", client_id="t")
    admin = build_admin(settings)
    reader = build_reader(settings)
    clients = [producer.client, consumer._client, admin._client, reader._client]
    await producer.stop()
    await consumer.stop()
    await reader.stop()
    await admin.close()
    return clients


async def test_defaults_are_plaintext_without_sasl() -> None:
    kwargs = connection_kwargs(_settings())
    assert kwargs == {"bootstrap_servers": "k1:9093,k2:9093", "security_protocol": "PLAINTEXT",
                      "ssl_context": None}
    for client in await _clients(_settings()):
        assert client._security_protocol == "PLAINTEXT"
        assert client._bootstrap_servers == "k1:9093,k2:9093"


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_sasl_reaches_every_client(mechanism: str) -> None:
    settings = _settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism=mechanism,
                         kafka_sasl_username="svc", kafka_sasl_password="s3cret")  # noqa: S106
    for client in await _clients(settings):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == mechanism
        assert client._sasl_plain_username == "svc"
        assert client._sasl_plain_password == "s3cret"  # noqa: S105
        assert isinstance(client._ssl_context, ssl.SSLContext)
    assert "s3cret" not in repr(settings)


def _make_ca_and_client_cert(tmp: Path) -> tuple[Path, Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    ca, cert, key = tmp / "ca.pem", tmp / "client.pem", tmp / "client.key"
    for subject, key_out, cert_out in (("/CN=dsync-test-ca", tmp / "ca.key", ca),
                                       ("/CN=dsync-client", key, cert)):
        args = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", subject, "-keyout", str(key_out), "-out", str(cert_out)]
        subprocess.run(args, check=True, capture_output=True)  # noqa: S603 - fixed arguments
    return ca, cert, key


async def test_tls_ca_and_client_certificate_reach_every_client(tmp_path: Path) -> None:
    ca, cert, key = _make_ca_and_client_cert(tmp_path)
    settings = _settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(ca),
                         kafka_ssl_certfile=str(cert), kafka_ssl_keyfile=str(key))
    for client in await _clients(settings):
        context = client._ssl_context
        assert client._security_protocol == "SSL"
        assert context.verify_mode == ssl.CERT_REQUIRED
        subjects = [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()]
        assert {"commonName": "dsync-test-ca"} in subjects


def test_missing_tls_file_fails_at_start(tmp_path: Path) -> None:
    settings = _settings(kafka_security_protocol="SSL",
                         kafka_ssl_cafile=str(tmp_path / "absent.pem"))
    with pytest.raises(OSError):
        connection_kwargs(settings)


@pytest.mark.parametrize("values", [
    {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "svc"},
    {"kafka_security_protocol": "PLAINTEXT", "kafka_ssl_cafile": "/ca.pem"},
    {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "/c.pem"},
    {"kafka_replication_factor": 1, "kafka_min_insync_replicas": 2},
    {"kafka_sasl_mechanism": "GSSAPI"},
])
def test_inconsistent_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _settings(**values)


def test_topics_get_replication_factor_and_min_isr() -> None:
    topics = new_topics(_settings(kafka_replication_factor=3, kafka_min_insync_replicas=2,
                                  kafka_events_partitions=24))
    assert {t.name for t in topics} == {"dsync.commands", "dsync.commands.dlq",
                                        "dsync.events", "dsync.events.dlq", "dsync.relay.fence"}
    for topic in topics:
        assert topic.replication_factor == 3
        assert topic.topic_configs == {"min.insync.replicas": "2"}
    assert next(t for t in topics if t.name == "dsync.events").num_partitions == 24
    assert all(t.topic_configs == {} for t in new_topics(_settings()))


class _Relay(OutboxRelay):
    """The relay's regression rule without a database: records republish requests."""

    def __init__(self, kafka: KafkaSettings) -> None:  # noqa: D107 - test double
        self.kafka, self.topic = kafka, kafka.events_topic
        self.metrics = RelayMetrics(CollectorRegistry())
        self.republished = 0

    async def republish_all(self) -> None:
        self.republished += 1


async def test_offset_regression_republishes_only_on_the_embedded_broker() -> None:
    embedded = _Relay(_settings(kafka_embedded_broker=True))
    assert await embedded._on_regression("fence offset") is True
    assert embedded.republished == 1

    apache = _Relay(_settings(kafka_embedded_broker=False))  # the suite's env says true
    assert await apache._on_regression("partition offset") is False
    assert apache.republished == 0
    assert apache.metrics.regressions._value.get() == 1
