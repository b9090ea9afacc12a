"""Errors raised by the store."""

from gateway.errors import GatewayError


class StoreError(GatewayError):
    """The database or the audio spool cannot do what was asked."""


class NotFound(StoreError):
    """No such conversation, job or item."""
