"""`python -m shopapp worker [--processes N] [--burst]`: RQ workers for the app's queue.

Each process runs rq's non-forking `SimpleWorker` (a fork per job costs ~6x on small jobs) with RQ's
scheduler (delayed retries) and a sweeper thread (every SWEEP_INTERVAL_SECONDS, one sweeper at a time
across processes and machines). The app is created once per process; each task pushes its own app
context. SIGTERM or SIGINT stops a worker after its current job (RQ's warm shutdown); a job cut off
harder than that is handed to another worker by the sweeper once its heartbeat is JOB_STALL_SECONDS old.
With N > 1 this process supervises N worker processes and restarts one that dies. RQ ends its loop quietly on
an error it does not handle (Redis restarted mid-command); the process then starts a new RQ worker instead
of exiting.
"""
from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Optional

from flask import Flask
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from shopapp.config import Config, ConfigError
from shopapp.redis_client import connect

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0


# RQ refreshes its worker key (HSET + 2 EXPIREs) three times per job; the key lives worker_ttl + 60 s
# (480 s), so a refresh more often than this only costs round trips.
WORKER_HEARTBEAT_SECONDS = 5.0
SUSPENSION_CHECK_SECONDS = 1.0


class ShopappWorker(SimpleWorker):
    """SimpleWorker that starts the periodic sweeper once RQ's scheduler has forked (no thread at fork),
    and skips RQ's redundant per-job Redis writes (worker heartbeats, repeated states, result logging).

    What RQ's bookkeeping is for here: the queue itself and the registries (the sweeper reads the queue
    and the scheduled registry). Job outcomes, retries and stalls live in the database, so none of the
    skipped writes carries a guarantee.
    """

    sweeper: Optional["PeriodicSweeper"] = None
    log_result_lifespan = False  # an INFO line per job about a result that is never kept (result_ttl=0)
    _last_beat: float = float("-inf")
    _beat_ttl: int = 0

    def heartbeat(self, timeout=None, pipeline=None):
        ttl = timeout or self.worker_ttl + 60
        if pipeline is None and ttl <= self._beat_ttl and time.monotonic() - self._last_beat < WORKER_HEARTBEAT_SECONDS:
            return  # the key was refreshed moments ago for at least as long
        super().heartbeat(timeout, pipeline)
        self._last_beat, self._beat_ttl = time.monotonic(), ttl

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == self._state:
            return  # SimpleWorker sets IDLE after each job and again before the next dequeue
        super().set_state(state, pipeline)

    _prepared_job_id: Optional[str] = None
    _suspension_checked: float = float("-inf")

    def check_for_suspension(self, burst):
        # `rq suspend` is read from Redis before every job; once a second is soon enough for an operator.
        if time.monotonic() - self._suspension_checked < SUSPENSION_CHECK_SECONDS:
            return
        super().check_for_suspension(burst)
        self._suspension_checked = time.monotonic()

    def prepare_execution(self, job):
        # RQ records the execution, then (prepare_job_execution) the job's start, in two round trips: one.
        from rq.executions import Execution
        from rq.utils import now
        from rq.worker import WorkerStatus

        with self.connection.pipeline() as pipeline:
            ttl = self.get_heartbeat_ttl(job)
            execution = Execution.create(job, ttl, pipeline=pipeline, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            self.heartbeat(ttl, pipeline=pipeline)
            job.heartbeat(now(), ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.persist(job.key)
            if len(self.queues) == 1:
                pipeline.lrem(self.queues[0].intermediate_queue_key, 1, job.id)
            pipeline.execute()
        self._prepared_job_id = job.id
        return execution

    def prepare_job_execution(self, job, remove_from_intermediate_queue=False):
        if self._prepared_job_id == job.id:  # done by prepare_execution
            self._prepared_job_id = None
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def handle_execution_ended(self, job, queue, heartbeat_ttl):
        # RQ writes a last job-level heartbeat into a job hash it deletes in the next step (result_ttl=0).
        from rq.utils import now

        job.ended_at = now()

    def handle_job_success(self, job, queue, started_job_registry, execution):
        # RQ's generic path reads the job's status, its executions and its dependents back (5 round trips)
        # to delete a job it knows everything about. Our task jobs have no dependents, repeats, group or
        # rate limit, and result_ttl=0: one MULTI/EXEC deletes the job and its execution records.
        from rq.job import JobStatus
        from rq.results import Result

        from shopapp.jobs.queue import TASK

        if (job.func_name != TASK or job.get_result_ttl(self.default_result_ttl) != 0 or job.repeats_left
                or job.group_id or job.has_rate_limit or job._dependency_ids):
            return super().handle_job_success(job, queue, started_job_registry, execution)
        with self.connection.pipeline() as pipeline:
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            pipeline.delete(job.key, job.dependents_key, job.dependencies_key, Result.get_key(job.id),
                            job.execution_registry.key)
            pipeline.execute()
        job._status = JobStatus.FINISHED

    def _start_scheduler(self, *args, **kwargs):
        super()._start_scheduler(*args, **kwargs)
        if self.sweeper is not None:
            self.sweeper.start()

    def teardown(self):
        if self.sweeper is not None:
            self.sweeper.stop()
        super().teardown()


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
        from shopapp.jobs.sweeper import sweep_with_lock

        while not self._stop.wait(self.interval):
            try:
                with self.app.app_context():
                    sweep_with_lock(self.app)
            except Exception as exc:  # Redis or the database may be down for a while; try again next time
                log.warning("sweep failed: %s", type(exc).__name__)


def main(processes: Optional[int] = None, burst: bool = False) -> int:
    """Entry point of `python -m shopapp worker`."""
    config = Config.from_env()
    if not config.REDIS_URL:
        raise ConfigError("REDIS_URL is not set: run `make run` or set REDIS_URL")
    count = processes or config.WORKER_PROCESSES
    if count < 1:
        raise ConfigError("--processes must be at least 1")
    if count == 1:
        return run_worker(config, burst=burst)
    return supervise(count, burst=burst)


def run_worker(config: Config, burst: bool = False) -> int:
    """Run one worker in this process until stopped (or, with `burst`, until the queue is empty)."""
    from shopapp import create_app
    from shopapp.db import get_db
    from shopapp.jobs import tasks
    from shopapp.jobs.kinds import load_kinds
    from shopapp.jobs.sweeper import sweep_with_lock

    app = create_app(config)
    tasks.set_worker_app(app)
    load_kinds(config.JOB_MODULES)
    connection = connect(config.REDIS_URL)  # its own client: RQ raises its socket timeout for blocking pops
    worker = ShopappWorker([Queue(config.QUEUE_NAME, connection=connection)], connection=connection,
                           name=f"shopapp.{socket.gethostname()}.{os.getpid()}")
    if burst:
        with app.app_context():
            try:
                sweep_with_lock(app)
            except Exception as exc:  # a burst run still drains whatever is queued
                log.warning("sweep before burst failed: %s", type(exc).__name__)
    else:
        worker.sweeper = PeriodicSweeper(app)
    get_db(app).dispose()  # no pooled connection is inherited by RQ's forked scheduler
    try:
        for generation in itertools.count(1):
            worker.work(burst=burst, with_scheduler=True, logging_level=config.LOG_LEVEL)
            if burst or _stop_was_requested(worker):
                break
            # RQ leaves its loop, without an error, on one it does not handle (Redis gone mid-command). This
            # process must not end with it (exit code 0: no process manager would restart it), or a Redis
            # restart would leave no worker at all: start a new RQ worker once Redis can be reached again.
            log.warning("RQ worker loop ended without a stop request (Redis lost?); starting again")
            try:
                time.sleep(RESTART_DELAY_SECONDS)
            except StopRequested:  # SIGTERM meanwhile, through the last worker's handler
                break
            if _stop_was_requested(worker):
                break
            worker = ShopappWorker([Queue(config.QUEUE_NAME, connection=connection)], connection=connection,
                                   name=f"shopapp.{socket.gethostname()}.{os.getpid()}.{generation}")
            worker.sweeper = PeriodicSweeper(app)
    finally:
        get_db(app).dispose()
        connection.close()
    return 0


def _stop_was_requested(worker: SimpleWorker) -> bool:
    # RQ records the time of a SIGTERM/SIGINT (warm shutdown) whether or not a job was running.
    return worker._stop_requested or worker._shutdown_requested_date is not None


def supervise(count: int, burst: bool = False) -> int:
    """Run `count` single worker processes; forward SIGTERM/SIGINT; restart one that dies (not in burst)."""
    args = [sys.executable, "-m", "shopapp", "worker", "--processes", "1"] + (["--burst"] if burst else [])
    children: list[Optional[subprocess.Popen]] = [subprocess.Popen(args) for _ in range(count)]
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()
        for child in children:
            if child is not None and child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    codes: list[int] = []
    while True:
        alive = False
        for index, child in enumerate(children):
            if child is None:
                continue
            code = child.poll()
            if code is None:
                alive = True
            elif burst or stopping.is_set():
                codes.append(code)
                children[index] = None
            else:
                print(f"shopapp worker: process {child.pid} exited with {code}; restarting", file=sys.stderr)
                time.sleep(RESTART_DELAY_SECONDS)
                children[index] = subprocess.Popen(args)
                alive = True
        if not alive:
            break
        stopping.wait(0.2)
    return max(codes, default=0)
