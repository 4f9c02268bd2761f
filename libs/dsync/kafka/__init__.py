"""Plain aiokafka plumbing: topic creation, producers, and an ordered consumer loop."""
