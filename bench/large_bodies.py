"""Large webhook bodies: each web process's peak memory while concurrent multi-megabyte deliveries are answered.

    python -m bench.large_bodies [--deliveries 20] [--mb 3] [--web-workers 2] [--database-url URL] [--quick]

Starts the bench's Redis, a fresh database (SQLite, or --database-url/DATABASE_URL) and gunicorn with
gunicorn.conf.py (gevent, WEB_CONCURRENCY=--web-workers, the app's default WEBHOOK_MAX_BYTES and
WEBHOOK_BUFFER_BYTES), then sends --deliveries correctly signed `products/update` deliveries at once, each
on its own connection: a realistic product with thousands of variants over three options, compact JSON of
at least --mb MB (a 2,048-variant one is 1.35 MB). While they are answered it samples each web process's
RSS with psutil (every 5 ms), and reads the kernel's high-water mark (VmHWM) after. No RQ worker runs: this
is the door only (read, verify, record).
Target (issue 14, README "Performance"): every delivery accepted, each web process under 256 MiB.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

FULL = dict(deliveries=20, mb=3.0, web_workers=2)
QUICK = dict(deliveries=4, mb=0.5, web_workers=2)
CEILING_MIB = 256.0


def measure(bench: common.BenchEnv, deliveries: int, mb: float, web_workers: int) -> dict:
    """Send the burst; {"statuses", "seconds", "bytes", "before", "sampled", "peak"} (RSS by pid, bytes)."""
    from shopapp.testing import SignedWebhook
    from shopapp.testing.large_bodies import PeakMemory, product_body
    from shopapp.testing.webhooks import deliver_at_once

    body = product_body(int(mb * 1_000_000))
    web = bench.web("web", workers=web_workers)
    hooks = [SignedWebhook("products/update", common.SHOP, body, common.webhook_headers("products/update", body))
             for _ in range(deliveries)]
    with PeakMemory(web.pid) as memory:
        before = memory.current()
        started = time.perf_counter()
        statuses = deliver_at_once(web.url + "/webhooks", hooks)
        seconds = time.perf_counter() - started
    return {"statuses": statuses, "seconds": seconds, "bytes": len(body), "before": before,
            "sampled": memory.sampled, "peak": memory.high_water()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, help="concurrent products/update deliveries")
    parser.add_argument("--mb", type=float, help="size of each body, in MB (10^6 bytes)")
    parser.add_argument("--web-workers", type=int, help="gunicorn workers (WEB_CONCURRENCY)")
    args = common.parse(parser, FULL, QUICK, argv)
    with common.BenchEnv(args.database_url) as bench:
        config = bench.config()
        print(f"large_bodies: {args.deliveries} concurrent products/update deliveries of {args.mb:g} MB, gunicorn "
              f"gevent x{args.web_workers}, WEBHOOK_MAX_BYTES={config.WEBHOOK_MAX_BYTES:,}, "
              f"WEBHOOK_BUFFER_BYTES={config.WEBHOOK_BUFFER_BYTES:,}, {bench.database}, {os.cpu_count()} CPUs",
              flush=True)
        result = measure(bench, args.deliveries, args.mb, args.web_workers)
    mib = 1024 * 1024
    for pid in sorted(result["peak"]):
        print(f"  web process {pid}: RSS before {result['before'][pid] / mib:6.1f} MiB, sampled peak "
              f"{result['sampled'][pid] / mib:6.1f} MiB, VmHWM {result['peak'][pid] / mib:6.1f} MiB", flush=True)
    accepted = result["statuses"].count(200)
    out = common.Report("large_bodies", bench.database, args)
    out.figure("large_bodies.peak_rss", "peak RSS of one web process", max(result["peak"].values()) / mib, "MiB",
               ("<=", CEILING_MIB), floor=f"idle: {max(result['before'].values()) / mib:.1f} MiB",
               detail=f"{args.deliveries} x {result['bytes']:,} bytes at once, {args.web_workers} web processes",
               counts={"deliveries": args.deliveries, "web_processes": len(result["peak"])})
    out.figure("large_bodies.accepted", "deliveries accepted (200)", accepted, "count",
               (">=", float(args.deliveries)), detail=f"in {result['seconds']:.1f} s; others: "
                                                      f"{sorted(s for s in result['statuses'] if s != 200)}",
               counts={"deliveries": args.deliveries, "accepted": accepted})
    out.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
