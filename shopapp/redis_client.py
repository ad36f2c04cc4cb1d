"""The Redis connection used by the app (RQ queues, publishing, the realtime subscriber)."""
from __future__ import annotations

import redis
from flask import Flask, current_app

from shopapp.config import ConfigError

# Connections one process may open. Under gevent hundreds of requests run at once; redis-py's default
# pool raises "Too many connections" past 100, so a blocking pool makes a burst wait for a free one.
MAX_CONNECTIONS = 200
POOL_WAIT_SECONDS = 5


def connect(url: str) -> redis.Redis:
    """A client for `url` with timeouts, so that a dead Redis fails fast instead of hanging a request."""
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_SECONDS, socket_timeout=5,
        socket_connect_timeout=2, health_check_interval=15)
    return redis.Redis(connection_pool=pool)


def init_app(app: Flask) -> None:
    """Bind a Redis client for `REDIS_URL` to the app."""
    url = app.config["REDIS_URL"]
    if not url:
        raise ConfigError("REDIS_URL is not set: run `make run` (starts an embedded Redis) or set REDIS_URL")
    app.extensions["redis"] = connect(url)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's Redis client."""
    return (app or current_app).extensions["redis"]
