"""dsync shared libraries: messages, storage, Kafka plumbing and SCIM logic (no entry points)."""
