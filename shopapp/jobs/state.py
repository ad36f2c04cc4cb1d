"""The one way a job's state changes: `change_job` updates the row, commits, then publishes the change.

Every change bumps `Job.version`. After the commit the job's contract dict is published through
`EventPublisher` (per-shop seq, replay log, pub/sub); when that worked, `published_version` is set to the
published version. If Redis is down the change stays committed, a warning is logged and
`published_version` stays behind, so the sweeper republishes it later (publishing is idempotent per
(job, version)).
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Optional

import redis
from flask import Flask, current_app
from sqlalchemy import ColumnElement, bindparam, case, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shopapp import metrics
from shopapp.jobs.events import EventPublisher
from shopapp.models import Job, JobState, utcnow
from shopapp.redis_client import get_redis

log = logging.getLogger(__name__)

_COLUMNS = frozenset(c.key for c in Job.__table__.columns) - {"id", "version", "published_version"}


def change_job(session: Session, job_id: int, *, app: Optional[Flask] = None,
               expect: Optional[dict[str, Any]] = None, where: Iterable[ColumnElement] = (),
               published: Optional[int] = None, **fields: Any) -> Optional[Job]:
    """Apply `fields` to job `job_id` if it matches `expect`/`where`; commit; publish. The one state change.

    `expect` maps column names to a value or a tuple of accepted values (e.g. `{"state": ("queued",
    "retrying")}`); `where` adds SQL conditions. Field values may be SQL expressions (`Job.attempts + 1`)
    and `JobState` members. Whatever else is pending in `session` is committed in the same transaction
    (a handler's effect and its job's success are one commit). Returns the updated Job, or None when no
    row matched (nothing is committed then; the caller decides whether to roll back its session).
    `published`: an earlier version of this job that reached Redis but was not recorded yet (see
    `change_job_unrecorded`); its record rides on this transaction.
    """
    job, _ = _change(session, job_id, app, expect, where, published, fields, record=True)
    return job


def change_job_unrecorded(session: Session, job_id: int, *, app: Optional[Flask] = None,
                          expect: Optional[dict[str, Any]] = None, where: Iterable[ColumnElement] = (),
                          **fields: Any) -> tuple[Optional[Job], bool]:
    """`change_job` without the transaction that records `published_version`; returns (job, published).

    For a change the caller follows with another change of the same job soon (the worker's claim, then its
    finish): pass `published=job.version` to that next change when `published` is True, and the record
    rides on it. Until then published_version trails, as after a Redis failure: if this process dies
    first, the sweeper republishes the job's current state (idempotent per (job, version)), so nothing is
    lost; it only costs one commit less per job.
    """
    return _change(session, job_id, app, expect, where, None, fields, record=False)


def _change(session: Session, job_id: int, app: Optional[Flask], expect: Optional[dict[str, Any]],
            where: Iterable[ColumnElement], published: Optional[int], fields: dict[str, Any],
            record: bool) -> tuple[Optional[Job], bool]:
    app = app or current_app._get_current_object()
    unknown = set(fields) - _COLUMNS
    if unknown:
        raise ValueError(f"not job columns: {', '.join(sorted(unknown))}")
    values = {k: (v.value if isinstance(v, JobState) else v) for k, v in fields.items()}
    values.setdefault("updated_at", utcnow())
    values["version"] = Job.version + 1
    if published is not None:
        values["published_version"] = case((Job.published_version < published, published),
                                           else_=Job.published_version)
    conditions = [Job.id == job_id, *where]
    for name, accepted in (expect or {}).items():
        column = getattr(Job, name)
        if isinstance(accepted, (tuple, list, set, frozenset)):
            conditions.append(column.in_([a.value if isinstance(a, JobState) else a for a in accepted]))
        elif accepted is None:
            conditions.append(column.is_(None))
        else:
            conditions.append(column == (accepted.value if isinstance(accepted, JobState) else accepted))
    stmt = (update(Job).where(*conditions).values(**values).returning(Job)
            .execution_options(synchronize_session=False, populate_existing=True))
    job = session.scalars(stmt).first()
    if job is None:
        return None, False
    session.commit()
    return job, publish_job(app, session if record else None, job)


def publish_job(app: Flask, session: Optional[Session], job: Job) -> bool:
    """Publish the committed state of `job` at its version; record `published_version` when it reached Redis.

    With `session=None` the publish is not recorded (the sweeper or the next change records it).
    Returns False when Redis could not be reached (logged, never raised).
    """
    try:
        if publisher(app).publish(job.shop_domain, job.to_dict(), job.version):
            metrics.event_published()  # 0: this version had been published already (idempotent)
    except redis.RedisError as exc:
        log.warning("job event not published (the sweeper will republish): %s", type(exc).__name__,
                    extra={"job_id": job.id, "shop": job.shop_domain})
        return False
    if session is not None:
        _record_published(session, [job])
    return True


def publish_jobs(app: Flask, session: Session, jobs: list[Job]) -> int:
    """`publish_job` for many committed jobs: one Redis round trip and one transaction for the records.

    Returns how many were published (0, logged, when Redis could not be reached).
    """
    if not jobs:
        return 0
    try:
        seqs = publisher(app).publish_many([(job.shop_domain, job.to_dict(), job.version) for job in jobs])
    except redis.RedisError as exc:
        log.warning("job events not published (the sweeper will try again): %s", type(exc).__name__)
        return 0
    for seq in seqs:
        if seq:
            metrics.event_published()
    _record_published(session, jobs)
    return len(jobs)


_RECORD_PUBLISHED = (update(Job.__table__)  # Core, so that many jobs go in one executemany
                     .where(Job.__table__.c.id == bindparam("job_id"),
                            Job.__table__.c.published_version < bindparam("v"))
                     .values(published_version=bindparam("v")))


def _record_published(session: Session, jobs: list[Job]) -> None:
    """Commit `published_version` = the published version of each job (never lowering it)."""
    session.execute(_RECORD_PUBLISHED, [{"job_id": job.id, "v": job.version} for job in jobs])
    session.commit()
    for job in jobs:
        # Set as the committed value: a plain assignment would mark the job dirty, and the next autoflush
        # would open a write transaction that (on SQLite) locks the database until the handler commits.
        set_committed_value(job, "published_version", max(job.published_version or 0, job.version))


def publisher(app: Flask) -> EventPublisher:
    """The app's EventPublisher (one per app, sharing the app's Redis client)."""
    pub = app.extensions.get("shopapp.event_publisher")
    if pub is None:
        pub = app.extensions["shopapp.event_publisher"] = EventPublisher(get_redis(app), app.config["EVENT_LOG_SIZE"])
    return pub
