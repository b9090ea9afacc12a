"""Account recovery from the gateway's own console (``salestag-gateway user ...``)."""

from __future__ import annotations

import getpass
from pathlib import Path

from gateway.accounts.errors import AccountError


def read_new_password(password_file: str | None) -> str:
    """From a file (first line), else typed twice on the terminal without echo."""
    if password_file:
        return Path(password_file).read_text(encoding="utf-8").splitlines()[0]
    first = getpass.getpass("new password: ")
    if first != getpass.getpass("repeat it: "):
        raise AccountError("the two passwords differ")
    return first
