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
from sqlalchemy import ColumnElement, bindparam, case, func, or_, update
from sqlalchemy.orm import Session

from shopapp.events.publishing import held_events, publish_job
from shopapp.models import Job, JobAttempt, JobState, utcnow

_COLUMNS = frozenset(c.key for c in Job.__table__.columns) - {"id", "version", "published_version"}


def change_job(session: Session, job_id: int, *, app: Optional[Flask] = None,
               expect: Optional[dict[str, Any]] = None, where: Iterable[ColumnElement] = (),
               published: Optional[int] = None, due_by: Optional[datetime] = None, hold: bool = False,
               **fields: Any) -> Optional[Job]:
    """Apply `fields` to job `job_id` if it matches `expect`/`where`; commit; publish. The one state change.

    `expect` maps column names to a value or a tuple of accepted values (e.g. `{"state": ("queued",
    "retrying")}`); `due_by` (UTC) matches only a job with no `run_after` or one at or before it; `where`
    adds SQL conditions. Field values may be `INCREMENT` (the column plus one), `IfUnset(value)` (the
    column's value if set, else `value`), `JobState` members, or SQL expressions (`Job.attempts + 2`); an
    expression or a `where` builds the statement for that call only, the rest reuse one statement per
    shape. Whatever else is pending in `session` is committed in the same transaction
    (a handler's effect and its job's success are one commit). Returns the updated Job, or None when no
    row matched (nothing is committed then; the caller decides whether to roll back its session).

    The publish is not recorded by a transaction of its own (that would be a commit more per change):
    `published` is an earlier version of this job that reached Redis, whose record rides on this change's
    UPDATE (see `change_job_published`); the sweeper records the rest, in batches. With `hold`, a worker
    publishes the change with its next Redis round trip (`events.publishing.held_events`: a job's last
    change, sent with RQ's own bookkeeping), elsewhere at once.
    """
    job, _ = change_job_published(session, job_id, app=app, expect=expect, where=where, published=published,
                                  due_by=due_by, hold=hold, **fields)
    return job


def change_job_published(session: Session, job_id: int, *, app: Optional[Flask] = None,
                         expect: Optional[dict[str, Any]] = None, where: Iterable[ColumnElement] = (),
                         published: Optional[int] = None, due_by: Optional[datetime] = None,
                         hold: bool = False, **fields: Any) -> tuple[Optional[Job], bool]:
    """`change_job`, also saying whether the change reached Redis: (job, published).

    For a change the caller follows with another change of the same job soon (the worker's claim, then its
    finish): pass `published=job.version` to that next change when `published` is True, and the record
    rides on it. Until then published_version trails, as after a Redis failure: if this process dies
    first, the sweeper republishes the job's current state (idempotent per (job, version)), so nothing is
    lost.
    """
    return _change(session, job_id, app, expect, where, published, due_by, hold, fields)


class Increment:
    """A field value: the column's current value plus one (`attempts=INCREMENT`), in a cached statement."""


INCREMENT = Increment()


