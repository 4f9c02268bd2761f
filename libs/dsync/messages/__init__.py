"""Commands (gateway -> directory) and events (-> downstream), one shared vocabulary."""
