"""What turning off psycopg's server-side prepared statements costs (the app does, for PgBouncer).

    .venv/bin/python bench/prepared.py [--jobs 50] [--batches 20]

DATABASE_URL names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres).

psycopg prepares a statement on the server on its fifth use on a connection; behind PgBouncer in
transaction mode that breaks (the next transaction may run on another server connection), so
`shopapp.db.make_engine` sets `prepare_threshold=None`. This measures, in one run on one scratch database
(created on DATABASE_URL's server, migrated, dropped after), the database work of a trivial job as the
runner does it: claim (UPDATE ... RETURNING the job, commit), then finish (UPDATE ... RETURNING, commit),
through the ORM on one pooled connection, with synchronous_commit off (the statements, not the disk).
Short batches alternate between the app's engine (no prepared statements) and the same engine with
psycopg's default (prepare_threshold=5); it prints each setting's median jobs/s and the median ratio of
paired batches. Straight to PostgreSQL: through PgBouncer the default cannot run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from shopapp.config import Config  # noqa: E402
from shopapp.db import POSTGRESQL_CONNECT_ARGS, make_engine, migrate  # noqa: E402
from shopapp.models import Job, JobState, utcnow  # noqa: E402

SHOP = "bench-shop.myshopify.com"


def run_jobs(engine, job_ids: list[int]) -> float:
    """Claim and finish every job (two committed UPDATE ... RETURNING each); returns jobs per second."""
    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        for job_id in job_ids:
            for expect, state in ((JobState.QUEUED, JobState.RUNNING), (JobState.RUNNING, JobState.SUCCEEDED)):
                stmt = (update(Job).where(Job.id == job_id, Job.state == expect.value)
                        .values(state=state.value, claimed_by="bench:1", heartbeat_at=utcnow(), updated_at=utcnow(),
                                attempts=Job.attempts + int(state is JobState.RUNNING), version=Job.version + 1)
                        .returning(Job).execution_options(synchronize_session=False, populate_existing=True))
                assert session.scalars(stmt).first() is not None
                session.commit()
        return len(job_ids) / (time.perf_counter() - started)


def reset_jobs(engine, count: int) -> list[int]:
    """Replace every job with `count` queued ones; their ids."""
    with Session(engine) as session:
        session.execute(delete(Job))
        jobs = [Job(shop_domain=SHOP, kind="bench", message="") for _ in range(count)]
        session.add_all(jobs)
        session.commit()
        return [job.id for job in jobs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs per batch")
    parser.add_argument("--batches", type=int, default=20, help="batches per setting (alternating)")
    args = parser.parse_args()
    server = make_url(Config.database_url_from_env({"DATABASE_URL": os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")}))
    if server.get_backend_name() != "postgresql":
        raise SystemExit("bench/prepared.py needs DATABASE_URL=postgresql://... (prepared statements are PostgreSQL's)")
    scratch = f"shopapp_bench_prepared_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    # Commits skip the WAL flush, so that the batches time the statements rather than the disk.
    url = server.set(database=scratch, query={"options": "-c synchronous_commit=off"}).render_as_string(
        hide_password=False)
    try:
        migrate.upgrade(url)
        engines = {"app (prepare_threshold=None)": make_engine(url),
                   "psycopg default (threshold 5)": create_engine(
                       url, connect_args=dict(POSTGRESQL_CONNECT_ARGS, prepare_threshold=5))}
        ids = reset_jobs(next(iter(engines.values())), (args.batches * args.jobs + 5) * len(engines))
        rates: dict[str, list[float]] = {name: [] for name in engines}
        for engine in engines.values():  # a connection each, and every statement used 5 times (prepared)
            run_jobs(engine, [ids.pop() for _ in range(5)])
        # Short batches, alternating: on a busy machine both settings then see the same load.
        for _ in range(args.batches):
            for name, engine in engines.items():
                rates[name].append(run_jobs(engine, [ids.pop() for _ in range(args.jobs)]))
        for engine in engines.values():
            engine.dispose()
        for name, values in rates.items():
            print(f"{name:30s} median {statistics.median(values):6.0f} jobs/s  (batches of {args.jobs}: "
                  f"min {min(values):.0f}, max {max(values):.0f})")
        pairs = [a / b for a, b in zip(*rates.values(), strict=True)]
        print(f"app / psycopg default: {statistics.median(pairs):.2f}x (median of {len(pairs)} paired batches; "
              f"database work of a trivial job, {os.cpu_count()} cores)")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
