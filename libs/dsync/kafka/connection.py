"""How every dsync Kafka client connects: bootstrap servers, TLS and SASL (docs/deploy.md).

One function so that producers, consumers, the admin client and tools never differ in how
they reach the cluster; a setting added here reaches all of them.
"""
from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from dsync.settings import KafkaSettings


def tls_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL / SASL_SSL (CA and optional client certificate), else None.
    Raises OSError / ssl.SSLError when a named file is missing or unreadable."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None,
        certfile=settings.kafka_ssl_certfile or None,
        keyfile=settings.kafka_ssl_keyfile or None,
        password=settings.kafka_ssl_key_password.get_secret_value() or None,
    )
    return context


def connection_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments shared by AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        "ssl_context": tls_context(settings),
    }
    if settings.kafka_security_protocol.startswith("SASL_"):
        kwargs.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return kwargs


__all__ = ["connection_kwargs", "tls_context"]
