"""Large webhook bodies: each web process's peak memory while concurrent multi-megabyte deliveries are answered.

    .venv/bin/python bench/large_bodies.py [--deliveries 20] [--mb 3] [--web-workers 2] [--rounds 1]

Starts what production runs for the web side (a redis-server, a fresh SQLite database or DATABASE_URL,
gunicorn with gunicorn.conf.py: gevent, WEB_CONCURRENCY=--web-workers) with the default WEBHOOK_MAX_BYTES,
then sends --deliveries concurrent, correctly signed `products/update` deliveries of a realistic product
with thousands of variants (compact JSON of at least --mb MB; a 2,048-variant product is ~1.4 MB), each on
its own connection, released together, --rounds times. While they are answered it samples each web
process's RSS with psutil (every 5 ms) and reads the kernel's high-water mark (VmHWM) afterwards.
Prints, per web process: RSS before, sampled peak and VmHWM (MiB); and how many deliveries were accepted.
No RQ worker runs: this measures the door (read, verify, record) only. Runs in well under a minute.
README "Performance" states the ceiling that tests/test_webhook_size.py asserts.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shopapp.config import Config
from shopapp.db import migrate
from shopapp.embedded_redis import EmbeddedRedis, find_binary
from shopapp.testing import API_KEY, API_SECRET, ENCRYPTION_KEY, build_webhook
from tests.support.large_bodies import MIB, PeakMemory, product_body
from tests.support.processes import WebServer
from tests.support.shopify_sender import deliver_at_once


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=20, help="concurrent deliveries per round")
    parser.add_argument("--mb", type=float, default=3.0, help="size of each body, in MB (10^6 bytes)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--rounds", type=int, default=1, help="bursts sent one after the other")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    work = Path(tempfile.mkdtemp(prefix="shopapp-bench-"))
    redis_server = EmbeddedRedis(work / "redis", binary=find_binary(prefer_system=True), persist=False).start()
    web = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_"))}
        env.update(SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET, SHOPAPP_ENCRYPTION_KEY=ENCRYPTION_KEY,
                   SHOPAPP_INSTANCE_DIR=str(work / "instance"), REDIS_URL=redis_server.url, LOG_LEVEL="WARNING",
                   DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}")
        config = Config.from_env(env)
        migrate.upgrade(config.DATABASE_URL)
        body = product_body(int(args.mb * 1_000_000))
        web = WebServer(env, work / "gunicorn.log", workers=args.web_workers).start()
        print(f"bench: {args.deliveries} concurrent products/update deliveries of {len(body) / MIB:.2f} MiB "
              f"({len(body):,} bytes), {args.rounds} round(s), gunicorn gevent x{args.web_workers}, "
              f"WEBHOOK_MAX_BYTES={config.WEBHOOK_MAX_BYTES:,}, {config.DATABASE_URL.split(':')[0]}, "
              f"{os.cpu_count()} CPUs", flush=True)
        statuses: list[int] = []
        with PeakMemory(web.pid) as memory:
            before = memory.current()
            started = time.perf_counter()
            for _ in range(args.rounds):
                hooks = [build_webhook("products/update", API_SECRET, payload=body) for _ in range(args.deliveries)]
                statuses += deliver_at_once(web.url + "/webhooks", hooks)
            elapsed = time.perf_counter() - started
        high_water = memory.high_water()
        for pid in sorted(before):
            print(f"  web process {pid}: RSS before {before[pid] / MIB:6.1f} MiB, sampled peak "
                  f"{memory.sampled[pid] / MIB:6.1f} MiB, VmHWM {high_water[pid] / MIB:6.1f} MiB")
        accepted = statuses.count(200)
        print(f"accepted: {accepted} of {len(statuses)} in {elapsed:.1f} s "
              f"(other statuses: {sorted(s for s in statuses if s != 200)})")
        print(f"largest peak of one web process: {max(high_water.values()) / MIB:.1f} MiB")
        return 0 if accepted == len(statuses) else 1
    finally:
        if web is not None:
            web.stop()
        redis_server.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
