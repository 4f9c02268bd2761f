-- The outbox relay's fence: the offset of its last write to the `<prefix>.relay.fence`
-- topic. An offset that goes backwards means the broker lost its topics (the embedded
-- broker keeps them in memory), so every retained event is published again.
CREATE TABLE relay_state (
    id            integer PRIMARY KEY CHECK (id = 1),
    fence_offset  bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
