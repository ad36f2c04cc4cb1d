"""The instruments every room calls (`metrics.webhook_received(topic)`, ...), created on first use.

prometheus_client is imported lazily: it picks its mode (multiprocess or not) when first imported, which
must come after `multiprocess.prepare_process()` in the processes that prepare one.
"""
from __future__ import annotations

import threading

JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


# --- instrumentation helpers (called by the other areas) ---------------------------------------------

def webhook_received(topic: str) -> None:
    """A webhook was verified and made durable (new delivery)."""
    _child(_instruments().webhooks_received, topic).inc()


def webhook_rejected(reason: str) -> None:
    """A webhook got a non-2xx answer. `reason`: a `webhooks.verify.Reason` value, or `unavailable` (503)."""
    _instruments().webhooks_rejected.labels(reason=reason).inc()


def webhook_duplicate(topic: str) -> None:
    """A webhook id that was already recorded arrived again (answered 200, nothing queued)."""
    _instruments().webhooks_duplicate.labels(topic=topic).inc()


def job_finished(kind: str, outcome: str, seconds: float) -> None:
    """A job attempt ended. `outcome`: succeeded, failed, retrying (will run again), ignored."""
    _instruments().job_duration.labels(kind=kind, outcome=outcome).observe(max(0.0, seconds))


def socket_opened() -> None:
    """A /ws/jobs socket was accepted (after authentication)."""
    _instruments().sockets_open.inc()
    _instruments().sockets_opened.inc()


def socket_closed(code: int | None = None) -> None:
    """A /ws/jobs socket that `socket_opened()` counted was closed (`code`: the close code we sent, if any)."""
    _instruments().sockets_open.dec()
    _instruments().sockets_closed.labels(code=str(code) if code is not None else "none").inc()


def event_published(n: int = 1) -> None:
    """`n` job events were published to Redis (not counting idempotent no-op republishes)."""
    _instruments().events_published.inc(n)


def event_delivered(n: int = 1) -> None:
    """`n` job event frames were written to sockets."""
    _instruments().events_delivered.inc(n)


def event_dropped(reason: str) -> None:
    """A socket fell behind or failed and lost its stream (`reason`: overflow, error); the page resyncs."""
    _instruments().events_dropped.labels(reason=reason).inc()


def http_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """One HTTP request was answered (recorded by `init_app`'s after-request hook)."""
    _child(_instruments().http_duration, endpoint, method, str(status)).observe(seconds)


class _Instruments:
    """The metric objects, created on first use (after `prepare_process()` chose the mode)."""

    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram

        self.webhooks_received = Counter("shopapp_webhooks_received", "Webhooks accepted and made durable",
                                         ["topic"])
        self.webhooks_rejected = Counter("shopapp_webhooks_rejected", "Webhooks answered with an error",
                                         ["reason"])
        self.webhooks_duplicate = Counter("shopapp_webhooks_duplicate", "Repeated deliveries of a webhook id",
                                          ["topic"])
        self.job_duration = Histogram("shopapp_job_duration_seconds", "Job attempts by kind and outcome",
                                      ["kind", "outcome"], buckets=JOB_BUCKETS)
        # livesum: the sum over processes that are alive; a dead web process's sockets are gone with it.
        self.sockets_open = Gauge("shopapp_websockets_open", "Open /ws/jobs sockets",
                                  multiprocess_mode="livesum")
        self.sockets_opened = Counter("shopapp_websockets_opened", "Sockets accepted")
        self.sockets_closed = Counter("shopapp_websockets_closed", "Sockets closed, by close code", ["code"])
        self.events_published = Counter("shopapp_events_published", "Job events published to Redis")
        self.events_delivered = Counter("shopapp_events_delivered", "Job event frames written to sockets")
        self.events_dropped = Counter("shopapp_events_dropped", "Sockets that lost their stream", ["reason"])
        self.http_duration = Histogram("shopapp_http_request_duration_seconds", "HTTP requests answered",
                                       ["endpoint", "method", "status"], buckets=HTTP_BUCKETS)


_lock = threading.Lock()
_created: _Instruments | None = None
_children: dict = {}


def _child(metric, *labels: str):
    """`metric.labels(*labels)`, remembered: the two metrics every webhook updates are looked up often,
    and prometheus_client validates and locks on each lookup."""
    key = (id(metric), labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def _instruments() -> _Instruments:
    global _created
    if _created is None:
        with _lock:
            if _created is None:
                _created = _Instruments()
    return _created
