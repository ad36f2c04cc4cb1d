"""`python -m shopapp worker [--processes N] [--burst]`: RQ workers for the app's queue.

One process runs one worker (`shopapp.jobs.worker`); with N > 1 this process supervises N of them and
starts again one that dies. SIGTERM or Ctrl+C stops each after its current job.
"""
from __future__ import annotations

import sys

import click

from shopapp.cli.build import settings
from shopapp.cli.supervisor import Supervisor
from shopapp.config import ConfigError


@click.command("worker")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="worker processes (default WORKER_PROCESSES)")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
def worker_command(processes: int | None, burst: bool) -> int:
    """Run RQ workers with the scheduler and the periodic sweep."""
    from shopapp import metrics

    config = settings()
    if not config.REDIS_URL:
        raise ConfigError("REDIS_URL is not set: run `make run` or set REDIS_URL")
    count = processes or config.WORKER_PROCESSES
    metrics.prepare_worker_process(config)  # before any task module imports prometheus_client
    if count == 1:
        from shopapp.app import create_app
        from shopapp.jobs.worker import run_worker

        return run_worker(create_app(config), burst=burst)
    supervisor = Supervisor("shopapp worker")
    supervisor.handle_signals()
    args = [sys.executable, "-m", "shopapp", "worker", "--processes", "1"] + (["--burst"] if burst else [])
    try:
        for _ in range(count):
            supervisor.spawn("worker", args, restart=not burst)
        code = supervisor.wait_all() if burst else supervisor.wait()
    finally:
        supervisor.stop()
    return code


def register(group: click.Group) -> None:
    group.add_command(worker_command)
