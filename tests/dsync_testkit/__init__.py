"""Shared pytest plugin: real PostgreSQL and a real Kafka-protocol broker, once per session."""
