"""Running one job in a worker: claim it, heart-beat while the handler runs, record the outcome.

A job is claimed by a conditional update (state queued/retrying and due → running, claimed_by this
worker), so two workers never run it together. The handler's session is committed together with the
`succeeded` state, under the condition that this worker still holds the claim: if the worker stalled and
the sweeper handed the job to another worker, this worker's effect is rolled back, so the effect is
applied once. Failures retry with exponential back-off; `PermanentJobError` and cancellation fail at once.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from typing import Optional

from flask import Flask
from sqlalchemy import func, or_, update

from shopapp import logs, metrics
from shopapp.db import get_db
from shopapp.jobs import registry
from shopapp.jobs.context import JobContext
from shopapp.jobs.errors import JobCancelledError, JobLostError, PermanentJobError, UnknownJobKindError
from shopapp.jobs.heartbeat import Heartbeat
from shopapp.jobs.queue import try_enqueue
from shopapp.jobs.state import change_job, change_job_unrecorded
from shopapp.models import Job, JobState, WebhookEvent, WebhookStatus, utcnow

log = logging.getLogger(__name__)

# Tolerance for a retry enqueued a little before its run_after (clock skew between machines).
DUE_SLACK_SECONDS = 0.5
MAX_ERROR_CHARS = 2000

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def worker_id() -> str:
    """This process's claim name (host:pid); recomputed after a fork."""
    global WORKER_ID
    current = f"{socket.gethostname()}:{os.getpid()}"
    if current != WORKER_ID:
        WORKER_ID = current
    return WORKER_ID


