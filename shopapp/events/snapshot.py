"""What the page reads: a shop's recent jobs with the event seq they are current at (the websocket's
snapshot and GET /api/jobs), the count of its jobs per state, and one job's detail."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shopapp.clock import format_timestamp
from shopapp.events.publisher import EventPublisher
from shopapp.models import Job, JobAttempt, JobState, WebhookEvent

MAX_LIMIT = 500


def job_snapshot(session: Session, publisher: EventPublisher, shop: str, state: str | JobState | None = None,
                 limit: int = 50) -> dict:
    """`{"seq": N, "jobs": [job, ...]}` for `shop`, newest first, at most `limit` jobs (optionally one state).

    `seq` is read BEFORE the rows: a change committed in between is then both in the rows and in an event
    after `seq`, so a client that applies later events on top of the snapshot can repeat a change but
    never miss one. Pass a session with no read transaction open yet (SQLite pins a transaction's view at its
    first read, which would then predate `seq`). Raises ValueError for an unknown state or a limit outside 1..MAX_LIMIT.
    """
    if state is not None:
        state = JobState(state).value  # ValueError names the bad value
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    seq = publisher.current_seq(shop)
    query = select(Job).where(Job.shop_domain == shop)
    if state is not None:
        query = query.where(Job.state == state)
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(int(limit))
    return {"seq": seq, "jobs": [job.to_dict() for job in session.scalars(query)]}


def job_counts(session: Session, shop: str) -> dict[str, int]:
    """How many of `shop`'s jobs are in each state: `{"queued": n, "running": n, ...}` (every state named)."""
    rows = session.execute(select(Job.state, func.count()).where(Job.shop_domain == shop).group_by(Job.state))
    counts = {state.value: 0 for state in JobState}
    counts.update({state: count for state, count in rows if state in counts})
    return counts


def job_detail(session: Session, shop: str, job_id: int) -> dict | None:
    """A job of `shop` with what the page's detail view shows, or None (missing, or another shop's).

    `{..job.., "max_attempts", "started_at", "attempt_started_at", "finished_at", "attempts_log": [attempt,
    ...] (each attempt that did not succeed, oldest first), "delivery": {"topic", "webhook_id", "event_id",
    "api_version", "triggered_at", "received_at"} or None}`. Never the payload (customer data).
    """
    job = session.scalars(select(Job).where(Job.id == job_id, Job.shop_domain == shop)).first()
    if job is None:
        return None
    attempts = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job.id)
                               .order_by(JobAttempt.id)).all()  # as they happened: a retry numbers from 1 again
    event = session.get(WebhookEvent, job.webhook_event_id) if job.webhook_event_id else None
    delivery = None if event is None else {
        "topic": event.topic, "webhook_id": event.webhook_id, "event_id": event.event_id,
        "api_version": event.api_version, "triggered_at": format_timestamp(event.triggered_at),
        "received_at": format_timestamp(event.received_at)}
    return dict(job.to_dict(), max_attempts=job.max_attempts, started_at=format_timestamp(job.started_at),
                attempt_started_at=format_timestamp(job.attempt_started_at),
                finished_at=format_timestamp(job.finished_at),
                attempts_log=[attempt.to_dict() for attempt in attempts], delivery=delivery)
