"""Prometheus metrics: the instruments every area calls, and `/metrics` that serves them.

Several processes count: gunicorn runs several web processes and `python -m shopapp worker` runs RQ
workers apart from them. We use prometheus_client's multiprocess mode (each process writes its values to
small mmap files; a scrape sums the files), not counters kept in Redis, because:
- a metric must still count when Redis is down (the 503s and connection errors are what we most need to
  see then), and must not add a Redis round trip to the webhook path;
- it is the library's own, well-kept answer for pre-fork servers, and histograms work unchanged.

Layout: one base directory per machine (`METRICS_DIR`, default `instance/metrics`) holds one directory per
supervising process (`web-<pid>` for a gunicorn master, `worker-<pid>` for a worker command), which it
empties when it starts; directories of supervisors that are no longer running are removed then too. A
scrape of any exporter on the machine sums every directory under the base, so one `/metrics` shows the web
and worker processes of that machine. Worker machines without a web process serve the same sums on
`METRICS_PORT`. prometheus_client picks its mode when it is first imported, so this module imports it
lazily and `prepare_process()` must run before any metric is touched (gunicorn.conf.py, the worker CLI).
Without `prepare_process()` (the in-process test app) metrics live in this process only.

Queue depth is read from Redis at scrape time; it is the same on every instance (use `max` across them).
"""
from __future__ import annotations

import glob
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

# Only the standard library at module level: gunicorn.conf.py loads this file by path in the master, which
# must not import Flask or SQLAlchemy before gevent patches its workers.

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
OWNER_FILE = "owner"
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


# --- process setup --------------------------------------------------------------------------------

def base_dir() -> Path:
    """Where this machine's metric files live (`METRICS_DIR`, default `instance/metrics`).

    Read straight from the environment because it must be known before the app (and its settings) load.
    """
    # Same default instance directory as shopapp.config (not imported here, see the module's imports).
    instance = os.environ.get("SHOPAPP_INSTANCE_DIR") or Path(__file__).resolve().parent.parent / "instance"
    return Path(os.environ.get("METRICS_DIR") or Path(instance) / "metrics")


def prepare_process(role: str) -> Path:
    """Give this supervising process (`web` master or `worker` command) a fresh metrics directory.

    Sets PROMETHEUS_MULTIPROC_DIR for it and every child it forks; must run before prometheus_client is
    imported. Removes directories left by supervisors that are no longer running.
    """
    base = base_dir()
    inherited = _inherited_dir()
    if inherited is not None:
        return inherited
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.iterdir():
        if stale.is_dir() and not _owner_alive(stale):
            shutil.rmtree(stale, ignore_errors=True)
    own = base / f"{role}-{os.getpid()}"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir()
    (own / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}")
    os.environ[ENV_DIR] = str(own)
    return own


def prepare_worker_process() -> None:
    """`python -m shopapp worker`: prepare the directory before any task module is imported, and serve the
    machine's sums on METRICS_PORT when set (worker machines without a web process)."""
    if _inherited_dir() is not None:
        return  # one of the processes of a `--processes N` supervisor: the supervisor serves the sums
    prepare_process("worker")
    raw = os.environ.get("METRICS_PORT", "").strip()
    if raw:
        from shopapp.config import ConfigError

        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ConfigError(f"METRICS_PORT={raw!r} is not a TCP port")
        serve_http(int(raw))


def _inherited_dir() -> Path | None:
    """The directory a running parent supervisor prepared for its children (None when there is none)."""
    inherited = os.environ.get(ENV_DIR)
    if not inherited:
        return None
    path = Path(inherited)
    if path.parent != base_dir() or not _owner_alive(path) or path.name.endswith(f"-{os.getpid()}"):
        return None
    return path


def process_exited(pid: int) -> None:
    """Forget a dead child's live gauges (gunicorn's child_exit hook); its counters keep counting."""
    # What prometheus_client.multiprocess.mark_process_dead does, without importing the library into the
    # gunicorn master (its children would inherit a module state made before gevent patched them).
    directory = os.environ.get(ENV_DIR)
    if directory:
        for path in glob.glob(os.path.join(directory, f"gauge_live*_{pid}.db")):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def _owner_alive(directory: Path) -> bool:
    try:
        pid_text, started = (directory / OWNER_FILE).read_text().split(" ", 1)
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A reused pid (after a reboot or in a new container) belongs to another process: compare start times.
    return _start_time(pid) == started


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


# --- exposition -------------------------------------------------------------------------------------

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


class _QueueCollector:
    """RQ queue depth read from Redis at scrape time (cluster-wide)."""

    def __init__(self, client, queue_name: str):
        self.client, self.queue_name = client, queue_name

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("shopapp_redis_up", "1 if Redis answered this scrape")
        depth = GaugeMetricFamily("shopapp_queue_depth", "Jobs waiting in RQ, by registry", labels=["queue", "state"])
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.llen(f"rq:queue:{self.queue_name}")
            pipe.zcard(f"rq:scheduled:{self.queue_name}")
            pipe.zcard(f"rq:wip:{self.queue_name}")
            pipe.zcard(f"rq:failed:{self.queue_name}")
            queued, scheduled, started, failed = pipe.execute()
        except Exception:  # a scrape must answer even when Redis does not
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for state, value in (("queued", queued), ("scheduled", scheduled), ("started", started),
                             ("failed", failed)):
            depth.add_metric([self.queue_name, state], value)
        yield up
        yield depth


def _registry(redis_client=None, queue_name: str | None = None):
    from prometheus_client import REGISTRY, CollectorRegistry

    if os.environ.get(ENV_DIR):
        registry = CollectorRegistry()
        registry.register(_MachineCollector(Path(os.environ[ENV_DIR]).parent))
    else:
        _instruments()
        registry = CollectorRegistry()
        registry.register(_ProcessLocal(REGISTRY))
    if redis_client is not None:
        registry.register(_QueueCollector(redis_client, queue_name))
    return registry


class _ProcessLocal:
    """This process's own metrics (no multiprocess directory prepared: tests, single process)."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


def render(redis_client=None, queue_name: str | None = None) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_registry(redis_client, queue_name)), CONTENT_TYPE_LATEST


def serve_http(port: int, addr: str = "0.0.0.0") -> None:
    """Serve this machine's sums on `port` from a daemon thread (worker machines without a web process)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=addr, registry=_registry())


def _may_scrape(token: str) -> bool:
    """With METRICS_TOKEN set, a matching bearer token; without it, only direct (un-proxied) scrapes from
    loopback or a private network, so a public load balancer never exposes /metrics by accident."""
    import hmac
    import ipaddress

    from flask import request

    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def init_app(app: Flask) -> None:
    """Register GET /metrics and time every request."""
    from flask import Response, request

    from shopapp import logs
    from shopapp.redis_client import get_redis

    @app.after_request
    def _record(response):
        seconds = logs.request_seconds()  # logs owns the request's start time
        if seconds is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            http_request(endpoint, request.method, response.status_code, seconds)
        return response

    def metrics_view():
        if not _may_scrape(app.config.get("METRICS_TOKEN", "")):
            return Response("not found\n", status=404, content_type="text/plain")
        body, content_type = render(get_redis(app), app.config["QUEUE_NAME"])
        return Response(body, content_type=content_type)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
