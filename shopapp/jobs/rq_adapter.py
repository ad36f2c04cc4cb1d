"""Every use of RQ's internals, in one place: the seam between shopapp's job engine and RQ.

RQ is the queue (Redis lists and registries), its scheduler (delayed retries) and its worker loop. Three
measured shortcuts go past its public API, each checked against RQ's own path in tests/test_queue.py and
tests/test_rq_adapter.py:
- `copy_jobs`: new jobs are put on a queue as copies of one job hash that RQ built (a Lua script writes
  them), instead of RQ building and serializing a `Job` per job (`enqueue_many`: ~50 us each, as much as
  the rest of a webhook's ingestion);
- `ShopappWorker`: RQ's per-job Redis writes that carry no guarantee here are skipped (job outcomes,
  retries and stalls live in the database), and a finished job is deleted in one MULTI/EXEC;
- `queue_depths`: the sizes of a queue's list and registries, read from the key names RQ gives them.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Optional

import redis
from rq import Queue, SimpleWorker
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.timeouts import BaseDeathPenalty

from shopapp.lua_scripts import LuaScript, execute

# RQ refreshes its worker key (HSET + 2 EXPIREs) three times per job; the key lives worker_ttl + 60 s
# (480 s), so a refresh more often than this only costs round trips.
WORKER_HEARTBEAT_SECONDS = 5.0
SUSPENSION_CHECK_SECONDS = 1.0

# KEYS: the queue's list, the set of queues, one job hash key per job. ARGV: the number of template fields,
# the template's field/value pairs, then (RQ job id, description) per job.
_COPY_JOBS = """
local nfields = tonumber(ARGV[1])
local template = {}
for i = 2, 1 + 2 * nfields do template[#template + 1] = ARGV[i] end
redis.call('SADD', KEYS[2], KEYS[1])
local arg = 2 + 2 * nfields
for k = 3, #KEYS do
  redis.call('HSET', KEYS[k], 'description', ARGV[arg + 1], unpack(template))
  redis.call('RPUSH', KEYS[1], ARGV[arg])
  arg = arg + 2
end
return #KEYS - 2
"""
_COPY_SCRIPT = LuaScript(_COPY_JOBS)


def copy_jobs(queue: Queue, task: str, jobs: Sequence[tuple[str, str]], *, timeout: int, failure_ttl: int,
              pipe: Optional[redis.client.Pipeline] = None) -> None:
    """Put jobs on `queue` as copies of one job hash that RQ builds for `task` (no arguments, result_ttl 0).

    `jobs`: (RQ job id, description) pairs. The hash is `Job.create(...).to_dict()`, the fields and
    serialization of `enqueue_call`; the script writes each copy as RQ writes a new job without
    dependencies: the hash, its id pushed on the queue's list, the queue added to the set of queues. The
    template crosses the network once per call. Raises redis.RedisError. With `pipe`, the copies are added
    to it instead (run by `lua_scripts.execute(pipe)`, with whatever else that round trip carries).
    """
    if not jobs:
        return
    template = RQJob.create(task, connection=queue.connection, id="template", timeout=timeout, result_ttl=0,
                            failure_ttl=failure_ttl, origin=queue.name, status=JobStatus.QUEUED)
    template.enqueued_at = template.created_at
    fields = [item for name, value in template.to_dict().items() if name != "description" for item in (name, value)]
    args: list = [len(fields) // 2, *fields]
    for rq_id, description in jobs:
        args += (rq_id, description)
    keys = [queue.key, queue.redis_queues_keys, *(RQJob.key_for(i) for i, _ in jobs)]
    if pipe is None:
        _COPY_SCRIPT(queue.connection, keys, args)
    else:
        _COPY_SCRIPT.queue(pipe, keys, args)


def current_job_id() -> Optional[str]:
    """The RQ id of the job this worker is running, or None outside a job."""
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None


def waiting_job_ids(queue: Queue) -> list[str]:
    """RQ ids of the jobs waiting on `queue`'s list or in its scheduler's registry."""
    return list(queue.get_job_ids()) + list(queue.scheduled_job_registry.get_job_ids())


def queue_depths(connection: redis.Redis, queue_names: Sequence[str]) -> dict[tuple[str, str], int]:
    """{(queue, state): size} for state queued, scheduled, started and failed, in one round trip (read only:
    RQ's `count` properties would first clean the registries up). Raises redis.RedisError."""
    states = ("queued", "scheduled", "started", "failed")
    pipe = connection.pipeline(transaction=False)
    for name in queue_names:
        queue = Queue(name, connection=connection)
        pipe.llen(queue.key)
        for registry in (queue.scheduled_job_registry, queue.started_job_registry, queue.failed_job_registry):
            pipe.zcard(registry.key)
    values = iter(pipe.execute())
    return {(name, state): next(values) for name in queue_names for state in states}


class _EngineTimeLimits(BaseDeathPenalty):
    """No RQ job timeout: the engine enforces each job's own limit around its handler (jobs/timelimit.py)."""

    def setup_death_penalty(self):
        pass

    def cancel_death_penalty(self):
        pass


class ShopappWorker(SimpleWorker):
    """RQ's non-forking worker with the per-job Redis writes that carry no guarantee here skipped.

    What RQ's bookkeeping is for here: the queue itself and the registries (the sweeper reads the queue
    and the scheduled registry). Job outcomes, retries and stalls live in the database. Calls `on_start()`
    once RQ's scheduler has forked (no thread may exist at that fork) and `on_stop()` at teardown.
    """

    log_result_lifespan = False  # an INFO line per job about a result that is never kept (result_ttl=0)
    death_penalty_class = _EngineTimeLimits
    on_start = None
    on_stop = None
    # What rides on the MULTI that marks a job done: `hold()` when a job starts, `board(pipe)` before that
    # MULTI runs, `arrived()` after, `release()` when the job ended (whatever the outcome).
    rider = None
    _last_beat: float = float("-inf")
    _beat_ttl: int = 0
    _prepared_job_id: Optional[str] = None
    _suspension_checked: float = float("-inf")

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
        # to delete a job it knows everything about. Jobs with no dependents, repeats, group or rate limit,
        # and result_ttl=0: one MULTI/EXEC deletes the job and its execution records, sets the worker idle
        # and carries the `rider`'s commands (the job's last event).
        from rq.results import Result
        from rq.worker import WorkerStatus

        if (job.get_result_ttl(self.default_result_ttl) != 0 or job.repeats_left or job.group_id
                or job.has_rate_limit or job._dependency_ids):
            return super().handle_job_success(job, queue, started_job_registry, execution)
        with self.connection.pipeline() as pipeline:
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            pipeline.delete(job.key, job.dependents_key, job.dependencies_key, Result.get_key(job.id),
                            job.execution_registry.key)
            # RQ sets the worker idle with a round trip of its own before the next dequeue: it rides here.
            self.set_state(WorkerStatus.IDLE, pipeline=pipeline)
            if self.rider is not None:
                self.rider.board(pipeline)
            execute(pipeline)
            if self.rider is not None:
                self.rider.arrived()
        job._status = JobStatus.FINISHED

    def perform_job(self, job, queue, execution):
        if self.rider is None:
            return super().perform_job(job, queue, execution)
        self.rider.hold()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            self.rider.release()

    def _start_scheduler(self, *args, **kwargs):
        super()._start_scheduler(*args, **kwargs)
        if self.on_start is not None:
            self.on_start()

    def teardown(self):
        if self.on_stop is not None:
            self.on_stop()
        super().teardown()

    @property
    def stop_requested(self) -> bool:
        """RQ recorded a SIGTERM/SIGINT (warm shutdown), whether or not a job was running."""
        return bool(self._stop_requested or self._shutdown_requested_date is not None)
