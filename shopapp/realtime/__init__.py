"""Live job status: the per-process Redis subscriber, the socket registry and the /ws/jobs route."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from shopapp.jobs.events import EventPublisher
from shopapp.realtime.hub import Hub, shutdown_all

__all__ = ["init_app", "get_hub", "shutdown_all"]


@dataclass
class Realtime:
    """What the /ws/jobs handlers of one app share: the process's hub and an event publisher (reads)."""

    hub: Hub
    publisher: EventPublisher


def init_app(app: Flask) -> None:
    """Register /ws/jobs; the subscriber starts with the first socket of each process."""
    from shopapp.realtime.routes import bp, sock
    from shopapp.redis_client import get_redis

    app.config["SOCK_SERVER_OPTIONS"] = {
        "ping_interval": app.config["WS_PING_SECONDS"] or None,
        "max_message_size": app.config["WS_MAX_MESSAGE_BYTES"],
    }
    app.extensions["shopapp.realtime"] = Realtime(
        hub=Hub(app.config["REDIS_URL"]),
        publisher=EventPublisher(get_redis(app), app.config["EVENT_LOG_SIZE"]))
    app.register_blueprint(bp)
    sock.init_app(app)


def get_hub(app: Flask) -> Hub:
    """The app's hub (tests and shutdown hooks)."""
    return app.extensions["shopapp.realtime"].hub
