"""Errors of badge identity and pairing."""

from __future__ import annotations

from gateway.errors import GatewayError


class PkiError(GatewayError):
    """The local CA or the badge registry cannot do what was asked."""


class UnknownBadge(PkiError):
    """No badge of that id was ever paired."""


class BadgeExists(PkiError):
    """A badge of that id is already paired (revoke it first to pair it again)."""
