"""The SCIM gateway: authenticates the tenant, publishes commands, answers from outcomes."""
