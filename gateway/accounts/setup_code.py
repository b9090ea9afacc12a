"""The one-time setup code that unlocks the first-run wizard until the first account exists.

The code itself is never stored: ``DATA_DIR/setup-code.json`` holds its digest (the format
``salestag-gateway provision`` writes at an appliance's first boot, see ``gateway.appliance``).
When the web UI starts and no code exists yet (a box set up without ``provision``), it makes
one and prints it on the console and in the journal. Creating the first account consumes the
code and leaves ``DATA_DIR/setup-done``, so no code is ever made again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

import sqlite_utils

from gateway.accounts.errors import SetupCodeInvalid
from gateway.crypto.keyfiles import write_file_atomically
from gateway.store.layout import Layout

#: Crockford's base32 without look-alikes (no I, L, O, U)
SETUP_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SETUP_GROUPS = 3
SETUP_GROUP_LEN = 4
ISSUE_FILE = Path("/etc/issue.d/salestag-setup.issue")


def new_setup_code() -> str:
    """A one-time code like ``7K2Q-M9XD-4TRB`` (60 bits)."""
    groups = ("".join(secrets.choice(SETUP_ALPHABET) for _ in range(SETUP_GROUP_LEN))
              for _ in range(SETUP_GROUPS))
    return "-".join(groups)


def setup_code_digest(code: str) -> str:
    """The digest stored for a code; case, spaces and dashes do not matter when typed."""
    canonical = "".join(ch for ch in code.upper() if ch in SETUP_ALPHABET)
    return hashlib.sha256(b"salestag/setup-code/v1\x00" + canonical.encode()).hexdigest()


class SetupCode:
    """Issue and redeem the setup code; it works only while no account exists."""

    def __init__(self, db: sqlite_utils.Database, data_dir: Path,
                 issue_file: Path | None = ISSUE_FILE) -> None:
        self.db = db
        self.code_file = Layout(data_dir).setup_code
        self.done_file = Layout(data_dir).setup_done
        self.issue_file = issue_file

    def needed(self) -> bool:
        """True until the first account exists."""
        users = int(self.db.execute("SELECT count(*) FROM users").fetchone()[0])
        return users == 0 and not self.done_file.exists()

    def issue(self, *, renew: bool = False) -> str | None:
        """A new code if setup is needed and none exists (or ``renew``); else None."""
        if not self.needed() or (self.code_file.exists() and not renew):
            return None
        code = new_setup_code()
        record = {"sha256": setup_code_digest(code), "created_at": int(time.time())}
        write_file_atomically(self.code_file, (json.dumps(record) + "\n").encode(), 0o600,
                              replace=True)
        return code

    def check(self, code: str) -> None:
        """Raise SetupCodeInvalid unless ``code`` is the current, unused code."""
        try:
            stored = json.loads(self.code_file.read_text(encoding="utf-8"))["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            raise SetupCodeInvalid("no setup code is waiting to be used") from None
        if not self.needed() or not hmac.compare_digest(str(stored), setup_code_digest(code)):
            raise SetupCodeInvalid("that setup code is not valid")

    def consume(self) -> None:
        """The first account exists: the code is spent and setup is never unlocked again."""
        write_file_atomically(self.done_file, f"{int(time.time())}\n".encode(), 0o644,
                              replace=True)
        self.code_file.unlink(missing_ok=True)
        if self.issue_file is not None:
            with contextlib.suppress(OSError):  # root's console banner; a service user may not
                self.issue_file.unlink(missing_ok=True)
