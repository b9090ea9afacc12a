"""Errors raised by the account store."""

from gateway.errors import GatewayError


class AccountError(GatewayError):
    """An account operation cannot be done as asked."""


class WeakPassword(AccountError):
    """The password does not meet the policy."""


class LoginFailed(AccountError):
    """Unknown user or wrong password (deliberately not saying which)."""


class AccountLocked(AccountError):
    """Too many failed logins: the account is locked until ``until`` (epoch seconds)."""

    def __init__(self, until: float) -> None:
        super().__init__("account locked after repeated failed logins; try again later")
        self.until = until


class SetupCodeInvalid(AccountError):
    """The one-time setup code is wrong, used, or setup is already complete."""
