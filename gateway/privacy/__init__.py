"""Privacy by the device itself: consent, opt-out purge, retention, data-subject rights,
crypto-shredding and the tamper-evident audit log. :class:`AccessLayer` is the entry point."""

from gateway.privacy.access import AccessLayer
from gateway.privacy.context import PrivacyContext, open_privacy

__all__ = ["AccessLayer", "PrivacyContext", "open_privacy"]
