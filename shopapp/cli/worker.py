"""`python -m shopapp worker [--processes N] [--burst] [--lanes LANES]`: RQ workers for the app's queues.

Without `--lanes` this process supervises N worker processes (WORKER_PROCESSES, default 2) and starts a
new one when one dies (a crash, or a handler past its hard time limit). Lanes keep webhook jobs from
waiting behind merchant jobs: the first WEBHOOK_WORKER_PROCESSES (default 1) take webhook jobs only, the
others take webhook jobs first, then merchant jobs; at least one process takes merchant jobs. With
`--lanes webhooks,merchant` this process is one worker on those lanes, in that order. SIGTERM or Ctrl+C
stops each worker after its current job.
"""
from __future__ import annotations

import sys

import click

from shopapp.cli.build import settings
from shopapp.cli.supervisor import Supervisor
from shopapp.config import Config, ConfigError
from shopapp.jobs.registry import LANES, MERCHANT_LANE, WEBHOOKS_LANE


def lane_plan(config: Config, processes: int) -> list[tuple[str, ...]]:
    """The lanes of each worker process, in priority order: webhook-only ones first, then mixed ones."""
    webhook_only = min(config.WEBHOOK_WORKER_PROCESSES, processes - 1)
    return [(WEBHOOKS_LANE,)] * webhook_only + [(WEBHOOKS_LANE, MERCHANT_LANE)] * (processes - webhook_only)


def _lanes(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    lanes = tuple(lane.strip() for lane in value.split(",") if lane.strip())
    unknown = [lane for lane in lanes if lane not in LANES]
    if not lanes or unknown:
        raise click.BadParameter(f"lanes are a comma-separated list of {', '.join(LANES)}")
    return lanes


@click.command("worker")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="worker processes to supervise (default WORKER_PROCESSES)")
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
@click.option("--lanes", default=None, help="run one worker here on these lanes, in priority order "
                                            "(e.g. webhooks,merchant)")
def worker_command(processes: int | None, burst: bool, lanes: str | None) -> int:
    """Run RQ workers with the scheduler and the periodic sweep."""
    from shopapp import metrics

    config = settings()
    if not config.redis_configured:
        raise ConfigError("REDIS_URL is not set: run `make run` or set REDIS_URL (or REDIS_SENTINELS)")
    metrics.prepare_worker_process(config)  # before any task module imports prometheus_client
    own_lanes = _lanes(lanes)
    if own_lanes is not None:
        from shopapp.app import create_app
        from shopapp.jobs.worker import run_worker

        return run_worker(create_app(config), own_lanes, burst=burst)
    supervisor = Supervisor("shopapp worker", new_session=False)
    supervisor.handle_signals()
    try:
        for plan in lane_plan(config, processes or config.WORKER_PROCESSES):
            args = [sys.executable, "-m", "shopapp", "worker", "--lanes", ",".join(plan)]
            supervisor.spawn("worker " + "+".join(plan), args + (["--burst"] if burst else []), restart=not burst)
        code = supervisor.wait_all() if burst else supervisor.wait()
    finally:
        supervisor.stop()
    return code


def register(group: click.Group) -> None:
    group.add_command(worker_command)
