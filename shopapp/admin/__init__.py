"""The embedded admin page, the JSON API it uses, and (dev mode only) the local App Bridge stand-in."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the page and /api routes; the /dev routes only in dev mode (absent in production)."""
    from shopapp.admin import api, dev, page

    app.register_blueprint(page.bp)
    app.register_blueprint(api.bp)
    if app.config.get("DEV_MODE"):
        app.register_blueprint(dev.bp)
