"""Prometheus metrics: the instruments every room calls, and the listeners that serve them.

- `instruments`: `metrics.webhook_received(topic)` and the rest, counted per process;
- `multiprocess`: each machine's processes write into one directory tree that a scrape sums;
- `exposition`: `/metrics` on the web process and the worker's METRICS_PORT listener, one guard for both.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from shopapp.metrics.instruments import (
    event_delivered,
    event_dropped,
    event_published,
    http_request,
    job_finished,
    socket_closed,
    socket_opened,
    webhook_duplicate,
    webhook_received,
    webhook_rejected,
)
from shopapp.metrics.multiprocess import prepare_process, process_exited

if TYPE_CHECKING:
    from flask import Flask

    from shopapp.config import Config

__all__ = ["event_delivered", "event_dropped", "event_published", "http_request", "job_finished", "socket_closed",
           "socket_opened", "webhook_duplicate", "webhook_received", "webhook_rejected", "prepare_process",
           "process_exited", "prepare_worker_process", "add_collector", "init_app"]


def prepare_worker_process(config: Config) -> None:
    """`python -m shopapp worker`: prepare the directory before any task module is imported, and serve the
    machine's sums on METRICS_PORT when set (worker machines without a web process), on
    METRICS_BIND (default loopback), guarded by METRICS_TOKEN like `/metrics`."""
    from shopapp.metrics import multiprocess

    if multiprocess.inherited_dir() is not None:
        return  # one of the processes of a `--processes N` supervisor: the supervisor serves the sums
    prepare_process("worker")
    if config.METRICS_PORT:
        from shopapp.metrics.exposition import serve_http

        serve_http(config.METRICS_PORT, config.METRICS_BIND, config.METRICS_TOKEN)


def add_collector(app: Flask, collector) -> None:
    """Add a collector read at scrape time to the app's `/metrics` (e.g. the jobs room's queue depths)."""
    app.extensions.setdefault("shopapp.metrics_collectors", []).append(collector)


def init_app(app: Flask) -> None:
    """Register GET /metrics, guarded by METRICS_TOKEN or the network rule (`exposition.may_scrape`)."""
    from flask import Response, request

    from shopapp.metrics.exposition import may_scrape, render

    def metrics_view():
        if not may_scrape(app.config.get("METRICS_TOKEN", ""), request.headers.get("Authorization"),
                          request.remote_addr, request.headers):
            return Response("not found\n", status=404, content_type="text/plain")
        body, content_type = render(app.extensions.get("shopapp.metrics_collectors", ()))
        return Response(body, content_type=content_type)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
