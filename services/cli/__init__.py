"""`dsync`: the operators' command line, a client of the admin API (docs/cli.md)."""
