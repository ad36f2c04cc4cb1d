"""Running one job in a worker: claim it, heart-beat while the handler runs, record the outcome.

A job is claimed by a conditional update (state queued/retrying and due → running, claimed_by this
worker), so two workers never run it together. The handler's session is committed together with the
`succeeded` state, under the condition that this worker still holds the claim: if the worker stalled and
the sweeper handed the job to another worker, this worker's effect is rolled back, so the effect is
applied once. Every attempt runs within its time limit (`shopapp.jobs.timelimit`).

An attempt fails when its handler raises, when it runs past its time limit, and when the database refuses
its result at the commit (a value it cannot store, a constraint): in each case the real error is kept and
the job is retried with exponential back-off up to JOB_MAX_ATTEMPTS. `PermanentJobError` fails it at once.
A job the merchant cancelled never runs its handler again: a claim, a retry or a takeover of a cancelled
job ends it `failed` ("cancelled").
"""
from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from typing import Optional

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from shopapp import logs, metrics
from shopapp.db import get_db
from shopapp.jobs import registry
from shopapp.jobs.context import JobContext
from shopapp.jobs.errors import JobCancelledError, JobLostError, JobTimeoutError, PermanentJobError, UnknownJobKindError
from shopapp.jobs.heartbeat import Heartbeat
from shopapp.jobs.queue import try_enqueue
from shopapp.jobs.state import INCREMENT, IfUnset, change_job, change_job_published, record_attempt
from shopapp.jobs.timelimit import HARD_LIMIT_GRACE_SECONDS, TimeLimit, limit_for
from shopapp.models import Job, JobState, WebhookEvent, WebhookStatus, utcnow

log = logging.getLogger(__name__)

# Tolerance for a retry enqueued a little before its run_after (clock skew between machines).
DUE_SLACK_SECONDS = 0.5
MAX_ERROR_CHARS = 2000
CANCELLED = "cancelled"
# Exit code of a worker process that gave up on a handler past its hard limit (its supervisor restarts it).
EXIT_HARD_LIMIT = 75

# Set by the worker command: past the hard limit the process exits (a test process only records it).
exit_on_hard_limit = False

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


class _Attempt:
    """One claimed attempt: the job, this worker, and what was published but not yet recorded."""

    def __init__(self, app: Flask, session, job: Job, me: str, published: Optional[int]):
        self.app, self.session, self.job, self.me, self.published = app, session, job, me, published
        self.started_at = job.attempt_started_at
        # request_id: the request that created the job (the delivery, POST /api/jobs), as its web lines say.
        self.extra = {"job_id": job.id, "shop": job.shop_domain, "topic": job.topic, "webhook_id": job.webhook_id,
                      "request_id": job.request_id}


def run_job(app: Flask, job_id: int) -> Optional[str]:
    """Claim and run Job `job_id`; returns its resulting state, or None when it was not ours to run."""
    me = worker_id()
    with get_db(app).session() as session:
        now = utcnow()
        # The `running` event is published at once; its published_version record rides on the finish.
        job, published = change_job_published(
            session, job_id, app=app,
            expect={"state": (JobState.QUEUED.value, JobState.RETRYING.value)},
            due_by=now + timedelta(seconds=DUE_SLACK_SECONDS),
            state=JobState.RUNNING, claimed_by=me, heartbeat_at=now, attempts=INCREMENT,
            message="running", run_after=None, started_at=IfUnset(now), attempt_started_at=now)
        if job is None:
            log.debug("job not claimable (taken, finished or not due)", extra={"job_id": job_id})
            return None
        attempt = _Attempt(app, session, job, me, job.version if published else None)
        log.info("job claimed (attempt %d)", job.attempts, extra=attempt.extra)
        if job.cancel_requested:  # cancelled while it ran before (its worker died): never run it again
            return _finish(attempt, JobState.FAILED, error=CANCELLED, message=CANCELLED)
        try:
            limit = limit_for(app, job.kind, job.topic)
        except UnknownJobKindError as exc:
            return _finish(attempt, JobState.FAILED, error=_error_text(exc), message="failed")
        started, outcome = time.monotonic(), "error"
        heartbeat = Heartbeat(app, job_id, me, expires_at=started + limit + HARD_LIMIT_GRACE_SECONDS,
                              on_expire=lambda: _give_up(app, job, me, limit))
        heartbeat.start()
        try:
            result = _execute(attempt, limit)
            outcome = result or "discarded"  # None: another worker took the job over
            return result
        finally:
            heartbeat.stop()
            metrics.job_finished(job.kind, outcome, time.monotonic() - started)


