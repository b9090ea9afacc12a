"""Named errors of the speech pipeline."""

from __future__ import annotations

from gateway.errors import GatewayError


class SpeechError(GatewayError):
    """Base class for errors raised while turning audio into a transcript."""


class AudioError(SpeechError):
    """The input is not audio, is empty, or is in a form the gateway cannot decode."""


class EngineError(SpeechError):
    """The speech engine could not be loaded or failed while transcribing."""
