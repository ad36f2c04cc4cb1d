"""Putting jobs on the RQ queues, and the merchant-facing job operations (start, retry, cancel).

Each lane has its own RQ queue (`<QUEUE_NAME>.webhooks`, `<QUEUE_NAME>.merchant`), chosen by the job's
kind, so that workers can take webhook jobs first and a long merchant job never holds one back.
RQ job ids are derived from the Job id (`job-<id>` for the first enqueue, `job-<id>_<version>` for
later ones) so that the sweeper can tell which committed jobs are on a queue. The row is always
committed before the RQ job exists (a fast worker must find it); if Redis is down the row stays and the
sweeper enqueues it later.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Optional

import redis
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from shopapp import logs
from shopapp.db import get_db
from shopapp.events.publishing import publish_job
from shopapp.jobs import registry
from shopapp.jobs.errors import JobNotCancellableError, JobNotFoundError, JobNotRetryableError, UnknownJobKindError
from shopapp.jobs.rq_adapter import copy_jobs
from shopapp.jobs.state import change_job
from shopapp.models import Job, JobState, utcnow
from shopapp.redis_client import get_redis

log = logging.getLogger(__name__)

TASK = "shopapp.jobs.tasks.run_job"
# RQ's own timeout is not enforced (the engine's time limits are, see timelimit.py); RQ only uses it for the
# life of its started-registry entries, so it is longer than any time limit.
TASK_TIMEOUT_SECONDS = 86400
# How long RQ keeps a failed RQ job around (its outcome lives in the database anyway).
FAILURE_TTL_SECONDS = 86400
_RQ_ID = re.compile(r"^job-(\d+)(?:_\d+)?$")


def queue_name(app: Flask, lane: str) -> str:
    """The RQ queue of `lane`: `<QUEUE_NAME>.<lane>`."""
    return f"{app.config['QUEUE_NAME']}.{lane}"


def queue_names(app: Flask) -> list[str]:
    """Every lane's queue, webhooks first."""
    return [queue_name(app, lane) for lane in registry.LANES]


def lane_of(kind: Optional[str]) -> str:
    """The lane of a job kind (a kind this process does not know waits in the merchant lane)."""
    try:
        return registry.kind(kind).lane if kind else registry.MERCHANT_LANE
    except UnknownJobKindError:
        return registry.MERCHANT_LANE


def get_queue(app: Flask, lane: str = registry.WEBHOOKS_LANE, connection: Optional[redis.Redis] = None) -> Queue:
    """The RQ queue of `lane` on the app's Redis client (or on `connection`)."""
    if connection is not None:
        return Queue(queue_name(app, lane), connection=connection)
    queues = app.extensions.setdefault("shopapp.rq_queues", {})
    queue = queues.get(lane)
    if queue is None:
        queue = queues[lane] = Queue(queue_name(app, lane), connection=get_redis(app))
    return queue


def rq_job_id(job_id: int, version: Optional[int] = None) -> str:
    """The RQ job id for Job `job_id` (`version` distinguishes re-enqueues of the same Job)."""
    return f"job-{job_id}" if version is None else f"job-{job_id}_{version}"


def job_id_of(rq_id: str) -> Optional[int]:
    """The Job id an RQ job id was derived from, or None for RQ jobs that are not ours."""
    match = _RQ_ID.match(rq_id)
    return int(match.group(1)) if match else None


def enqueue(app: Flask, job_id: int, *, kind: Optional[str], version: Optional[int] = None,
            delay: float = 0.0) -> str:
    """Put Job `job_id` (of `kind`) on its lane's queue (after `delay` seconds, via RQ's scheduler);
    returns the RQ id.

    Raises redis.RedisError when Redis is unreachable; callers that already committed the row log it and
    leave the job to the sweeper.
    """
    queue = get_queue(app, lane_of(kind))
    rq_id = rq_job_id(job_id, version)
    options = dict(job_id=rq_id, result_ttl=0, failure_ttl=FAILURE_TTL_SECONDS)
    if delay > 0:
        queue.enqueue_in(timedelta(seconds=delay), TASK, job_id, job_timeout=TASK_TIMEOUT_SECONDS, **options)
    else:
        queue.enqueue_call(TASK, args=(job_id,), timeout=TASK_TIMEOUT_SECONDS, **options)
    return rq_id


def enqueue_batch(app: Flask, job_ids: Sequence[int], lane: str = registry.WEBHOOKS_LANE,
                  pipe: Optional[redis.client.Pipeline] = None) -> None:
    """Put many new Jobs of one lane on its queue in one atomic step, at a fraction of RQ's per-job cost.

    Each is a copy of one job hash RQ builds for the batch (`rq_adapter.copy_jobs`), whose task takes no
    argument and finds its Job id in the RQ job id (`job-<id>`, see `tasks.run_job`). Raises
    redis.RedisError when Redis is unreachable (the committed rows wait for the sweeper). With `pipe`, the
    jobs ride on that pipeline's round trip instead (`lua_scripts.execute(pipe)` runs it).
    """
    copy_jobs(get_queue(app, lane), TASK, [(rq_job_id(job_id), f"{TASK}({job_id})") for job_id in job_ids],
              timeout=TASK_TIMEOUT_SECONDS, failure_ttl=FAILURE_TTL_SECONDS, pipe=pipe)


