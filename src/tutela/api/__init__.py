"""Edge layer: the provider node's HTTP API (FastAPI); routes translate HTTP to domain calls."""

from tutela.api.app import create_app

__all__ = ["create_app"]