def _execute(attempt: _Attempt, limit: float) -> Optional[str]:
    app, session, job = attempt.app, attempt.session, attempt.job
    event = session.get(WebhookEvent, job.webhook_event_id) if job.webhook_event_id else None
    ctx = JobContext(app, session, job_id=job.id, shop=job.shop_domain, kind=job.kind, worker_id=attempt.me,
                     params=job.params, payload=event.payload if event else None, topic=job.topic,
                     webhook_id=job.webhook_id, triggered_at=event.triggered_at if event else None,
                     attempt=job.attempts)
    started = time.monotonic()
    try:
        with TimeLimit(limit), logs.bind(**attempt.extra):  # the handler's own lines carry the job's context
            message = registry.kind(job.kind).handler(ctx)
    except JobLostError:
        _rollback(session)
        log.warning("job taken over by another worker; this attempt's work is discarded", extra=attempt.extra)
        return None
    except JobCancelledError:
        _rollback(session)
        return _finish(attempt, JobState.FAILED, error=CANCELLED, message=CANCELLED)
    except (PermanentJobError, UnknownJobKindError) as exc:
        _rollback(session)
        return _finish(attempt, JobState.FAILED, error=_error_text(exc), message="failed")
    except Exception as exc:  # any other failure of the handler, its time limit included, is retried
        _rollback(session)
        return _failed_attempt(attempt, exc)
    status = WebhookStatus.IGNORED if ctx.ignored else WebhookStatus.PROCESSED
    try:
        result = _finish(attempt, JobState.SUCCEEDED, message=(message or "done")[:1000], webhook_status=status)
    except Exception as exc:  # the database refused the result: the attempt failed, with the real error
        _rollback(session)
        return _failed_attempt(attempt, exc)
    if result is not None:
        for callback in ctx.after_commit_callbacks:
            try:
                callback()
            except Exception as exc:  # the job's effect is committed; a failed notification is only logged
                log.warning("after-commit callback failed: %s", type(exc).__name__, extra=attempt.extra)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("job succeeded in %.1f ms", elapsed_ms, extra=dict(attempt.extra, duration_ms=round(elapsed_ms, 1)))
    return result


def _failed_attempt(attempt: _Attempt, exc: BaseException) -> Optional[str]:
    """Retry with back-off, or fail after the last attempt; a cancelled job fails at once ("cancelled")."""
    app, session, job = attempt.app, attempt.session, attempt.job
    log.warning("job attempt %d failed: %s", job.attempts, type(exc).__name__, extra=attempt.extra,
                exc_info=not isinstance(exc, JobTimeoutError))
    if session.scalar(select(Job.cancel_requested).where(Job.id == job.id)):
        session.rollback()  # end the read transaction (SQLite pins its view at the first read)
        return _finish(attempt, JobState.FAILED, error=CANCELLED, message=CANCELLED)
    session.rollback()
    error = _error_text(exc)
    if job.attempts >= job.max_attempts:
        return _finish(attempt, JobState.FAILED, error=error, message=f"failed after {job.attempts} attempts")
    delay = backoff_delay(app, job.attempts)
    record_attempt(session, job.id, job.attempts, attempt.started_at, "retrying", error)
    retried = change_job(session, job.id, app=app, expect={"state": JobState.RUNNING.value, "claimed_by": attempt.me},
                         published=attempt.published, state=JobState.RETRYING, error=error, claimed_by=None,
                         heartbeat_at=None, run_after=utcnow() + timedelta(seconds=delay),
                         message=f"attempt {job.attempts} of {job.max_attempts} failed; retrying in {delay:g}s")
    if retried is None:
        return None
    try_enqueue(app, job.id, kind=job.kind, version=retried.version, delay=delay)
    return JobState.RETRYING.value


