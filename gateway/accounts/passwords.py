"""Password policy and hashing (Argon2id, the OWASP-recommended memory-hard hash)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.accounts.errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 256

# 19 MiB, 2 passes: OWASP's Argon2id baseline; ~40 ms on a Raspberry Pi 4 core.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def check_policy(password: str, *, username: str = "") -> None:
    """Raise WeakPassword unless the password is long enough and not the username."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"use at most {MAX_LENGTH} characters")
    if username and username.lower() in password.lower():
        raise WeakPassword("the password must not contain the user name")
    if len(set(password)) < 5:
        raise WeakPassword("use more different characters")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Constant-time check of ``password`` against an Argon2 hash."""
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


# Verified against when the user does not exist, so timing does not reveal which names exist: a
# hash made once with _HASHER's parameters (a test keeps them equal). Written out rather than made
# at import, which cost every process importing the accounts 0.1 s and a 19 MiB block.
DUMMY_HASH = ("$argon2id$v=19$m=19456,t=2,p=1$klK3hQvTzhpGBWgPdbuT8A$"
              "RyxF4Pa6HKwI45iQqOIiuVeDHbIbYeG09TJjnMyxmeU")
