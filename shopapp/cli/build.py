"""The one way a command builds what it needs: settings for its role, the registry, the app."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from shopapp.config import Config


def settings(web: bool = False) -> Config:
    """The settings from the environment; a command that serves nothing leaves the web settings alone."""
    return Config.from_env(web=web)


def registry(config: Config) -> Config:
    """Load the engine's topics and the FEATURES (no app, no connections); returns `config`."""
    from shopapp.app import load_registry

    load_registry(config)
    return config


@contextmanager
def app_for_command(config: Config | None = None) -> Iterator[Flask]:
    """An app for a command, inside its app context; its database pool and Redis client are closed after."""
    from shopapp.app import create_app
    from shopapp.db import get_db
    from shopapp.redis_client import get_redis

    app = create_app(config or settings())
    try:
        with app.app_context():
            yield app
    finally:
        get_db(app).dispose()
        get_redis(app).close()
