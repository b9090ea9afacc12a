"""Named errors of the privacy layer."""

from __future__ import annotations

from gateway.errors import GatewayError


class PrivacyError(GatewayError):
    """A privacy operation cannot be done as asked."""


class BadActor(PrivacyError):
    """The actor is not a valid identifier (e.g. ``user:alice``, ``system:retention``)."""


class BadSubject(PrivacyError):
    """A subject request names no usable identifier."""


class ContentGone(PrivacyError):
    """The conversation's content was deleted (its data key is destroyed)."""


class CorrectionError(PrivacyError):
    """A correction names no such tag or segment, or an invalid tag."""
