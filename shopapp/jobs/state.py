"""The one way a job's state changes: `change_job` updates the row, commits, then publishes the change.

Every change bumps `Job.version`; after the commit the job is published (`shopapp.events.publishing`:
publish after commit). `published_version` is recorded lazily: by the job's next change, or by the sweeper
in batches (a commit per change would cost more than the change itself).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Optional

from flask import Flask, current_app
from sqlalchemy import ColumnElement, case, update
from sqlalchemy.orm import Session

from shopapp.events.publishing import publish_job
from shopapp.models import Job, JobAttempt, JobState, utcnow

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

    The publish is not recorded by a transaction of its own (that would be a commit more per change):
    `published` is an earlier version of this job that reached Redis, whose record rides on this change's
    UPDATE (see `change_job_published`); the sweeper records the rest, in batches.
    """
    job, _ = change_job_published(session, job_id, app=app, expect=expect, where=where, published=published,
                                  **fields)
    return job


def change_job_published(session: Session, job_id: int, *, app: Optional[Flask] = None,
                         expect: Optional[dict[str, Any]] = None, where: Iterable[ColumnElement] = (),
                         published: Optional[int] = None, **fields: Any) -> tuple[Optional[Job], bool]:
    """`change_job`, also saying whether the change reached Redis: (job, published).

    For a change the caller follows with another change of the same job soon (the worker's claim, then its
    finish): pass `published=job.version` to that next change when `published` is True, and the record
    rides on it. Until then published_version trails, as after a Redis failure: if this process dies
    first, the sweeper republishes the job's current state (idempotent per (job, version)), so nothing is
    lost.
    """
    return _change(session, job_id, app, expect, where, published, fields)


def _change(session: Session, job_id: int, app: Optional[Flask], expect: Optional[dict[str, Any]],
            where: Iterable[ColumnElement], published: Optional[int],
            fields: dict[str, Any]) -> tuple[Optional[Job], bool]:
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
    return job, publish_job(app, None, job)


def record_attempt(session: Session, job_id: int, number: int, started_at: Optional[datetime], outcome: str,
                   error: Optional[str]) -> None:
    """Keep an attempt that did not succeed; it is committed with the job's change that follows."""
    session.add(JobAttempt(job_id=job_id, attempt=number, started_at=started_at, ended_at=utcnow(), outcome=outcome,
                           error=error))
