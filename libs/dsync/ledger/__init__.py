"""The operations ledger: one row per SCIM write and per asynchronous side effect.

This package owns the `operations` table. `status` defines the statuses and the allowed
transitions; `writes` holds the only SQL that inserts, updates or deletes its rows;
`effects` gives side effects their deterministic ids; `worker` applies queued operations
(role recomputations, retried revocations). Other modules read the table freely.
"""
