"""Short messages shown after a redirect, named in the query string (no cookie state)."""

NOTICES = {
    "signed_out": "You are signed out.",
    "saved": "Saved. The gateway applies the change within a few seconds.",
    "reverted": "The config file's values apply again, within a few seconds.",
    "password_changed": "Password changed.",
    "user_added": "Account created.",
    "user_removed": "Account removed.",
    "setup_done": "Setup is complete. Welcome to your gateway.",
    "badge_revoked": "The badge was revoked and can no longer connect.",
    "tracker_saved": "Tracker saved. New conversations are tagged with it within a few seconds.",
    "tag_corrected": "Tag corrected. The change is kept with your name and the time.",
    "deleted": "Deleted. The content can no longer be recovered.",
}
