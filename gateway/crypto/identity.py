"""The gateway's Ed25519 signing identity and the tenant's (HQ's) X25519 encryption keys.

Key files:

* Gateway signing key: PKCS#8 PEM, unencrypted, mode 0600.
* Tenant private key: PKCS#8 PEM, unencrypted, mode 0600. Loading also accepts a file of exactly
  32 raw bytes (the X25519 private scalar).
* Tenant public key: SubjectPublicKeyInfo PEM, mode 0644. Loading also accepts 32 raw bytes.
* Signer export (what HQ trusts), a one-line JSON object, UTF-8::

    {"algorithm":"Ed25519","format":"salestag-signer","gateway_id":"gw-1",
     "key_id":"<16 hex>","public_key":"<base64 of the 32-byte raw key>","version":1}

A key id is the first 8 bytes of SHA-256 over the 32-byte raw public key, in lowercase hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from gateway.crypto.errors import KeyFileError
from gateway.crypto.keyfiles import read_secret, write_file_atomically, write_secret

GATEWAY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SIGNER_FORMAT = "salestag-signer"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def key_id(raw_public_key: bytes) -> str:
    """The id of a raw public key: the first 8 bytes of its SHA-256, in hex."""
    return hashlib.sha256(raw_public_key).digest()[:8].hex()


def check_gateway_id(gateway_id: str) -> str:
    """Return ``gateway_id`` if it is 1-64 of ``A-Z a-z 0-9 . _ -`` (it is an MQTT topic level)."""
    if not isinstance(gateway_id, str) or not GATEWAY_ID_PATTERN.fullmatch(gateway_id):
        raise ValueError(
            "a gateway id is 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return gateway_id


def _pem_private(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class GatewayIdentity:
    """The gateway's signing key, with the gateway id it speaks for."""

    def __init__(self, private_key: Ed25519PrivateKey, gateway_id: str) -> None:
        self._key = private_key
        self.gateway_id = check_gateway_id(gateway_id)
        self.key_id = key_id(self.public_key_bytes())

    @classmethod
    def load_or_create(cls, path: Path | str, gateway_id: str) -> GatewayIdentity:
        """Load the signing key at ``path``, generating it (0600) if there is none."""
        path = Path(path)
        if not path.exists():
            check_gateway_id(gateway_id)
            write_secret(path, _pem_private(Ed25519PrivateKey.generate()))
        try:
            key = serialization.load_pem_private_key(read_secret(path), password=None)
        except (ValueError, TypeError) as err:
            raise KeyFileError(f"{path} is not an unencrypted PKCS#8 PEM private key") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} does not hold an Ed25519 key")
        return cls(key, gateway_id)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; returns the 64-byte Ed25519 signature."""
        return self._key.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        """The verifying key."""
        return self._key.public_key()

    def public_key_bytes(self) -> bytes:
        """The 32-byte raw verifying key."""
        return self._key.public_key().public_bytes(*_RAW)

    def export_public(self, path: Path | str) -> None:
        """Write the signer file HQ loads with :func:`load_signer_public_key` (mode 0644)."""
        document = {
            "algorithm": "Ed25519",
            "format": SIGNER_FORMAT,
            "gateway_id": self.gateway_id,
            "key_id": self.key_id,
            "public_key": base64.b64encode(self.public_key_bytes()).decode("ascii"),
            "version": 1,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"
        write_file_atomically(path, text.encode("utf-8"), 0o644, replace=True)


@dataclass(frozen=True)
class TrustedSigner:
    """A gateway's verifying key as HQ trusts it."""

    key_id: str
    gateway_id: str
    public_key: Ed25519PublicKey


def load_signer(path: Path | str) -> TrustedSigner:
    """Load a signer file written by :meth:`GatewayIdentity.export_public`, checking its key id."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        fields = {"algorithm", "format", "gateway_id", "key_id", "public_key", "version"}
        if not isinstance(doc, dict) or set(doc) != fields:
            raise ValueError("unexpected fields")
        if (doc["format"], doc["version"], doc["algorithm"]) != (SIGNER_FORMAT, 1, "Ed25519"):
            raise ValueError("unsupported format")
        raw = base64.b64decode(doc["public_key"], validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(raw)
        gateway_id = check_gateway_id(doc["gateway_id"])
    except OSError as err:
        raise KeyFileError(f"cannot read signer file {path}: {err.strerror}") from None
    except (ValueError, TypeError, KeyError, binascii.Error) as err:
        raise KeyFileError(f"{path} is not a valid signer file: {err}") from None
    if doc["key_id"] != key_id(raw):
        raise KeyFileError(f"{path}: key_id does not match the public key")
    return TrustedSigner(doc["key_id"], gateway_id, public_key)


def load_signer_public_key(path: Path | str) -> tuple[str, Ed25519PublicKey]:
    """Load a signer file; returns ``(key_id, public_key)``."""
    signer = load_signer(path)
    return signer.key_id, signer.public_key


def generate_tenant_keypair(private_path: Path | str, public_path: Path | str) -> X25519PublicKey:
    """Create the tenant's X25519 key pair as PEM files (private 0600, public 0644)."""
    private_key = X25519PrivateKey.generate()
    public_key = private_key.public_key()
    public_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_secret(private_path, _pem_private(private_key))
    write_file_atomically(public_path, public_pem, 0o644)
    return public_key


def load_tenant_public_key(path: Path | str) -> X25519PublicKey:
    """Load the tenant's public key (SubjectPublicKeyInfo PEM, or 32 raw bytes)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise KeyFileError(f"cannot read tenant public key {path}: {err.strerror}") from None
    try:
        if len(data) == 32:
            return X25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise KeyFileError(f"{path} is not a PEM or raw X25519 public key") from err
    if not isinstance(key, X25519PublicKey):
        raise KeyFileError(f"{path} does not hold an X25519 public key")
    return key


def load_tenant_private_key(path: Path | str) -> X25519PrivateKey:
    """Load the tenant's private key (PKCS#8 PEM, or 32 raw bytes), refusing loose permissions."""
    data = read_secret(path)
    try:
        if len(data) == 32:
            return X25519PrivateKey.from_private_bytes(data)
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"{path} is not an unencrypted PEM or raw X25519 private key") from err
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"{path} does not hold an X25519 private key")
    return key


def x25519_key_id(key: X25519PublicKey | X25519PrivateKey) -> str:
    """The key id of a tenant key (of its public half)."""
    public = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return key_id(public.public_bytes(*_RAW))
