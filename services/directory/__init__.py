"""Directory service: applies SCIM change commands to the directory state, in order per tenant."""
