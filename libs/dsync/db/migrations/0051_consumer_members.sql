-- A consumer records its Kafka group and member id with its liveness row, so the process
-- that replaces a crashed one on the same host can evict the dead member from the group at
-- once (libs/dsync/pipeline/predecessors.py) instead of waiting for the session timeout.
ALTER TABLE service_heartbeats ADD COLUMN group_id text, ADD COLUMN member_id text;
