"""What turning off psycopg's server-side prepared statements costs (the app does, for PgBouncer).

    python -m bench.prepared --database-url postgresql://…/shopapp_bench [--jobs 50] [--batches 20] [--quick]

psycopg prepares a statement on the server on its fifth use on a connection; behind PgBouncer in
transaction mode that breaks (the next transaction may run on another server connection), so
`shopapp.db.make_engine` sets `prepare_threshold=None`. This measures, on a fresh PostgreSQL database
(its name contains "bench": its tables are dropped), the database work of a trivial job as the runner does
it: claim (UPDATE ... RETURNING the job, commit), then finish (UPDATE ... RETURNING, commit), through the
ORM on one pooled connection, with synchronous_commit off (the statements, not the disk). Short batches
alternate between the app's engine (no prepared statements) and the same engine with psycopg's default
(prepare_threshold=5), so that both see the same load on a busy machine; the figure is the median ratio of
paired batches. Straight to PostgreSQL: through PgBouncer the default cannot run. On SQLite it says so and
measures nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `shopapp` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

FULL = dict(jobs=50, batches=20)
QUICK = dict(jobs=10, batches=2)


def run_jobs(engine, job_ids: list[int]) -> float:
    """Claim and finish every job (two committed UPDATE ... RETURNING each); returns jobs per second."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from shopapp.models import Job, JobState, utcnow

    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        for job_id in job_ids:
            for expect, state in ((JobState.QUEUED, JobState.RUNNING), (JobState.RUNNING, JobState.SUCCEEDED)):
                stmt = (update(Job).where(Job.id == job_id, Job.state == expect.value)
                        .values(state=state.value, claimed_by="bench:1", heartbeat_at=utcnow(), updated_at=utcnow(),
                                attempts=Job.attempts + int(state is JobState.RUNNING), version=Job.version + 1)
                        .returning(Job).execution_options(synchronize_session=False, populate_existing=True))
                if session.scalars(stmt).first() is None:
                    raise RuntimeError(f"job {job_id} was not {expect.value}")
                session.commit()
        return len(job_ids) / (time.perf_counter() - started)


def queued_jobs(engine, count: int) -> list[int]:
    """`count` new queued jobs; their ids."""
    from sqlalchemy.orm import Session

    from shopapp.models import Job

    with Session(engine) as session:
        jobs = [Job(shop_domain=common.SHOP, kind=common.TRIVIAL_KIND, message="") for _ in range(count)]
        session.add_all(jobs)
        session.commit()
        return [job.id for job in jobs]


def measure(database_url: str, jobs: int, batches: int) -> dict[str, list[float]]:
    """{setting: jobs/s of each batch}, batches of both settings alternating."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from shopapp.db import POSTGRESQL_CONNECT_ARGS, make_engine

    # Commits skip the WAL flush, so that the batches time the statements rather than the disk.
    url = make_url(database_url).set(query={"options": "-c synchronous_commit=off"}).render_as_string(
        hide_password=False)
    engines = {"app": make_engine(url),
               "default": create_engine(url, connect_args=dict(POSTGRESQL_CONNECT_ARGS, prepare_threshold=5))}
    try:
        ids = queued_jobs(engines["app"], (batches * jobs + 5) * len(engines))
        for engine in engines.values():  # a connection each, and every statement used 5 times (prepared)
            run_jobs(engine, [ids.pop() for _ in range(5)])
        rates: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(batches):
            for name, engine in engines.items():
                rates[name].append(run_jobs(engine, [ids.pop() for _ in range(jobs)]))
        return rates
    finally:
        for engine in engines.values():
            engine.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, help="jobs per batch")
    parser.add_argument("--batches", type=int, help="batches per setting (alternating)")
    args = common.parse(parser, FULL, QUICK, argv)
    with common.BenchEnv(args.database_url) as bench:
        if bench.database != "postgresql":
            print("prepared: needs a PostgreSQL --database-url (prepared statements are PostgreSQL's); "
                  "nothing measured", flush=True)
            return 0
        print(f"prepared: {args.batches} x {args.jobs} trivial jobs' database work per setting, "
              f"{os.cpu_count()} CPUs", flush=True)
        rates = measure(bench.database_url, args.jobs, args.batches)
    pairs = [app / default for app, default in zip(rates["app"], rates["default"], strict=True)]
    out = common.Report("prepared", bench.database, args)
    out.figure("prepared.off_vs_default", "no prepared statements / psycopg's default", statistics.median(pairs), "x",
               detail=f"median of {len(pairs)} paired batches; app {statistics.median(rates['app']):,.0f} jobs/s, "
                      f"default {statistics.median(rates['default']):,.0f} jobs/s",
               counts={"jobs": 2 * args.batches * args.jobs})
    out.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
