"""The root of the gateway's error hierarchy; each area derives its own named errors."""


class GatewayError(Exception):
    """Base class for every error the gateway raises on purpose."""
