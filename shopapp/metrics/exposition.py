"""Serving the metrics: `/metrics` on the web process, and the worker's own listener (METRICS_PORT).

A scrape sums the metric files of every process on this machine (every directory under the base, see
`multiprocess`), plus collectors the rooms add (the queue depths, read from Redis at scrape time). Both
listeners apply one rule (`may_scrape`): with METRICS_TOKEN set, a matching bearer token; without it,
only direct (un-proxied) scrapes from loopback or a private network, so a public load balancer never
exposes the metrics by accident.
"""
from __future__ import annotations

import glob
import hmac
import ipaddress
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from shopapp.metrics import multiprocess

log = logging.getLogger(__name__)


class _MachineCollector:
    """Sums the metric files of every process on this machine (every directory under the base)."""

    def __init__(self, base: Path):
        self.base = base

    def collect(self):
        from prometheus_client.multiprocess import MultiProcessCollector

        files = glob.glob(os.path.join(self.base, "*", "*.db"))
        try:
            yield from MultiProcessCollector.merge(files, accumulate=True)
        except FileNotFoundError:  # a stale directory was removed mid-scrape: the next scrape is whole
            return


class _ProcessLocal:
    """This process's own metrics (no multiprocess directory prepared: tests, single process)."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


def registry(extra: Iterable = ()):
    """A registry with this machine's sums (or this process's metrics) and the `extra` collectors."""
    from prometheus_client import REGISTRY, CollectorRegistry

    from shopapp.metrics.instruments import _instruments

    collectors = CollectorRegistry()
    if os.environ.get(multiprocess.ENV_DIR):
        collectors.register(_MachineCollector(Path(os.environ[multiprocess.ENV_DIR]).parent))
    else:
        _instruments()
        collectors.register(_ProcessLocal(REGISTRY))
    for collector in extra:
        collectors.register(collector)
    return collectors


def render(extra: Iterable = ()) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry(extra)), CONTENT_TYPE_LATEST


def may_scrape(token: str, authorization: str | None, remote_addr: str | None, headers: Mapping[str, str]) -> bool:
    """The one rule of every metrics listener (see the module docstring)."""
    if token:
        return hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode())
    if headers.get("X-Forwarded-For") or headers.get("Forwarded"):
        return False
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return address.is_loopback or address.is_private


class _GuardedMetrics:
    """A WSGI app answering GET /metrics under `may_scrape`, 404 otherwise."""

    def __init__(self, token: str, extra: Iterable = ()):
        self.token, self.extra = token, tuple(extra)

    def __call__(self, environ, start_response):
        headers = {"X-Forwarded-For": environ.get("HTTP_X_FORWARDED_FOR", ""),
                   "Forwarded": environ.get("HTTP_FORWARDED", "")}
        allowed = environ.get("PATH_INFO") in ("/metrics", "/") and environ.get("REQUEST_METHOD") == "GET"
        if not allowed or not may_scrape(self.token, environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"),
                                         headers):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        body, content_type = render(self.extra)
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        log.debug("metrics listener: " + format, *args)


def serve_http(port: int, addr: str = "127.0.0.1", token: str = "") -> WSGIServer:
    """Serve this machine's sums on `addr`:`port` from a daemon thread, guarded like `/metrics`.

    Raises OSError when the port cannot be bound.
    """
    server = make_server(addr, port, _GuardedMetrics(token), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True).start()
    return server
