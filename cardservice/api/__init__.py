"""The localhost HTTP/WebSocket API (FastAPI)."""

from cardservice.api.app import create_app

__all__ = ["create_app"]
