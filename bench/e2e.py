"""End to end: a signed webhook in, its job's `succeeded` event out on a page's socket that is already open.

    .venv/bin/python bench/e2e.py [--rate 100] [--seconds 10] [--jobs 3000] [--web 1] [--workers 2]

Starts what production runs (a redis-server, gunicorn with gunicorn.conf.py, `python -m shopapp worker
--processes N`) on a fresh database (SQLite, or DATABASE_URL), then measures in one run:
1. latency: orders/create webhooks at a fixed rate; for each, the time from the start of its POST until the
   socket receives its job's `succeeded` event (p50, p99, max);
2. floor: the bare publish -> socket latency of a job event (EventPublisher straight to Redis, no HTTP, no
   database, no worker), at the same rate, on the same servers;
3. throughput: `--jobs` trivial jobs (kind test_context) committed and queued, then counted on the socket:
   jobs whose `succeeded` event arrived per second, from the first to the last.
Targets on a 2-core machine: p99 <= 50 ms at 100 webhooks/s; >= 300 trivial jobs/s.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import websocket  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from shopapp.embedded_redis import EmbeddedRedis, find_binary  # noqa: E402
from shopapp.testing import build_session_token, build_webhook, sample_payload  # noqa: E402
from tests.support.processes import WebServer, WorkerProcess  # noqa: E402

API_KEY, API_SECRET = "bench-api-key", "bench-api-secret-0123456789abcdef"
SHOP, FLOOR_SHOP, BULK_SHOP = "bench-shop.myshopify.com", "floor-shop.myshopify.com", "bulk-shop.myshopify.com"


class Receiver:
    """An open /ws/jobs socket that timestamps every job event it receives (reader thread)."""

    def __init__(self, ws_url: str, shop: str):
        token = build_session_token(API_KEY, API_SECRET, shop=shop, expires_in=3600)
        self.ws = websocket.create_connection(f"{ws_url}/ws/jobs?id_token={token}", timeout=30)
        first = json.loads(self.ws.recv())
        assert first["type"] == "snapshot", first
        self.ws.settimeout(None)
        self.arrivals: list[tuple[float, dict]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                opcode, data = self.ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.arrivals.append((time.perf_counter(), json.loads(data)))
        except Exception:
            return

    def succeeded(self) -> dict:
        """{webhook id or job id: arrival time} of `succeeded` events."""
        out = {}
        for at, message in list(self.arrivals):
            job = message.get("job") or {}
            if message.get("type") == "job" and job.get("state") == "succeeded":
                out.setdefault(job.get("webhook_id") or job["id"], at)
        return out

    def close(self) -> None:
        self.ws.close(timeout=1)
        self.ws.shutdown()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def describe(values_ms: list[float]) -> str:
    return (f"p50 {percentile(values_ms, 50):6.1f} ms   p99 {percentile(values_ms, 99):6.1f} ms   "
            f"max {max(values_ms):6.1f} ms   (n={len(values_ms)})")


def at_fixed_rate(rate: float, count: int, action, threads: int = 16) -> None:
    """Call action(i) for i in range(count), the i-th at start + i/rate, from a pool of threads."""
    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(threads) as pool:
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(action, i)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} not reached within {timeout}s")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send at that rate")
    parser.add_argument("--jobs", type=int, default=3000, help="trivial jobs for the throughput part")
    parser.add_argument("--web", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shopapp-bench-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    redis_server = EmbeddedRedis(work / "redis", binary=find_binary(prefer_system=True), persist=False).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_"))}
    env.update(SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET,
               SHOPAPP_ENCRYPTION_KEY=Fernet.generate_key().decode(),
               SHOPAPP_INSTANCE_DIR=str(work / "instance"), DATABASE_URL=database_url, REDIS_URL=redis_server.url,
               LOG_LEVEL="WARNING", JOB_MODULES="tests.support.test_jobs", PYTHONUNBUFFERED="1")
    processes = []
    try:
        from shopapp.config import Config
        from shopapp.db import migrate

        config = Config.from_env(env)
        migrate.upgrade(config.DATABASE_URL)
        web = WebServer(env, work / "gunicorn.log", workers=args.web).start()
        processes.append(web)
        worker = WorkerProcess(env, work / "worker.log", extra_args=["--processes", str(args.workers)]).start()
        processes.append(worker)
        print(f"bench: {args.web} web process(es), {args.workers} worker process(es), "
              f"{config.DATABASE_URL.split(':')[0]}, {os.cpu_count()} cores", flush=True)
        latency(args, web, config)
        throughput(args, web, config)
    finally:
        for process in reversed(processes):
            process.stop()
        redis_server.stop()
    return 0


def latency(args, web: WebServer, config) -> None:
    import redis as redis_lib

    from shopapp.events.publisher import EventPublisher

    page = Receiver(web.ws_url, SHOP)
    floor_page = Receiver(web.ws_url, FLOOR_SHOP)
    count = int(args.rate * args.seconds)
    base = sample_payload("orders/create")
    hooks = [build_webhook("orders/create", API_SECRET, shop=SHOP, payload=dict(base, id=10_000 + i))
             for i in range(count)]
    sent: dict[str, float] = {}
    statuses: list[int] = []
    local = threading.local()
    sessions: list[requests.Session] = []

    def post(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            sessions.append(session)
        hook = hooks[i]
        sent[hook.webhook_id] = time.perf_counter()
        answer = session.post(web.url + "/webhooks", data=hook.body, headers=hook.headers, timeout=30)
        statuses.append(answer.status_code)

    try:
        # Warm up (connections, the worker's first job) before measuring.
        for i in range(20):
            hook = build_webhook("orders/create", API_SECRET, shop=SHOP, payload=dict(base, id=i))
            requests.post(web.url + "/webhooks", data=hook.body, headers=hook.headers, timeout=30)
        wait_for(lambda: len(page.succeeded()) >= 20, 60, "warm-up jobs")
        at_fixed_rate(args.rate, count, post)
        wait_for(lambda: all(h.webhook_id in page.succeeded() for h in hooks), 120, "every job's succeeded event")
    finally:
        for session in sessions:
            session.close()
    done = page.succeeded()
    e2e = [(done[h.webhook_id] - sent[h.webhook_id]) * 1000 for h in hooks]
    print(f"e2e     webhook POST -> socket 'succeeded' at {args.rate:g}/s: {describe(e2e)}   "
          f"non-200 answers: {sum(s != 200 for s in statuses)}", flush=True)

    # Floor: the same socket path without HTTP, database or worker: publish -> receive.
    client = redis_lib.Redis.from_url(config.REDIS_URL)
    publisher = EventPublisher(client, config.EVENT_LOG_SIZE)
    published: dict[int, float] = {}

    def publish(i: int) -> None:
        job = {"id": 1_000_000 + i, "kind": "bench", "topic": None, "webhook_id": None, "state": "succeeded",
               "progress": 100, "message": "", "attempts": 1, "error": None, "created_at": None, "updated_at": None}
        published[job["id"]] = time.perf_counter()
        publisher.publish(FLOOR_SHOP, job, 1)

    try:
        at_fixed_rate(args.rate, count, publish, threads=4)
        wait_for(lambda: len(floor_page.succeeded()) >= count, 60, "every floor event")
    finally:
        client.close()
    got = floor_page.succeeded()
    floor = [(got[job_id] - at) * 1000 for job_id, at in published.items()]
    print(f"floor   publish -> socket (no HTTP, DB, worker) at {args.rate:g}/s: {describe(floor)}", flush=True)
    page.close()
    floor_page.close()


def throughput(args, web: WebServer, config) -> None:
    import tests.support.test_jobs  # noqa: F401  (registers test_context in this process too)
    from shopapp import create_app

    page = Receiver(web.ws_url, BULK_SHOP)
    app = create_app(config)
    try:
        started = time.perf_counter()
        queue_trivial_jobs(app, args.jobs)
        queued_in = time.perf_counter() - started
        wait_for(lambda: len(page.succeeded()) >= args.jobs, 300, "every trivial job")
    finally:
        from shopapp.db import get_db
        from shopapp.redis_client import get_redis

        get_db(app).dispose()
        get_redis(app).close()
    times = sorted(page.succeeded().values())
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"jobs    {args.jobs} trivial jobs (queued in {queued_in:.2f} s while the workers run) by {args.workers} "
          f"worker process(es): {rate:7.0f} jobs/s", flush=True)
    page.close()


def queue_trivial_jobs(app, count: int, chunk: int = 500) -> None:
    """Commit and enqueue `count` test_context jobs in chunks, as ingestion does with webhook jobs.

    One transaction and one Redis transaction per chunk: the producer takes a fraction of a second, so
    the figure is the workers' rate, not that of a producer competing with them for the two cores (job
    by job, through start_merchant_job on 8 threads, it took about half a core for the whole run).
    """
    from shopapp.db import get_db
    from shopapp.jobs.queue import enqueue_batch
    from shopapp.models import Job, JobState

    for first in range(0, count, chunk):
        with get_db(app).session() as session:
            jobs = [Job(shop_domain=BULK_SHOP, kind="test_context", state=JobState.QUEUED.value, params={},
                        max_attempts=app.config["JOB_MAX_ATTEMPTS"], message="queued")
                    for _ in range(min(chunk, count - first))]
            session.add_all(jobs)
            session.commit()
            enqueue_batch(app, [job.id for job in jobs])


if __name__ == "__main__":
    sys.exit(main())
