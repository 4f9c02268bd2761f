"""`make run`: the development stack (embedded servers + every service, supervised)."""
