"""`python -m dsync_services.migrate`: apply pending schema migrations, then exit."""
