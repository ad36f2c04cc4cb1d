"""The job engine: the one registry, queues, the runner and the job state machine, time limits, the sweeper."""
from __future__ import annotations

from flask import Flask


class QueueDepthCollector:
    """`shopapp_redis_up` and `shopapp_queue_depth{queue,state}` (one queue per lane), read from Redis at
    scrape time.

    The depth is the same on every instance (use `max` across them); a scrape answers even when Redis
    does not (`shopapp_redis_up` 0).
    """

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from shopapp.jobs.queue import queue_names
        from shopapp.jobs.rq_adapter import queue_depths
        from shopapp.redis_client import get_redis

        up = GaugeMetricFamily("shopapp_redis_up", "1 if Redis answered this scrape")
        depth = GaugeMetricFamily("shopapp_queue_depth", "Jobs in RQ, by queue and registry", labels=["queue", "state"])
        try:
            depths = queue_depths(get_redis(self.app), queue_names(self.app))
        except Exception:  # a scrape must answer even when Redis does not
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for (queue, state), value in depths.items():
            depth.add_metric([queue, state], value)
        yield up
        yield depth


def init_app(app: Flask) -> None:
    """Show the queue depths on `/metrics`."""
    from shopapp import metrics

    metrics.add_collector(app, QueueDepthCollector(app))
