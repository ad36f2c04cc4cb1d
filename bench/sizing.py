"""Sizing figures for the README's Deploying table: Redis memory per 1,000 queued jobs, per 1,000 open
sockets, and per shop's event keys; the web process's memory per open socket.

    python -m bench.sizing [--jobs 10000] [--sockets 1000] [--shops 10] [--quick]

On the bench's own redis-server and a fresh database, in one run. Redis memory is counted as Redis
accounts it, key by key (MEMORY USAGE of every key) and client by client (CLIENT LIST's tot-mem): exact
where `used_memory` deltas are not (Redis accounts a client's buffers in a cron, a slice at a time).
1. queued jobs: --jobs jobs put on the queue as ingestion does (`enqueue_batch`, batches of 100), never
   run: the bytes of every key;
2. open sockets: one gunicorn web process, --sockets /ws/jobs sockets over --shops shops: the keys added
   (a socket holds no Redis state: its process's one subscription serves it; its shop gets a seq counter),
   the Redis connections the web process opened meanwhile and their memory (a snapshot borrows a pooled
   connection, which stays open for the next), and the web worker's RSS;
3. a shop's event keys: EVENT_LOG_SIZE + 100 job events published for one shop, each for a new job, as
   the workers publish them: the replay log (trimmed to EVENT_LOG_SIZE) and the job-version hash (a field
   per job the shop ever had published: it is not trimmed).
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

FULL = dict(jobs=10_000, sockets=1000, shops=10)
QUICK = dict(jobs=500, sockets=50, shops=5)


def key_bytes(client, match: str = "*") -> int:
    """Bytes of every key matching `match`, as Redis accounts them (MEMORY USAGE, every element counted)."""
    return sum(client.memory_usage(key, samples=0) or 0 for key in client.scan_iter(match=match, count=1000))


def client_bytes(client) -> tuple[int, int]:
    """(number of other clients, their bytes: CLIENT LIST's tot-mem, buffers included)."""
    me = client.client_id()
    others = [c for c in client.client_list() if int(c["id"]) != me]
    return len(others), sum(int(c["tot-mem"]) for c in others)


def queued_jobs(bench: common.BenchEnv, client, count: int) -> int:
    """Bytes of Redis that `count` queued jobs take."""
    from shopapp import create_app
    from shopapp.db import get_db
    from shopapp.jobs.queue import enqueue_batch
    from shopapp.redis_client import get_redis

    app = create_app(bench.config())
    try:
        for first in range(1, count + 1, 100):
            enqueue_batch(app, list(range(first, min(first + 100, count + 1))))
        return key_bytes(client)
    finally:
        get_redis(app).close()
        get_db(app).dispose()
        client.flushall()


def open_sockets(bench: common.BenchEnv, client, count: int, shops: int) -> dict:
    """{"keys" (bytes), "connections" (more Redis clients), "connection_bytes", "rss" (bytes of the web
    worker)} that `count` open sockets over `shops` shops take."""
    import websocket

    web = bench.web("web", workers=1)
    tokens = [common.session_token(f"shop-{i}.myshopify.com") for i in range(shops)]

    def connect(i: int):
        ws = websocket.create_connection(f"{web.ws_url}/ws/jobs?id_token={tokens[i % shops]}", timeout=60)
        ws.recv()  # its snapshot
        return ws

    sockets = [connect(0)]  # the subscriber runs: the process's fixed costs are paid before measuring
    try:
        before = (key_bytes(client), *client_bytes(client), common.web_usage(web.pid)[1])
        with ThreadPoolExecutor(32) as pool:
            sockets += list(pool.map(connect, range(1, count + 1)))
        after = (key_bytes(client), *client_bytes(client), common.web_usage(web.pid)[1])
        return dict(zip(("keys", "connections", "connection_bytes", "rss"),
                        (a - b for a, b in zip(after, before, strict=True)), strict=True))
    finally:
        for ws in sockets:
            ws.close(timeout=1)
        client.flushall()


def shop_events(client, log_size: int) -> dict:
    """{"log": bytes of one shop's full replay log and seq counter, "versions": bytes of its job-version
    hash, "jobs": how many jobs that hash holds}."""
    from shopapp import redis_keys
    from shopapp.events.publisher import EventPublisher

    shop = "busy-shop.myshopify.com"
    publisher = EventPublisher(client, log_size)
    jobs = log_size + 100
    for i in range(jobs):
        job = {"id": 1000 + i, "kind": "webhook", "topic": "orders/create", "webhook_id": f"{i:08d}-0000-4000-8000-"
               "000000000000", "state": "succeeded", "progress": 100, "message": "done", "attempts": 1, "error": None,
               "created_at": "2026-11-30T10:00:00+00:00", "updated_at": "2026-11-30T10:00:01+00:00"}
        publisher.publish(shop, job, 3)
    log = key_bytes(client, redis_keys.shop_event_log(shop)) + key_bytes(client, redis_keys.shop_event_seq(shop))
    return {"log": log, "versions": key_bytes(client, redis_keys.shop_job_versions(shop, 1000)), "jobs": jobs}


def main(argv=None) -> int:
    import redis

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, help="jobs left queued")
    parser.add_argument("--sockets", type=int, help="open /ws/jobs sockets")
    parser.add_argument("--shops", type=int, help="shops the sockets belong to")
    args = common.parse(parser, FULL, QUICK, argv)
    with common.BenchEnv(args.database_url) as bench:
        client = redis.Redis.from_url(bench.redis.url)
        try:
            print(f"sizing: redis-server {client.info('server')['redis_version']}, {bench.database}, "
                  f"{os.cpu_count()} CPUs", flush=True)
            jobs = queued_jobs(bench, client, args.jobs)
            sockets = open_sockets(bench, client, args.sockets, args.shops)
            events = shop_events(client, bench.config().EVENT_LOG_SIZE)
        finally:
            client.close()
    out = common.Report("sizing", bench.database, args)
    out.figure("sizing.redis_kb_per_1000_queued_jobs", "Redis per 1,000 queued jobs", jobs / args.jobs * 1000 / 1024,
               "KB", detail=f"{args.jobs:,} jobs queued as ingestion does", counts={"jobs": args.jobs})
    per_connection = sockets["connection_bytes"] / max(sockets["connections"], 1) / 1024
    out.figure("sizing.redis_kb_per_1000_sockets", "Redis data per 1,000 open sockets",
               sockets["keys"] / args.sockets * 1000 / 1024, "KB",
               detail=f"seq counters of {args.shops} shops; and {sockets['connections']} more pooled connections of "
                      f"the web process, {per_connection:.0f} KB each",
               counts={"sockets": args.sockets, "shops": args.shops})
    out.figure("sizing.redis_kb_per_connection", "Redis per pooled connection", per_connection, "KB",
               counts={"connections": sockets["connections"]})
    out.figure("sizing.web_kb_per_socket", "web worker RSS per open socket", sockets["rss"] / args.sockets / 1024,
               "KB", counts={"sockets": args.sockets})
    out.figure("sizing.redis_kb_per_full_replay_log", "Redis per shop's full replay log", events["log"] / 1024, "KB",
               detail="EVENT_LOG_SIZE events and the seq counter")
    out.figure("sizing.redis_kb_per_1000_job_versions", "Redis per 1,000 jobs a shop ever published",
               events["versions"] / events["jobs"] * 1000 / 1024, "KB",
               detail="the job-version hash keeps a field per job", counts={"jobs": events["jobs"]})
    out.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
