"""The sessions service (consumes dsync.events in its own consumer group)."""
