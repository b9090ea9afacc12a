"""SalesTag Gateway: on-device transcription and tagging of sales-badge audio."""

__version__ = "0.1.0"
