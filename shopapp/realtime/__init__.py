"""Live job status: the per-process Redis subscriber, the socket registry and the /ws/jobs route."""
from __future__ import annotations

from flask import Flask

from shopapp.realtime.hub import Hub, shutdown_all

__all__ = ["init_app", "get_hub", "shutdown_all"]


def init_app(app: Flask) -> None:
    """Register /ws/jobs; the subscriber starts with the first socket of each process."""
    from shopapp.realtime.routes import bp, sock
    from shopapp.realtime.websocket import server_options

    # Pings are sent by each socket's handler when the hub's watcher says they are due, not by
    # simple-websocket's reader: its ping loop keeps a selector and a timer per socket.
    app.config["SOCK_SERVER_OPTIONS"] = server_options(app.config["WS_MAX_MESSAGE_BYTES"])
    app.extensions["shopapp.realtime"] = Hub(app.config)
    app.register_blueprint(bp)
    sock.init_app(app)


def get_hub(app: Flask) -> Hub:
    """The app's hub (tests and shutdown hooks)."""
    return app.extensions["shopapp.realtime"]


def close(app: Flask) -> None:
    """Stop the app's subscriber (tests; a process exit does this anyway)."""
    get_hub(app).stop()