def try_enqueue(app: Flask, job_id: int, *, kind: Optional[str], version: Optional[int] = None,
                delay: float = 0.0) -> bool:
    """`enqueue`, but a Redis failure is logged and answered False (the committed row waits for the sweeper)."""
    try:
        enqueue(app, job_id, kind=kind, version=version, delay=delay)
        return True
    except redis.RedisError as exc:
        log.warning("job not enqueued, the sweeper will: %s", type(exc).__name__, extra={"job_id": job_id})
        return False


def start_merchant_job(app: Flask, shop: str, kind: str, params: Optional[dict] = None) -> dict:
    """Create, commit and enqueue a job of `kind` for `shop`; returns the contract's job dict.

    A kind registered `single_per_shop` that has a waiting or running job of `shop` gets that job back
    instead of a second one. Raises UnknownJobKindError for a kind that is not registered or that only the
    engine starts. Works when Redis is down (the job is committed and the sweeper enqueues it).
    """
    registration = registry.kind(kind)
    if not registration.merchant:
        raise UnknownJobKindError(f"job kind {kind!r} is not started by merchants")
    with get_db(app).session() as session:
        if registration.single_per_shop:
            active = session.scalars(select(Job).where(
                Job.shop_domain == shop, Job.kind == kind,
                Job.state.in_((JobState.QUEUED.value, JobState.RUNNING.value, JobState.RETRYING.value)))
                .order_by(Job.id.desc()).limit(1)).first()
            if active is not None:
                return active.to_dict()
            session.rollback()
        job = Job(shop_domain=shop, kind=kind, state=JobState.QUEUED.value, params=params or {},
                  max_attempts=app.config["JOB_MAX_ATTEMPTS"], message="queued", request_id=logs.request_id())
        session.add(job)
        session.commit()
        publish_job(app, session, job)
        try_enqueue(app, job.id, kind=kind)
        log.info("merchant job started", extra={"shop": shop, "job_id": job.id})
        return job.to_dict()


def retry_job(app: Flask, shop: Optional[str], job_id: int) -> dict:
    """Put a `failed` job of `shop` (any shop when None: the CLI) back on the queue; returns its job dict.

    Raises JobNotFoundError when the job does not exist for that shop, JobNotRetryableError when it is
    not failed.
    """
    with get_db(app).session() as session:
        expect = {"state": JobState.FAILED.value}
        if shop is not None:
            expect["shop_domain"] = shop
        job = change_job(session, job_id, app=app, expect=expect, state=JobState.QUEUED, attempts=0,
                         progress=0, error=None, message="retry requested", cancel_requested=False,
                         claimed_by=None, heartbeat_at=None, run_after=None, finished_at=None)
        if job is None:
            current = _find(session, shop, job_id)
            raise JobNotRetryableError(f"job {job_id} is {current.state}; only a failed job can be retried")
        try_enqueue(app, job.id, kind=job.kind, version=job.version)
        log.info("job retry requested", extra={"shop": job.shop_domain, "job_id": job.id})
        return job.to_dict()


def retry_failed(app: Flask, shop: str, limit: int) -> tuple[list[dict], int]:
    """Put up to `limit` of `shop`'s failed jobs (oldest first) back on the queue; returns their job dicts
    and how many failed jobs are left that this call did not take. Each retry is the conditional change of
    `retry_job`, so a second call (a double click) retries nothing twice."""
    with get_db(app).session() as session:
        ids = session.scalars(select(Job.id).where(Job.shop_domain == shop, Job.state == JobState.FAILED.value)
                              .order_by(Job.id).limit(limit)).all()
        session.rollback()
    retried = []
    for job_id in ids:
        try:
            retried.append(retry_job(app, shop, job_id))
        except (JobNotFoundError, JobNotRetryableError):  # retried or deleted meanwhile
            continue
    # Left over are the failed jobs this call did not take: one it retried may already have failed again
    # (a job that fails at once, like a catch-up without a token), and is shown live by its own row.
    with get_db(app).session() as session:
        remaining = session.scalar(select(func.count()).select_from(Job).where(
            Job.shop_domain == shop, Job.state == JobState.FAILED.value, Job.id.not_in(ids)))
    return retried, int(remaining or 0)


def cancel_job(app: Flask, shop: str, job_id: int) -> dict:
    """Cancel a job of `shop`: a waiting job fails at once ("cancelled"); a running one is asked to stop
    (its handler sees it at the next `ctx.check_cancelled()`). Returns the job dict.

    Raises JobNotFoundError, or JobNotCancellableError for a finished job.
    """
    with get_db(app).session() as session:
        job = change_job(session, job_id, app=app,
                         expect={"shop_domain": shop, "state": (JobState.QUEUED.value, JobState.RETRYING.value)},
                         state=JobState.FAILED, error="cancelled", message="cancelled",
                         finished_at=utcnow(), run_after=None)
        if job is None:
            job = change_job(session, job_id, app=app,
                             expect={"shop_domain": shop, "state": JobState.RUNNING.value,
                                     "cancel_requested": False},
                             cancel_requested=True, message="cancelling")
        if job is None:
            current = _find(session, shop, job_id)
            if current.state == JobState.RUNNING.value:
                return current.to_dict()  # already asked to cancel
            raise JobNotCancellableError(f"job {job_id} is {current.state}; it cannot be cancelled")
        return job.to_dict()


def _find(session, shop: Optional[str], job_id: int) -> Job:
    stmt = select(Job).where(Job.id == job_id)
    if shop is not None:
        stmt = stmt.where(Job.shop_domain == shop)
    job = session.scalars(stmt).first()
    if job is None:
        raise JobNotFoundError(f"no job {job_id}" + (f" for {shop}" if shop else ""))
    return job
