"""One worker process: RQ's loop over its lanes' queues, with the scheduler and the periodic sweeper.

Runs `rq_adapter.ShopappWorker` (RQ's non-forking worker: a fork per job costs ~6x on small jobs) with
RQ's scheduler (delayed retries) and a sweeper thread (every SWEEP_INTERVAL_SECONDS, one sweeper at a
time across processes and machines). Each task pushes its own app context. SIGTERM or SIGINT stops the
worker after its current job (RQ's warm shutdown); a job cut off harder than that is handed to another
worker by the sweeper once its heartbeat is JOB_STALL_SECONDS old. RQ ends its loop quietly on an error it
does not handle (Redis restarted mid-command); the process then starts a new RQ worker instead of exiting.
"""
from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

from flask import Flask
from rq import Queue
from rq.exceptions import StopRequested

from shopapp.db import get_db
from shopapp.events.publishing import held_events
from shopapp.jobs import runner, tasks
from shopapp.jobs.queue import queue_name
from shopapp.jobs.rq_adapter import ShopappWorker
from shopapp.jobs.sweeper import sweep_with_lock
from shopapp.redis_client import connect

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0


class PeriodicSweeper:
    """Runs `sweep_with_lock` every SWEEP_INTERVAL_SECONDS in a daemon thread."""

    def __init__(self, app: Flask):
        self.app = app
        self.interval = max(0.1, app.config["SWEEP_INTERVAL_SECONDS"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.app.app_context():
                    sweep_with_lock(self.app)
            except Exception as exc:  # Redis or the database may be down for a while; try again next time
                log.warning("sweep failed: %s", type(exc).__name__)


def run_worker(app: Flask, lanes: Sequence[str], burst: bool = False) -> int:
    """Run one worker in this process until stopped (or, with `burst`, until its queues are empty).

    `lanes`: the lanes whose queues it takes jobs from, in priority order (RQ takes from the first queue
    that has a job). A handler past its hard time limit makes the process exit (its supervisor starts
    another, see timelimit.py).
    """
    config = app.config
    tasks.set_worker_app(app)
    runner.exit_on_hard_limit = True
    connection = connect(config)  # its own client: RQ raises its socket timeout for blocking pops
    if burst:
        with app.app_context():
            try:
                sweep_with_lock(app)
            except Exception as exc:  # a burst run still drains whatever is queued
                log.warning("sweep before burst failed: %s", type(exc).__name__)
    get_db(app).dispose()  # no pooled connection is inherited by RQ's forked scheduler
    try:
        for generation in itertools.count(0):
            worker = _new_worker(app, connection, lanes, generation, burst)
            worker.work(burst=burst, with_scheduler=True, logging_level=config["LOG_LEVEL"])
            if burst or worker.stop_requested:
                break
            # RQ leaves its loop, without an error, on one it does not handle (Redis gone mid-command). This
            # process must not end with it (exit code 0: no process manager would restart it), or a Redis
            # restart would leave no worker at all: start a new RQ worker once Redis can be reached again.
            log.warning("RQ worker loop ended without a stop request (Redis lost?); starting again")
            try:
                time.sleep(RESTART_DELAY_SECONDS)
            except StopRequested:  # SIGTERM meanwhile, through the last worker's handler
                break
            if worker.stop_requested:
                break
    finally:
        get_db(app).dispose()
        connection.close()
    return 0


class EngineWorker(ShopappWorker):
    """The engine's RQ worker: a job's last event rides on the MULTI that marks it done in RQ."""

    rider = held_events


def _new_worker(app: Flask, connection, lanes: Sequence[str], generation: int, burst: bool) -> EngineWorker:
    name = f"shopapp.{socket.gethostname()}.{os.getpid()}" + (f".{generation}" if generation else "")
    queues = [Queue(queue_name(app, lane), connection=connection) for lane in lanes]
    worker = EngineWorker(queues, connection=connection, name=name)
    if not burst:
        sweeper = PeriodicSweeper(app)
        worker.on_start, worker.on_stop = sweeper.start, sweeper.stop
    return worker
