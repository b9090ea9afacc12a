"""Badge identity: the gateway's local certificate authority, the badge registry and pairing."""
