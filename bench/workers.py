"""Workers: trivial jobs per second with N worker processes, against RQ's own floor in the same run.

    python -m bench.workers [--jobs 5000] [--floor-jobs 5000] [--workers 2] [--database-url URL] [--quick]

Starts the bench's Redis and a fresh database (SQLite, or --database-url/DATABASE_URL), then:
1. floor (bench/rq_floor.py): RQ's SimpleWorker on a hello-world job, in --workers processes, burst mode,
   the jobs queued beforehand; nothing of the app runs meanwhile;
2. jobs: a gunicorn (1 web process, serving the page's socket) and `python -m shopapp worker --processes
   N`; a page's socket is opened, then --jobs `bench_trivial` jobs (bench/trivial_jobs.py: it does
   nothing) are committed and queued in chunks of 500 while the workers run (one transaction and one
   `enqueue_batch` per chunk, as ingestion does). The figure counts the jobs whose `succeeded` event
   reached the open page, per second from the first to the last: the claim, the state machine, the finish
   and the publish of each job are in it.
Target (issue 16): >= 1,000 trivial jobs/s with 2 worker processes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, rq_floor

FULL = dict(jobs=5000, floor_jobs=5000, workers=2)
QUICK = dict(jobs=200, floor_jobs=200, workers=1)
BULK_SHOP = "bulk-shop.myshopify.com"


def queue_trivial_jobs(app, count: int, chunk: int = 500) -> None:
    """Commit and enqueue `count` bench_trivial jobs in chunks, as ingestion does with webhook jobs.

    One transaction and one Redis transaction per chunk: the producer takes a fraction of a second, so the
    figure is the workers' rate, not that of a producer competing with them for the cores.
    """
    from shopapp.db import get_db
    from shopapp.jobs.queue import enqueue_batch
    from shopapp.models import Job, JobState

    for first in range(0, count, chunk):
        with get_db(app).session() as session:
            jobs = [Job(shop_domain=BULK_SHOP, kind=common.TRIVIAL_KIND, state=JobState.QUEUED.value, params={},
                        max_attempts=app.config["JOB_MAX_ATTEMPTS"], message="queued")
                    for _ in range(min(chunk, count - first))]
            session.add_all(jobs)
            session.commit()
            enqueue_batch(app, [job.id for job in jobs])


def app_jobs(bench: common.BenchEnv, jobs: int, workers: int) -> dict:
    """Run `jobs` trivial jobs through the app's workers; {"jobs", "per_second", "queued_in" (seconds)}."""
    from shopapp import create_app
    from shopapp.db import get_db
    from shopapp.redis_client import get_redis
    from shopapp.testing import wait_until

    bench.worker(workers)  # it starts while gunicorn does
    web = bench.web("web", workers=1)
    page = common.Page(web.ws_url, BULK_SHOP)
    app = create_app(bench.config())
    try:
        started = time.perf_counter()
        queue_trivial_jobs(app, jobs)
        queued_in = time.perf_counter() - started
        wait_until(lambda: len(page.first("succeeded")) >= jobs, common.PHASE_TIMEOUT_SECONDS,
                   "every trivial job's succeeded event", explain=lambda: f"{len(page.first('succeeded'))} arrived")
    finally:
        get_db(app).dispose()
        get_redis(app).close()
        page.close()
    times = sorted(page.first("succeeded").values())
    return {"jobs": len(times), "queued_in": queued_in,
            "per_second": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, help="trivial jobs through the app's workers")
    parser.add_argument("--floor-jobs", type=int, help="hello-world jobs through RQ's SimpleWorker (the floor)")
    parser.add_argument("--workers", type=int, help="worker processes (the app's and the floor's)")
    args = common.parse(parser, FULL, QUICK, argv)
    with common.BenchEnv(args.database_url) as bench:
        print(f"workers: {args.workers} worker process(es), {args.jobs:,} trivial jobs, floor {args.floor_jobs:,} "
              f"hello-world jobs, {bench.database}, {os.cpu_count()} CPUs", flush=True)
        floor = rq_floor.measure(bench.redis.url, args.floor_jobs, args.workers, common.PHASE_TIMEOUT_SECONDS)
        result = app_jobs(bench, args.jobs, args.workers)
    out = common.Report("workers", bench.database, args)
    floor_text = f"RQ SimpleWorker x{args.workers}, hello-world: {floor['per_second']:,.0f}/s"
    out.figure("workers.jobs_per_second", f"trivial jobs/s, {args.workers} worker process(es)", result["per_second"],
               "/s", (">=", 1000.0), floor=floor_text,
               detail=f"{result['jobs']:,} jobs, queued in {result['queued_in']:.2f} s while the workers ran",
               counts={"jobs": result["jobs"]})
    out.figure("workers.floor_per_second", f"RQ SimpleWorker x{args.workers} on hello-world (the floor)",
               floor["per_second"], "/s", detail=f"{floor['jobs']:,} jobs in {floor['seconds']:.2f} s, "
                                                 f"{floor['failed']} failed",
               counts={"jobs": floor["jobs"], "failed": floor["failed"]})
    out.figure("workers.vs_floor", "trivial jobs/s, app/floor", result["per_second"] / floor["per_second"], "ratio",
               floor=floor_text)
    out.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
