"""Live job status: the per-process Redis subscriber, the socket registry and the /ws/jobs route."""
from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask

from shopapp.jobs.events import EventPublisher
from shopapp.realtime.hub import Hub, shutdown_all

__all__ = ["init_app", "get_hub", "shutdown_all"]

READ_POOL_SIZE = 50
READ_POOL_TIMEOUT_SECONDS = 20.0


@dataclass
class Realtime:
    """What the /ws/jobs handlers of one app share: the process's hub and an event publisher (reads)."""

    hub: Hub
    publisher: EventPublisher


def init_app(app: Flask) -> None:
    """Register /ws/jobs; the subscriber starts with the first socket of each process."""
    from shopapp.realtime.concurrency import reader_thread_class
    from shopapp.realtime.routes import bp, sock

    # Pings are sent by each socket's handler when the hub's watcher says they are due, not by
    # simple-websocket's reader: its ping loop keeps a selector and a timer per socket.
    options = {"ping_interval": None, "max_message_size": app.config["WS_MAX_MESSAGE_BYTES"]}
    if reader_thread_class() is not None:
        options["thread_class"] = reader_thread_class()
    app.config["SOCK_SERVER_OPTIONS"] = options
    # The sockets' own Redis reads (seq, replay) share a bounded pool that makes a connect storm wait its
    # turn: redis-py's default pool raises "Too many connections" past 100 at once, and under gevent
    # thousands of sockets can connect at once.
    pool = redis.BlockingConnectionPool.from_url(app.config["REDIS_URL"], max_connections=READ_POOL_SIZE,
                                                 timeout=READ_POOL_TIMEOUT_SECONDS, socket_timeout=5,
                                                 socket_connect_timeout=2, health_check_interval=15)
    app.extensions["shopapp.realtime"] = Realtime(
        hub=Hub(app.config["REDIS_URL"]),
        publisher=EventPublisher(redis.Redis.from_pool(pool), app.config["EVENT_LOG_SIZE"]))
    app.register_blueprint(bp)
    sock.init_app(app)


def get_hub(app: Flask) -> Hub:
    """The app's hub (tests and shutdown hooks)."""
    return app.extensions["shopapp.realtime"].hub


def close(app: Flask) -> None:
    """Stop the app's subscriber and close its Redis connections (tests; a process exit does this anyway)."""
    state = app.extensions["shopapp.realtime"]
    state.hub.stop()
    state.publisher.client.close()

