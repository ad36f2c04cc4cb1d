"""Webhook -> screen: a signed webhook in, its job's events out on a page's socket that is already open.

    python -m bench.e2e [--rate 100] [--seconds 10] [--web 1] [--workers 2] [--database-url URL] [--quick]

Starts what production runs (the bench's redis-server, gunicorn with gunicorn.conf.py, `python -m shopapp
worker --processes N`) on a fresh database (SQLite, or --database-url/DATABASE_URL), opens a page's
/ws/jobs socket, then measures in one run:
1. webhook -> screen: orders/create webhooks at --rate for --seconds; for each, from the start of its POST
   until the socket receives its job's `succeeded` event;
2. `queued` live: for each webhook, from its 200 answer until the socket receives its job's `queued`
   event (negative: the event came first), when the app publishes `queued` at ingest; "no queued event
   seen" otherwise;
3. floor: a job event published straight to Redis (EventPublisher.publish: no HTTP, database or worker)
   until the socket receives it, at the same rate, on the same servers.
Targets (issue 16): webhook -> screen p99 <= 10 ms at 100 webhooks/s; `queued` shown live for every job.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

FULL = dict(rate=100.0, seconds=10.0, workers=2)
QUICK = dict(rate=50.0, seconds=1.0, workers=1)
FLOOR_SHOP = "floor-shop.myshopify.com"


def at_fixed_rate(rate: float, count: int, action, threads: int = 16) -> None:
    """Call action(i) for i in range(count), the i-th at start + i/rate, from a pool of threads."""
    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(threads) as pool:
        for i in range(count):
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
            pool.submit(action, i)


def send_webhooks(web: common.WebServer, page: common.Page, rate: float, count: int, first_id: int) -> dict:
    """Post `count` orders/create deliveries (order ids from `first_id`) at `rate`, wait until each job's
    `succeeded` reached `page`; {webhook id: (POST start, answer time, status)} (perf_counter seconds)."""
    import requests

    from shopapp.testing import sample_payload, wait_until

    base = sample_payload("orders/create")
    bodies = [json.dumps(dict(base, id=first_id + i)).encode() for i in range(count)]
    hooks = [(body, common.webhook_headers("orders/create", body)) for body in bodies]
    posts: dict[str, tuple[float, float, int]] = {}
    local = threading.local()
    sessions: list = []

    def post(i: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        body, headers = hooks[i]
        sent = time.perf_counter()
        status = local.session.post(web.url + "/webhooks", data=body, headers=headers, timeout=30).status_code
        posts[headers["X-Shopify-Webhook-Id"]] = (sent, time.perf_counter(), status)

    try:
        at_fixed_rate(rate, count, post)
        wait_until(lambda: len(posts) == count and page.first("succeeded").keys() >= posts.keys(),
                   common.PHASE_TIMEOUT_SECONDS, "every job's succeeded event",
                   explain=lambda: f"{len(page.first('succeeded'))} of {count} arrived")
    finally:
        for session in sessions:
            session.close()
    return posts


def floor(web: common.WebServer, redis_url: str, log_size: int, rate: float, count: int) -> list[float]:
    """publish -> socket latencies (ms) of `count` job events published at `rate`."""
    import redis

    from shopapp.events.publisher import EventPublisher
    from shopapp.testing import wait_until

    page = common.Page(web.ws_url, FLOOR_SHOP)
    client = redis.Redis.from_url(redis_url)
    publisher = EventPublisher(client, log_size)
    published: dict[int, float] = {}

    def publish(i: int) -> None:
        job = {"id": 1_000_000 + i, "kind": "bench", "topic": None, "webhook_id": None, "state": "succeeded",
               "progress": 100, "message": "", "attempts": 1, "error": None, "created_at": None, "updated_at": None}
        published[job["id"]] = time.perf_counter()
        publisher.publish(FLOOR_SHOP, job, 1)

    try:
        at_fixed_rate(rate, count, publish, threads=4)
        wait_until(lambda: len(page.first("succeeded")) >= count, common.PHASE_TIMEOUT_SECONDS, "every floor event")
    finally:
        client.close()
        page.close()
    got = page.first("succeeded")
    return [(got[job_id] - at) * 1000 for job_id, at in published.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, help="webhooks per second")
    parser.add_argument("--seconds", type=float, help="how long to send at that rate")
    parser.add_argument("--web", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--workers", type=int, help="worker processes")
    args = common.parse(parser, FULL, QUICK, argv)
    count = max(1, int(args.rate * args.seconds))
    with common.BenchEnv(args.database_url) as bench:
        from shopapp.app import load_registry

        config = bench.config()
        load_registry(config)
        bench.worker(args.workers)  # it starts while gunicorn does
        web = bench.web("web", workers=args.web)
        print(f"e2e: {args.rate:g} webhooks/s for {args.seconds:g} s; {args.web} web process(es), {args.workers} "
              f"worker process(es), {bench.database}, {os.cpu_count()} CPUs", flush=True)
        page = common.Page(web.ws_url, common.SHOP)
        try:
            send_webhooks(web, page, args.rate, 20, first_id=1)  # warm up: connections, each worker's first job
            posts = send_webhooks(web, page, args.rate, count, first_id=10_000)
            succeeded, queued = page.first("succeeded"), page.first("queued")
        finally:
            page.close()
        floor_ms = floor(web, config.REDIS_URL, config.EVENT_LOG_SIZE, args.rate, count)
    report(args, bench.database, posts, succeeded, queued, floor_ms)
    return 0


def report(args, database: str, posts: dict, succeeded: dict, queued: dict, floor_ms: list[float]) -> None:
    out = common.Report("e2e", database, args)
    e2e_ms = [(succeeded[w] - sent) * 1000 for w, (sent, _, _) in posts.items()]
    floor_p99 = common.percentile(floor_ms, 99)
    out.figure("e2e.webhook_to_screen_p99", f"webhook -> screen p99 at {args.rate:g}/s",
               common.percentile(e2e_ms, 99), "ms", ("<=", 10.0), floor=f"publish -> screen p99 {floor_p99:.2f} ms",
               detail=common.describe(e2e_ms), counts={"webhooks": len(posts), "succeeded": len(e2e_ms)})
    out.figure("e2e.publish_to_screen_p99", f"publish -> screen p99 at {args.rate:g}/s (the floor)", floor_p99, "ms",
               detail=common.describe(floor_ms), counts={"events": len(floor_ms)})
    seen = [(queued[w] - answered) * 1000 for w, (_, answered, _) in posts.items() if w in queued]
    out.figure("e2e.queued_seen", "webhooks whose `queued` reached the page", len(seen) / len(posts), "ratio",
               (">=", 1.0), detail=f"{len(seen)} of {len(posts)}" if seen else "no queued event seen",
               counts={"webhooks": len(posts), "queued": len(seen)})
    if seen:
        out.figure("e2e.queued_p99", "ingest 200 -> `queued` on the page, p99", common.percentile(seen, 99), "ms",
                   detail=common.describe(seen))
    out.figure("e2e.non_200", "answers other than 200", sum(status != 200 for _, _, status in posts.values()),
               "count", ("<=", 0))
    out.finish()


if __name__ == "__main__":
    sys.exit(main())