class IfUnset:
    """A field value: `value` where the column is NULL, else the column unchanged (a first start time)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


# Built UPDATE statements by shape (which fields, which kind of each value, which expectations): building
# one and computing its cache key cost more than executing it (README "Performance", the workers), so each
# shape is built once, its values passed as parameters. Shapes are few (one per call site).
_STATEMENTS: dict[tuple, Any] = {}


def _value_kind(value: Any) -> str:
    if isinstance(value, Increment):
        return "increment"
    if isinstance(value, IfUnset):
        return "if_unset"
    if isinstance(value, ColumnElement):
        return "sql"
    return "value"


def _expect_kind(accepted: Any) -> str:
    if isinstance(accepted, (tuple, list, set, frozenset)):
        return "in"
    return "null" if accepted is None else "eq"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, JobState) else value


def _statement(value_kinds: tuple, expect_kinds: tuple, published: bool, due_by: bool,
               expressions: dict[str, ColumnElement], where: tuple):
    """The UPDATE ... RETURNING for one shape; values and expectations are bind parameters named
    `v_<field>` and `e_<field>`, plus `job_id`, `published` and `due_by`."""
    table = Job.__table__
    values: dict[str, Any] = {"version": Job.version + 1}
    for name, kind in value_kinds:
        column = getattr(Job, name)
        if kind == "increment":
            values[name] = column + 1
        elif kind == "if_unset":
            values[name] = func.coalesce(column, bindparam(f"v_{name}", type_=table.c[name].type))
        elif kind == "sql":
            values[name] = expressions[name]
        else:
            values[name] = bindparam(f"v_{name}", type_=table.c[name].type)
    if published:
        mark = bindparam("published", type_=table.c.published_version.type)
        values["published_version"] = case((Job.published_version < mark, mark), else_=Job.published_version)
    conditions = [Job.id == bindparam("job_id"), *where]
    if due_by:
        due = bindparam("due_by", type_=table.c.run_after.type)
        conditions.append(or_(Job.run_after.is_(None), Job.run_after <= due))
    for name, kind in expect_kinds:
        column = getattr(Job, name)
        if kind == "in":
            conditions.append(column.in_(bindparam(f"e_{name}", expanding=True, type_=table.c[name].type)))
        elif kind == "null":
            conditions.append(column.is_(None))
        else:
            conditions.append(column == bindparam(f"e_{name}", type_=table.c[name].type))
    return (update(Job).where(*conditions).values(**values).returning(Job)
            .execution_options(synchronize_session=False, populate_existing=True))


def _change(session: Session, job_id: int, app: Optional[Flask], expect: Optional[dict[str, Any]],
            where: Iterable[ColumnElement], published: Optional[int], due_by: Optional[datetime], hold: bool,
            fields: dict[str, Any]) -> tuple[Optional[Job], bool]:
    app = app or current_app._get_current_object()
    unknown = set(fields) - _COLUMNS
    if unknown:
        raise ValueError(f"not job columns: {', '.join(sorted(unknown))}")
    fields.setdefault("updated_at", utcnow())
    expect = expect or {}
    where = tuple(where)
    value_kinds = tuple(sorted((name, _value_kind(value)) for name, value in fields.items()))
    expect_kinds = tuple(sorted((name, _expect_kind(accepted)) for name, accepted in expect.items()))
    expressions = {name: value for name, value in fields.items() if isinstance(value, ColumnElement)}
    shape = (value_kinds, expect_kinds, published is not None, due_by is not None)
    if expressions or where:  # SQL given by the caller: built for this call (not cached)
        stmt = _statement(*shape, expressions, where)
    else:
        stmt = _STATEMENTS.get(shape)
        if stmt is None:
            stmt = _STATEMENTS[shape] = _statement(*shape, {}, ())
    params: dict[str, Any] = {"job_id": job_id}
    for name, value in fields.items():
        if isinstance(value, IfUnset):
            params[f"v_{name}"] = _plain(value.value)
        elif not isinstance(value, (Increment, ColumnElement)):
            params[f"v_{name}"] = _plain(value)
    for name, accepted in expect.items():
        if isinstance(accepted, (tuple, list, set, frozenset)):
            params[f"e_{name}"] = [_plain(a) for a in accepted]
        elif accepted is not None:
            params[f"e_{name}"] = _plain(accepted)
    if published is not None:
        params["published"] = published
    if due_by is not None:
        params["due_by"] = due_by
    job = session.scalars(stmt, params).first()
    if job is None:
        return None, False
    session.commit()
    if hold:
        held_events.publish_job_later(app, job)
        return job, False
    return job, publish_job(app, None, job)


def record_attempt(session: Session, job_id: int, number: int, started_at: Optional[datetime], outcome: str,
                   error: Optional[str]) -> None:
    """Keep an attempt that did not succeed; it is committed with the job's change that follows."""
    session.add(JobAttempt(job_id=job_id, attempt=number, started_at=started_at, ended_at=utcnow(), outcome=outcome,
                           error=error))
