"""One blueprint per area of the web UI."""