def backoff_delay(app: Flask, attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: JOB_BACKOFF_SECONDS doubling per attempt, capped."""
    base, cap = app.config["JOB_BACKOFF_SECONDS"], app.config["JOB_BACKOFF_MAX_SECONDS"]
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


def run_job(app: Flask, job_id: int) -> Optional[str]:
    """Claim and run Job `job_id`; returns its resulting state, or None when it was not ours to run."""
    me = worker_id()
    db = get_db(app)
    with db.session() as session:
        now = utcnow()
        # The `running` event is published at once; its published_version record rides on the finish.
        job, published = change_job_unrecorded(
            session, job_id, app=app,
            expect={"state": (JobState.QUEUED.value, JobState.RETRYING.value)},
            where=[or_(Job.run_after.is_(None), Job.run_after <= now + timedelta(seconds=DUE_SLACK_SECONDS))],
            state=JobState.RUNNING, claimed_by=me, heartbeat_at=now, attempts=Job.attempts + 1,
            message="running", run_after=None, started_at=func.coalesce(Job.started_at, now))
        if job is None:
            log.debug("job not claimable (taken, finished or not due)", extra={"job_id": job_id})
            return None
        # request_id: the request that created the job (the delivery, POST /api/jobs), as its web lines say.
        extra = {"job_id": job.id, "shop": job.shop_domain, "topic": job.topic, "webhook_id": job.webhook_id,
                 "request_id": job.request_id}
        log.info("job claimed (attempt %d)", job.attempts, extra=extra)
        published_version = job.version if published else None
        heartbeat = Heartbeat(app, job_id, me)
        heartbeat.start()
        started, outcome = time.monotonic(), "error"
        try:
            result = _execute(app, session, job, me, extra, published_version)
            outcome = result or "discarded"  # None: another worker took the job over
            return result
        finally:
            heartbeat.stop()
            metrics.job_finished(job.kind, outcome, time.monotonic() - started)


def _execute(app: Flask, session, job: Job, me: str, extra: dict, published: Optional[int]) -> Optional[str]:
    event = session.get(WebhookEvent, job.webhook_event_id) if job.webhook_event_id else None
    ctx = JobContext(app, session, job_id=job.id, shop=job.shop_domain, kind=job.kind, worker_id=me,
                     params=job.params, payload=event.payload if event else None, topic=job.topic,
                     webhook_id=job.webhook_id, triggered_at=event.triggered_at if event else None,
                     attempt=job.attempts)
    started = time.monotonic()
    try:
        with logs.bind(**extra):  # the handler's own lines carry the job's context too
            message = registry.kind(job.kind).handler(ctx)
    except JobLostError:
        session.rollback()
        log.warning("job taken over by another worker; this attempt's work is discarded", extra=extra)
        return None
    except JobCancelledError:
        session.rollback()
        return _finish(app, session, job, me, extra, published, JobState.FAILED, error="cancelled",
                       message="cancelled")
    except (PermanentJobError, UnknownJobKindError) as exc:
        session.rollback()
        return _finish(app, session, job, me, extra, published, JobState.FAILED, error=_error_text(exc),
                       message="failed")
    except Exception as exc:  # any handler failure is retried; the error text is kept on the job
        session.rollback()
        log.warning("job attempt %d failed: %s", job.attempts, type(exc).__name__, extra=extra, exc_info=True)
        if job.attempts >= job.max_attempts:
            return _finish(app, session, job, me, extra, published, JobState.FAILED, error=_error_text(exc),
                           message=f"failed after {job.attempts} attempts")
        delay = backoff_delay(app, job.attempts)
        retried = change_job(session, job.id, app=app, expect={"state": JobState.RUNNING.value, "claimed_by": me},
                             published=published,
                             state=JobState.RETRYING, error=_error_text(exc), claimed_by=None, heartbeat_at=None,
                             run_after=utcnow() + _seconds(delay),
                             message=f"attempt {job.attempts} of {job.max_attempts} failed; retrying in {delay:g}s")
        if retried is not None:
            try_enqueue(app, job.id, version=retried.version, delay=delay)
            return JobState.RETRYING.value
        return None
    status = WebhookStatus.IGNORED if ctx.ignored else WebhookStatus.PROCESSED
    result = _finish(app, session, job, me, extra, published, JobState.SUCCEEDED,
                     message=(message or "done")[:1000], webhook_status=status)
    if result is not None:
        for callback in ctx.after_commit_callbacks:
            try:
                callback()
            except Exception as exc:  # the job's effect is committed; a failed notification is only logged
                log.warning("after-commit callback failed: %s", type(exc).__name__, extra=extra)
        log.info("job succeeded in %.1f ms", (time.monotonic() - started) * 1000,
                 extra=dict(extra, duration_ms=round((time.monotonic() - started) * 1000, 1)))
    return result


def _finish(app: Flask, session, job: Job, me: str, extra: dict, published: Optional[int], state: JobState, *,
            message: str,
            error: Optional[str] = None, webhook_status: Optional[WebhookStatus] = None) -> Optional[str]:
    """The final change, only while this worker still holds the claim (else the pending work is discarded)."""
    if job.webhook_event_id:
        status = webhook_status or (WebhookStatus.FAILED if state == JobState.FAILED else WebhookStatus.PROCESSED)
        # REDACTED stays REDACTED: a compliance request may have emptied this event meanwhile.
        session.execute(update(WebhookEvent)
                        .where(WebhookEvent.id == job.webhook_event_id,
                               WebhookEvent.status != WebhookStatus.REDACTED.value)
                        .values(status=status.value).execution_options(synchronize_session=False))
    done = change_job(session, job.id, app=app, expect={"state": JobState.RUNNING.value, "claimed_by": me},
                      published=published, state=state, message=message, error=error, claimed_by=None,
                      heartbeat_at=None, finished_at=utcnow(),
                      progress=100 if state == JobState.SUCCEEDED else job.progress)
    if done is None:
        session.rollback()
        log.warning("job taken over by another worker before it finished; this attempt's work is discarded",
                    extra=extra)
        return None
    if state == JobState.FAILED:
        log.warning("job failed: %s", (error or "")[:200], extra=extra)
    return state.value


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (PermanentJobError,)) else str(exc)
    return text[:MAX_ERROR_CHARS]
