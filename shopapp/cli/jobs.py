"""Job commands: `python -m shopapp jobs retry ID` and `python -m shopapp sweep`."""
from __future__ import annotations

import sys

import click
import redis

from shopapp.cli.build import app_for_command
from shopapp.jobs.errors import JobNotFoundError, JobNotRetryableError


@click.group("jobs")
def jobs_group() -> None:
    """Job commands."""


@jobs_group.command("retry")
@click.argument("job_id", type=click.IntRange(min=1))
def retry_command(job_id: int) -> int:
    """Put failed job JOB_ID (of any shop) back on the queue."""
    from shopapp.jobs.queue import retry_job

    with app_for_command() as app:
        try:
            job = retry_job(app, None, job_id)
        except (JobNotFoundError, JobNotRetryableError) as exc:
            print(f"shopapp jobs retry: {exc}", file=sys.stderr)
            return 1
    print(f"job {job['id']} ({job['kind']}, {job['topic'] or 'no topic'}) is queued again")
    return 0


@click.command("sweep")
def sweep_command() -> int:
    """Enqueue committed jobs that are on no queue; republish missed events (one pass)."""
    from shopapp.jobs.sweeper import sweep

    with app_for_command() as app:
        try:
            report = sweep(app, grace_seconds=0.0)
        except redis.RedisError as exc:
            print(f"shopapp sweep: Redis is unreachable ({type(exc).__name__}); nothing was changed in Redis. "
                  "Start Redis (or check REDIS_URL) and run it again.", file=sys.stderr)
            return 1
    print(f"shopapp sweep: {report}")
    return 0


def register(group: click.Group) -> None:
    group.add_command(jobs_group)
    group.add_command(sweep_command)
