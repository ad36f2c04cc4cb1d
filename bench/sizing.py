"""Sizing figures for the README's Deploying table: Redis memory per 1,000 queued jobs, per 1,000 open
sockets, and per shop's replay log; the web process's memory per open socket.

    .venv/bin/python bench/sizing.py [--jobs 10000] [--sockets 1000] [--shops 10]

On a fresh redis-server (the system one) and a fresh SQLite database, in one run:
1. queued jobs: `--jobs` jobs put on the queue as ingestion does (`enqueue_batch`, batches of 100), never
   run; Redis' `used_memory` before and after;
2. open sockets: one gunicorn web process (gunicorn.conf.py, gevent), `--sockets` /ws/jobs sockets over
   `--shops` shops; Redis' `used_memory` (and of it the data, `used_memory_dataset`, and the clients) and
   the web worker's RSS before and after (a socket holds no Redis state: its process's one subscription
   serves it; its snapshot borrows a pooled connection, which stays open for the next);
3. replay log: EVENT_LOG_SIZE job events published for one shop (a full log: older events are trimmed),
   with a job dict as the worker publishes it; `used_memory` before and after.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis as redis_lib  # noqa: E402
import websocket  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from shopapp.embedded_redis import EmbeddedRedis, find_binary  # noqa: E402
from shopapp.testing import build_session_token  # noqa: E402
from tests.support.processes import WebServer  # noqa: E402

API_KEY, API_SECRET = "bench-api-key", "bench-api-secret-0123456789abcdef"


def used_memory(client: redis_lib.Redis) -> int:
    """Redis' own accounting of its data, in bytes (INFO memory's used_memory)."""
    return int(client.info("memory")["used_memory"])


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def gunicorn_worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def queued_jobs(env: dict, client: redis_lib.Redis, count: int) -> None:
    from shopapp.app import create_app
    from shopapp.config import Config
    from shopapp.jobs.queue import enqueue_batch
    from shopapp.redis_client import get_redis

    app = create_app(Config.from_env(env))
    try:
        before = used_memory(client)
        for start in range(1, count + 1, 100):
            enqueue_batch(app, list(range(start, min(start + 100, count + 1))))
        grown = used_memory(client) - before
    finally:
        get_redis(app).close()
    print(f"queued jobs: {count} -> +{grown / 1024:,.0f} KiB of Redis = {grown / count * 1000 / 1024:,.0f} KiB "
          f"per 1,000 queued jobs", flush=True)
    client.flushall()


def open_sockets(env: dict, work: Path, client: redis_lib.Redis, count: int, shops: int) -> None:
    web = WebServer(env, work / "gunicorn.log", workers=1).start()
    sockets = []
    try:
        tokens = [build_session_token(API_KEY, API_SECRET, shop=f"shop-{i}.myshopify.com", expires_in=3600)
                  for i in range(shops)]
        first = websocket.create_connection(f"{web.ws_url}/ws/jobs?id_token={tokens[0]}", timeout=30)
        first.recv()  # the subscriber runs: the process's fixed costs are paid before measuring
        sockets.append(first)
        worker = gunicorn_worker_pid(web.pid)
        redis_before, rss_before, info_before = used_memory(client), rss_kib(worker), client.info()

        def connect(i: int):
            ws = websocket.create_connection(f"{web.ws_url}/ws/jobs?id_token={tokens[i % shops]}", timeout=60)
            ws.recv()  # its snapshot
            return ws

        with ThreadPoolExecutor(32) as pool:
            sockets += list(pool.map(connect, range(1, count + 1)))
        redis_grown, rss_grown, info = used_memory(client) - redis_before, rss_kib(worker) - rss_before, client.info()
        data_grown = info["used_memory_dataset"] - info_before["used_memory_dataset"]
        connections = info["connected_clients"] - info_before["connected_clients"]
    finally:
        for ws in sockets:
            ws.close(timeout=1)
        web.stop()
    print(f"open sockets: {count} over {shops} shops -> Redis +{redis_grown / 1024:,.0f} KiB per {count:,} sockets, "
          f"of which data +{data_grown / 1024:,.1f} KiB and the rest the web process's {connections} more pooled "
          f"connections (snapshots); web worker RSS +{rss_grown / 1024:,.1f} MiB ({rss_grown / count:,.0f} KiB per "
          "socket)", flush=True)
    client.flushall()


def replay_log(client: redis_lib.Redis, log_size: int) -> None:
    from shopapp.events.publisher import EventPublisher

    publisher = EventPublisher(client, log_size)
    before = used_memory(client)
    for i in range(log_size + 100):  # more than the log keeps: it is trimmed to log_size
        job = {"id": 1000 + i, "kind": "webhook", "topic": "orders/create", "webhook_id": f"{i:08d}-0000-4000-8000-"
               "000000000000", "state": "succeeded", "progress": 100, "message": "done", "attempts": 1, "error": None,
               "created_at": "2026-11-30T10:00:00+00:00", "updated_at": "2026-11-30T10:00:01+00:00"}
        publisher.publish("busy-shop.myshopify.com", job, 3)
    grown = used_memory(client) - before
    print(f"replay log: one shop's full log ({log_size} events, plus its seq and job versions) -> "
          f"+{grown / 1024:,.0f} KiB of Redis", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--shops", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shopapp-sizing-"))
    server = EmbeddedRedis(work / "redis", binary=find_binary(prefer_system=True), persist=False).start()
    client = redis_lib.Redis.from_url(server.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_"))}
    env.update(SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET,
               SHOPAPP_ENCRYPTION_KEY=Fernet.generate_key().decode(), SHOPAPP_INSTANCE_DIR=str(work / "instance"),
               DATABASE_URL=f"sqlite:///{work / 'sizing.sqlite3'}",
               REDIS_URL=server.url, LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    try:
        from shopapp.config import Config
        from shopapp.db import migrate

        migrate.upgrade(env["DATABASE_URL"])
        print(f"sizing: redis-server {client.info('server')['redis_version']}, {os.cpu_count()} cores", flush=True)
        queued_jobs(env, client, args.jobs)
        open_sockets(env, work, client, args.sockets, args.shops)
        replay_log(client, Config.EVENT_LOG_SIZE)
    finally:
        client.close()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
