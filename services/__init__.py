"""dsync services: each subpackage is one deployable process (`python -m dsync_services.<name>`)."""
