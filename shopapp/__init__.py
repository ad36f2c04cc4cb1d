"""shopapp: a Shopify embedded app whose heart is webhook ingestion with live job status.

`create_app(config)` only wires: settings, then one `init_app(app)` per service and area.
"""
from __future__ import annotations

from flask import Flask

from shopapp.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app from `config` (default: the environment)."""
    from shopapp import admin, crypto, db, health, logs, metrics, redis_client, security
    from shopapp import realtime, webhooks
    from shopapp.shopify import auth

    config = config or Config.from_env()
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(config.as_flask_config())
    app.extensions["shopapp.config"] = config
    crypto.configure(config.ENCRYPTION_KEYS)
    logs.init_app(app)
    db.init_app(app)
    redis_client.init_app(app)
    security.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    webhooks.init_app(app)
    realtime.init_app(app)
    auth.init_app(app)
    admin.init_app(app)
    return app


def get_config(app: Flask | None = None) -> Config:
    """The typed settings the app was built with."""
    from flask import current_app

    return (app or current_app).extensions["shopapp.config"]
