"""A shop's recent jobs with the event seq they are current at: the websocket's snapshot and GET /api/jobs."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopapp.events.publisher import EventPublisher
from shopapp.models import Job, JobState

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
