"""Running real RQ workers inside the test process (burst mode) until the jobs are done."""
from __future__ import annotations

import signal
import time
from typing import Callable, Optional

from flask import Flask
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from shopapp.jobs import tasks
from shopapp.jobs.kinds import load_kinds
from shopapp.jobs.queue import get_queue
from shopapp.redis_client import get_redis


class TestProcessWorker(SimpleWorker):
    """SimpleWorker that leaves the test process's signals alone: its job timeout uses a timer thread
    (rq's default SIGALRM penalty would cancel pytest-timeout's alarm)."""

    death_penalty_class = TimerDeathPenalty


class BurstWorker:
    """A real rq SimpleWorker (with the scheduler, so delayed retries come due) run in burst mode."""

    def __init__(self, app: Flask):
        self.app = app
        tasks.set_worker_app(app)
        load_kinds(app.config["JOB_MODULES"])

    def run_once(self) -> bool:
        """Take every job that is on the queue now (and scheduled jobs that are due); True if any ran."""
        worker = TestProcessWorker([get_queue(self.app)], connection=get_redis(self.app))
        saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            return worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
        finally:
            for signum, handler in saved.items():  # rq installs its own; give pytest back Ctrl+C
                signal.signal(signum, handler)

    def run_until(self, done: Callable[[], bool], timeout: float = 30.0, sweep: bool = False) -> None:
        """Run bursts (and, with `sweep`, sweeper passes) until `done()` is true; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if sweep:
                from shopapp.jobs.sweeper import sweep as sweep_once

                with self.app.app_context():
                    sweep_once(self.app, grace_seconds=0.0)
            self.run_once()
            if done():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs not done within {timeout}s")
            time.sleep(0.05)

    def __call__(self, done: Optional[Callable[[], bool]] = None, timeout: float = 30.0) -> None:
        """Drain the queue once, or until `done()` when given."""
        if done is None:
            self.run_once()
        else:
            self.run_until(done, timeout)
