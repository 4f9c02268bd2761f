"""The pipeline machinery every dsync service runs on, built for cost per message.

* `consumer`  — `PipelineConsumer`: the one Kafka consumer loop (ordered per partition,
  at-least-once, offsets committed at most every 200 ms, fetching only when NOTIFYed, broker-reset
  recovery). The directory's command handler and the event consumers plug into it.
* `event_effects` — `TrackedEvents`: the `dsync.events` handler: decode -> relevance (no I/O)
  -> apply + dedupe rows + outbox in one transaction -> commit; poison events to the DLQ.
* `event_service` — `run_event_service`: a whole process consuming `dsync.events` in its
  own group (roles, sessions, fanout) on `dsync.service_runtime`.
* `relay`     — `OutboxRelay`: publishes the transactional outbox to `dsync.events`;
  leader-elected by an advisory lock that dies with its owner's connection.
* `outbox`    — `append_events`: how any service puts events in the outbox.
* `listener`  — `NotifyListener`: one LISTEN connection per process, reconnecting.
* `idle`      — `Wakeups` (a producer's coalesced wake-up NOTIFY) and `IdleClock` (when a
  long-polling consumer may pause).
* `channels`  — every NOTIFY channel name, in one place.
* `backoff`   — the one retry/backoff policy.
"""
