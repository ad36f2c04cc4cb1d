"""What every answered HTTP request leaves behind, alike for Flask's views and the webhook endpoint (a plain
WSGI callable in front of Flask): a request id (`X-Request-Id`), one log line, one latency sample, and the
security headers.

    observation = RequestObservation.begin(environ)   # request id into the log context, clock started
    ... answer ...
    headers += observation.response_headers()         # X-Request-Id and the security headers
    observation.finish(endpoint, method, status)      # latency metric and the log line
    observation.end()                                 # drop the log context

Flask's hooks (`init_app`) do exactly this for every view; a websocket's life is not a latency, so it gets
no sample and no line.
"""
from __future__ import annotations

import contextvars
import logging
import os
import re
import time

from flask import Flask, g, request

from shopapp import logs, metrics, security

REQUEST_ID_HEADER = "X-Request-Id"
# Accept a caller's request id only if it is short and plain, so it cannot smuggle data or forge lines.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_log = logging.getLogger("shopapp.request")


class RequestObservation:
    """One request's id, start time and log context (see the module docstring)."""

    __slots__ = ("request_id", "started", "path", "_token")

    def __init__(self, request_id: str, path: str, token: contextvars.Token):
        self.request_id, self.path, self._token = request_id, path, token
        self.started = time.perf_counter()

    @classmethod
    def begin(cls, environ: dict) -> RequestObservation:
        """Give the request its id (the caller's well-formed X-Request-Id, or a new one) and start its clock."""
        given = environ.get("HTTP_X_REQUEST_ID", "")
        rid = given if _REQUEST_ID.match(given) else os.urandom(16).hex()  # as unique as uuid4, a third of its cost
        return cls(rid, environ.get("PATH_INFO", ""), logs.start_context(request_id=rid))

    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """`X-Request-Id` and the security headers every response carries."""
        return ((REQUEST_ID_HEADER, self.request_id), *security.HEADERS)

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def finish(self, endpoint: str, method: str, status: int) -> None:
        """Record the latency (by endpoint, method, status) and write the request's line (INFO, path only)."""
        seconds = self.seconds()
        metrics.http_request(endpoint, method, status, seconds)
        if _request_log.isEnabledFor(logging.INFO):
            _request_log.info("request", extra={"method": method, "path": self.path, "status": status,
                                                "duration_ms": round(seconds * 1000, 2)})

    def end(self) -> None:
        """Drop the request's log context."""
        logs.end_context(self._token)


def _begin() -> None:
    g.observation = RequestObservation.begin(request.environ)


def _after(response):
    observation: RequestObservation | None = g.get("observation")
    if observation is None:
        return response
    for name, value in observation.response_headers():
        response.headers.setdefault(name, value)
    if request.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        observation.finish(endpoint, request.method, response.status_code)
    return response


def _teardown(_exc) -> None:
    observation = g.pop("observation", None)
    if observation is not None:
        observation.end()


def init_app(app: Flask) -> None:
    """Observe every Flask request (the webhook endpoint observes its own with the same object)."""
    app.before_request(_begin)
    app.after_request(_after)
    app.teardown_request(_teardown)
