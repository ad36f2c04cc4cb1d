"""The application factory: `create_app(config)` only wires, one `init_app(app)` per service and room."""
from __future__ import annotations

from flask import Flask

from shopapp.config import Config


def load_registry(config: Config) -> None:
    """Register the engine's topics and kinds and load the FEATURES, once per process (idempotent)."""
    from shopapp.jobs import registry
    from shopapp.webhooks import load_topics

    load_topics()
    registry.load_features(config.FEATURES)


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app from `config` (default: the environment)."""
    from shopapp import (
        admin,
        crypto,
        db,
        events,
        health,
        jobs,
        logs,
        malformed,
        metrics,
        observability,
        realtime,
        redis_client,
        security,
        webhooks,
    )
    from shopapp.shopify import auth

    config = config or Config.from_env()
    load_registry(config)
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(config.as_flask_config())
    app.extensions["shopapp.config"] = config
    crypto.configure(config.ENCRYPTION_KEYS)
    logs.init_app(app)
    observability.init_app(app)
    malformed.init_app(app)
    db.init_app(app)
    redis_client.init_app(app)
    events.init_app(app)
    security.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    jobs.init_app(app)
    webhooks.init_app(app)
    realtime.init_app(app)
    auth.init_app(app)
    admin.init_app(app)
    return app
