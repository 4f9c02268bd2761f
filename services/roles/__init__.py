"""The roles service (consumes dsync.events in its own consumer group)."""
