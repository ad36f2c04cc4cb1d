"""Real RQ workers inside the test process (burst mode), run until the jobs are done."""
from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Optional

from flask import Flask

from shopapp.jobs import tasks
from shopapp.jobs.queue import get_queue
from shopapp.jobs.registry import LANES
from shopapp.jobs.worker import EngineWorker
from shopapp.redis_client import get_redis
from shopapp.testing.waiting import wait_until


class TestProcessWorker(EngineWorker):
    """The worker class `python -m shopapp worker` runs (the engine's time limits keep pytest-timeout's
    alarm: see shopapp.jobs.timelimit)."""


class BurstWorker:
    """A real RQ worker (with the scheduler, so delayed retries come due) run in burst mode."""

    def __init__(self, app: Flask):
        self.app = app
        tasks.set_worker_app(app)

    def run_once(self) -> bool:
        """Take every job that is on the queue now (and scheduled jobs that are due); True if any ran."""
        queues = [get_queue(self.app, lane) for lane in LANES]  # webhooks first, like a mixed worker process
        worker = TestProcessWorker(queues, connection=get_redis(self.app))
        saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            return worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
        finally:
            for signum, handler in saved.items():  # RQ installs its own; give pytest back Ctrl+C
                signal.signal(signum, handler)

    def run_until(self, done: Callable[[], bool], timeout: float = 30.0, sweep: bool = False) -> None:
        """Run bursts (and, with `sweep`, sweeper passes) until `done()` is true; AssertionError on timeout."""
        from shopapp.jobs.sweeper import sweep as sweep_once

        def step() -> bool:
            if sweep:
                with self.app.app_context():
                    sweep_once(self.app, grace_seconds=0.0)
            self.run_once()
            return done()

        wait_until(step, timeout=timeout, what="jobs done")

    def __call__(self, done: Optional[Callable[[], bool]] = None, timeout: float = 30.0) -> None:
        """Drain the queue once, or until `done()` when given."""
        if done is None:
            self.run_once()
        else:
            self.run_until(done, timeout)
