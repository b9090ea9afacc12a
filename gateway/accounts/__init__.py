"""People who use the web UI: accounts, roles, password hashing, lockout and the setup code."""
