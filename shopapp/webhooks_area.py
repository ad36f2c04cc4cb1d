"""Wires the webhooks area into the app (kept apart so the factory imports one name per area)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the webhook endpoint and load the topic handlers."""
    from shopapp.webhooks import routes

    routes.init_app(app)
