"""The sweeper: nothing committed is left behind when Redis or a worker failed.

One pass (`sweep`):
1. hands a `running` job whose worker stopped heart-beating for JOB_STALL_SECONDS to another worker
   (`retrying`, enqueued now), or fails it when it used up its attempts or the merchant cancelled it;
2. enqueues every due `queued`/`retrying` job that is on no RQ queue (Redis was down at ingestion, lost its
   data, or a worker died between dequeue and claim);
3. republishes jobs whose last change did not reach Redis (`published_version < version`).
Workers run it every SWEEP_INTERVAL_SECONDS, one at a time across machines (a Redis lock);
`python -m shopapp sweep` runs one pass by hand.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import redis
from flask import Flask
from sqlalchemy import and_, or_, select, update

from shopapp import redis_keys
from shopapp.db import get_db
from shopapp.events.publishing import publish_jobs
from shopapp.jobs import registry
from shopapp.jobs.queue import enqueue, get_queue, job_id_of
from shopapp.jobs.registry import LANES
from shopapp.jobs.rq_adapter import waiting_job_ids
from shopapp.jobs.state import change_job, record_attempt
from shopapp.models import Job, JobState, utcnow
from shopapp.redis_client import get_redis

log = logging.getLogger(__name__)

# A job changed this recently may still be on its way to the queue (enqueue follows the commit).
ENQUEUE_GRACE_SECONDS = 1.0
BATCH = 500
# How long one pass may spend recording published changes (the next pass goes on).
REPUBLISH_BUDGET_SECONDS = 2.0


@dataclass
class SweepReport:
    """What one pass did."""

    stalled: int = 0
    enqueued: int = 0
    republished: int = 0

    def __str__(self) -> str:
        return (f"{self.stalled} stalled jobs handed over, {self.enqueued} jobs enqueued, "
                f"{self.republished} job events republished")


def sweep(app: Flask, grace_seconds: float = ENQUEUE_GRACE_SECONDS) -> SweepReport:
    """One pass over the database (see the module docstring). Raises redis.RedisError when Redis is down."""
    report = SweepReport()
    with get_db(app).session() as session:
        report.stalled = _hand_over_stalled(app, session)
        report.enqueued = _enqueue_missing(app, session, grace_seconds)
        report.republished = _republish(app, session, grace_seconds)
    if report.stalled or report.enqueued or report.republished:
        log.info("sweep: %s", report)
    return report


def sweep_with_lock(app: Flask, client: Optional[redis.Redis] = None) -> Optional[SweepReport]:
    """`sweep`, then the engine's periodic hooks (e.g. scheduling reconciles), unless another process is
    sweeping (redis_keys.sweeper_lock()); None when skipped. A failing hook is logged, never raised."""
    client = client or get_redis(app)
    ttl = max(10.0, app.config["SWEEP_INTERVAL_SECONDS"] * 4)
    lock = client.lock(redis_keys.sweeper_lock(), timeout=ttl, blocking=False)
    if not lock.acquire(blocking=False):
        return None
    try:
        report = sweep(app)
        for periodic in registry.hooks("periodic"):
            try:
                periodic(app)
            except Exception as exc:  # the next pass tries again; the sweep itself is done
                log.warning("periodic task %s failed: %s", getattr(periodic, "__name__", periodic),
                            type(exc).__name__)
        return report
    finally:
        with contextlib.suppress(redis.exceptions.LockError):  # expired meanwhile; the next pass takes it again
            lock.release()


def _hand_over_stalled(app: Flask, session) -> int:
    cutoff = utcnow() - timedelta(seconds=app.config["JOB_STALL_SECONDS"])
    stalled = session.execute(
        select(Job.id, Job.kind, Job.claimed_by, Job.heartbeat_at, Job.attempts, Job.max_attempts,
               Job.cancel_requested, Job.attempt_started_at)
        .where(Job.state == JobState.RUNNING.value,
               or_(Job.heartbeat_at < cutoff, and_(Job.heartbeat_at.is_(None), Job.updated_at < cutoff)))
        .limit(BATCH)).all()
    count = 0
    for job_id, kind, claimed_by, heartbeat_at, attempts, max_attempts, cancel_requested, attempt_started_at in stalled:
        expect = {"state": JobState.RUNNING.value, "claimed_by": claimed_by, "heartbeat_at": heartbeat_at}
        record_attempt(session, job_id, attempts, attempt_started_at,
                       "cancelled" if cancel_requested else "stalled", f"the worker stopped responding ({claimed_by})")
        if cancel_requested:  # the merchant cancelled it while it ran: it never runs again
            job = change_job(session, job_id, app=app, expect=expect, state=JobState.FAILED, claimed_by=None,
                             heartbeat_at=None, finished_at=utcnow(), error="cancelled", message="cancelled")
        elif attempts >= max_attempts:
            job = change_job(session, job_id, app=app, expect=expect, state=JobState.FAILED, claimed_by=None,
                             heartbeat_at=None, finished_at=utcnow(),
                             error=f"the worker stopped responding ({attempts} attempts)",
                             message=f"failed after {attempts} attempts")
        else:
            job = change_job(session, job_id, app=app, expect=expect, state=JobState.RETRYING, claimed_by=None,
                             heartbeat_at=None, run_after=None,
                             message="the worker stopped responding; handed to another worker")
            if job is not None:
                enqueue(app, job.id, kind=kind, version=job.version)
        if job is None:  # another sweeper or the worker itself changed it meanwhile: drop the attempt record
            session.rollback()
            continue
        count += 1
        log.warning("stalled job handed over (worker %s)", claimed_by, extra={"job_id": job_id,
                                                                              "shop": job.shop_domain})
    return count


def _enqueue_missing(app: Flask, session, grace_seconds: float) -> int:
    now = utcnow()
    candidates = session.execute(
        select(Job.id, Job.kind, Job.version)
        .where(Job.state.in_([JobState.QUEUED.value, JobState.RETRYING.value]),
               or_(Job.run_after.is_(None), Job.run_after <= now),
               Job.updated_at <= now - timedelta(seconds=grace_seconds))
        .order_by(Job.id).limit(BATCH)).all()
    if not candidates:
        return 0
    on_queue = _ids_on_queue(app)
    count = 0
    for job_id, kind, version in candidates:
        if job_id in on_queue:
            continue
        enqueue(app, job_id, kind=kind, version=version)
        session.execute(update(Job).where(Job.id == job_id).values(enqueued_at=utcnow())
                        .execution_options(synchronize_session=False))
        session.commit()
        count += 1
        log.info("job enqueued by the sweeper", extra={"job_id": job_id})
    return count


def _ids_on_queue(app: Flask) -> set[int]:
    """Job ids with an RQ job waiting on a lane's queue or in its scheduler's registry."""
    rq_ids = [rq_id for lane in LANES for rq_id in waiting_job_ids(get_queue(app, lane))]
    return {job_id for job_id in map(job_id_of, rq_ids) if job_id is not None}


def _republish(app: Flask, session, grace_seconds: float) -> int:
    """Publish again (a no-op in Redis for what got there) and record every change whose publish is not
    recorded yet: after an outage, and the last change of every job (its publish is recorded only here).
    BATCH jobs per round trip and transaction, until none is left or REPUBLISH_BUDGET_SECONDS have passed."""
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    deadline = time.monotonic() + REPUBLISH_BUDGET_SECONDS
    total = 0
    while True:
        jobs = session.scalars(select(Job).where(Job.published_version < Job.version, Job.updated_at <= cutoff)
                               .order_by(Job.id).limit(BATCH)).all()
        done = publish_jobs(app, session, list(jobs))
        total += done
        if done < BATCH or time.monotonic() > deadline:
            return total
