"""Named errors of the crypto layer."""

from __future__ import annotations

from gateway.errors import GatewayError


class CryptoError(GatewayError):
    """Base class for key handling, encryption and signature failures."""


class KeyFileError(CryptoError):
    """A key file is missing, malformed, already present or too widely readable."""


class IntegrityError(CryptoError):
    """Decryption or signature verification failed: the data is not authentic."""
