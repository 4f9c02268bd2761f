"""Reads of the directory state shared by the gateway (GET) and the directory (write answers)."""