def _finish(attempt: _Attempt, state: JobState, *, message: str, error: Optional[str] = None,
            webhook_status: Optional[WebhookStatus] = None) -> Optional[str]:
    """The final change, only while this worker still holds the claim (else the pending work is discarded).

    Raises what the database raises at the commit (the caller turns it into a failed attempt).
    """
    session, job = attempt.session, attempt.job
    if state == JobState.FAILED:
        record_attempt(session, job.id, job.attempts, attempt.started_at,
                       CANCELLED if error == CANCELLED else "failed", error)
    if job.webhook_event_id:
        status = webhook_status or (WebhookStatus.FAILED if state == JobState.FAILED else WebhookStatus.PROCESSED)
        # REDACTED stays REDACTED: a compliance request may have emptied this event meanwhile.
        session.execute(update(WebhookEvent)
                        .where(WebhookEvent.id == job.webhook_event_id,
                               WebhookEvent.status != WebhookStatus.REDACTED.value)
                        .values(status=status.value).execution_options(synchronize_session=False))
    done = change_job(session, job.id, app=attempt.app, expect={"state": JobState.RUNNING.value,
                                                                 "claimed_by": attempt.me},
                      published=attempt.published, hold=True, state=state, message=message, error=error,
                      claimed_by=None,
                      heartbeat_at=None, finished_at=utcnow(),
                      progress=100 if state == JobState.SUCCEEDED else job.progress)
    if done is None:
        session.rollback()
        log.warning("job taken over by another worker before it finished; this attempt's work is discarded",
                    extra=attempt.extra)
        return None
    if state == JobState.FAILED:
        log.warning("job failed: %s", (error or "")[:200], extra=attempt.extra)
    return state.value


def _give_up(app: Flask, job: Job, me: str, limit: float) -> None:
    """The hard limit (heartbeat thread): record the attempt as timed out; in a worker process, exit.

    Runs while the handler is still running in the main thread, so it uses a session of its own, and the
    change only applies while this worker holds the claim.
    """
    error = _error_text(JobTimeoutError(limit))
    extra = {"job_id": job.id, "shop": job.shop_domain, "topic": job.topic}
    with get_db(app).session() as session:
        cancelled = session.scalar(select(Job.cancel_requested).where(Job.id == job.id))
        session.rollback()
        expect = {"state": JobState.RUNNING.value, "claimed_by": me}
        ending = cancelled or job.attempts >= job.max_attempts
        record_attempt(session, job.id, job.attempts, job.attempt_started_at,
                       (CANCELLED if cancelled else "failed") if ending else "retrying", error)
        if ending:
            changed = change_job(session, job.id, app=app, expect=expect, state=JobState.FAILED, claimed_by=None,
                                 heartbeat_at=None, finished_at=utcnow(), error=CANCELLED if cancelled else error,
                                 message=CANCELLED if cancelled else f"failed after {job.attempts} attempts")
        else:
            delay = backoff_delay(app, job.attempts)
            changed = change_job(session, job.id, app=app, expect=expect, state=JobState.RETRYING, error=error,
                                 claimed_by=None, heartbeat_at=None, run_after=utcnow() + timedelta(seconds=delay),
                                 message=f"attempt {job.attempts} of {job.max_attempts} failed; "
                                         f"retrying in {delay:g}s")
            if changed is not None:
                try_enqueue(app, job.id, kind=job.kind, version=changed.version, delay=delay)
    log.error("job handler still running %g s past its time limit of %g s; %s", HARD_LIMIT_GRACE_SECONDS, limit,
              "this worker process exits, and its supervisor starts a new one" if exit_on_hard_limit
              else "its attempt is recorded as timed out", extra=extra)
    if exit_on_hard_limit:
        logging.shutdown()
        os._exit(EXIT_HARD_LIMIT)


def _rollback(session) -> None:
    """Roll back; a connection left unusable (a timed-out read mid-protocol) is thrown away instead."""
    try:
        session.rollback()
    except Exception:
        session.invalidate()


def _error_text(exc: BaseException) -> str:
    """The error kept on the job: its type and message, never SQL or bound values (customer data)."""
    if isinstance(exc, PermanentJobError):
        text = str(exc)
    elif isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        first_line = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        text = f"{type(exc.orig).__name__}: {first_line}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_CHARS]
