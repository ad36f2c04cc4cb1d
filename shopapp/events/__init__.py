"""Job news: every change of a job, told to every open page of its shop, in order and without loss.

- `publisher.EventPublisher`: the per-shop seq, the bounded replay log and the broadcast, one Lua script;
- `publishing`: publish a committed change (publish after commit) and record that it reached Redis;
- `snapshot`: a shop's jobs with the seq they are current at (the socket's first message, GET /api/jobs);
- `control`: messages to every web process (close an uninstalled shop's sockets).

One publisher per app, on the app's Redis client, shared by the workers, realtime and admin.
"""
from __future__ import annotations

from flask import Flask, current_app

from shopapp.events.publisher import EventPublisher
from shopapp.redis_client import get_redis

__all__ = ["EventPublisher", "init_app", "get_publisher"]


def init_app(app: Flask) -> None:
    """Give the app its one EventPublisher (EVENT_LOG_SIZE events kept per shop)."""
    app.extensions["shopapp.events"] = EventPublisher(get_redis(app), app.config["EVENT_LOG_SIZE"])


def get_publisher(app: Flask | None = None) -> EventPublisher:
    """The app's EventPublisher."""
    return (app or current_app).extensions["shopapp.events"]
