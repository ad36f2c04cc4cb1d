"""Recording verified deliveries: WebhookEvent + Job committed in one transaction, then enqueued, then answered.

`record_deliveries` writes a batch of deliveries (one, or every delivery that arrived while the previous
batch was being written, see `shopapp.webhooks.writer`) in ONE transaction: a multi-row
`INSERT ... ON CONFLICT DO NOTHING RETURNING` for the events, then one for their jobs.
Two unique constraints decide duplicates, never a read-then-write: `webhook_events.webhook_id` (the same
delivery again) and (`event_id`, `topic`) (the same event through another subscription); `ON CONFLICT DO
NOTHING` without a conflict target covers both, on PostgreSQL and on SQLite alike. A delivery whose row a
constraint refused (a concurrent or earlier copy holds that webhook id, or that topic and event id) is a
duplicate and creates nothing. After the commit every new job is put on RQ in one Redis pipeline; a
Redis failure then is logged and the committed jobs wait for the sweeper. A failed commit raises
`NotDurableError` (the endpoint answers 503 so Shopify retries).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from flask import Flask
from sqlalchemy import JSON, Integer, Text, bindparam, cast, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from shopapp.db import get_db
from shopapp.events.publishing import publish_new
from shopapp.jobs.queue import enqueue_batch
from shopapp.models import Job, JobState, WebhookEvent, WebhookStatus, job_dict, utcnow
from shopapp.webhooks.dispatch import WEBHOOK_KIND
from shopapp.webhooks.verify import Verification

log = logging.getLogger(__name__)

QUEUED_MESSAGE = "queued"
# After Redis failed, ingestion leaves it alone this long (seconds): each try waits out the client's
# timeouts (2 s to connect to a host that does not answer, 5 s per command) while every request of the batch
# waits for its answer (503 past writer.WAIT_SECONDS). Committed jobs meanwhile wait for the sweeper, which
# enqueues and publishes them (README "When the network fails").
REDIS_PAUSE_SECONDS = 5.0
_PAUSED_UNTIL = "shopapp.ingest_redis_paused_until"
_EVENTS = WebhookEvent.__table__
_JOBS = Job.__table__


class IngestError(Exception):
    """Base of the ingestion errors."""


class NotDurableError(IngestError):
    """The delivery could not be committed (database down or refusing): answer 503 so Shopify retries."""


@dataclass(frozen=True)
class Recorded:
    """What became of one verified delivery."""

    job_id: Optional[int]
    duplicate: bool
    enqueued: bool = False


def record_webhook(app: Flask, delivery: Verification, request_id: Optional[str] = None) -> Recorded:
    """Record one delivery (see `record_deliveries`)."""
    return record_deliveries(app, [delivery], [request_id])[0]


def record_deliveries(app: Flask, deliveries: Sequence[Verification],
                      request_ids: Optional[Sequence[Optional[str]]] = None) -> list[Recorded]:
    """Commit the deliveries and their jobs in one transaction, then enqueue the new jobs.

    `request_ids`: the X-Request-Id of the request that brought each delivery (kept on the event and its
    job, so the worker's lines for the job carry it), in the same order; None when unknown.

    Returns one `Recorded` per delivery, in order (a second copy of a webhook id in the same batch is a
    duplicate). After the commit, in the same step, each new job's `queued` state is published, so an open
    page shows the delivery at once (not only when a worker claims it); the publish is not recorded on the
    rows (that would cost a second transaction per batch): the job's claim records it, or the sweeper
    republishes a job that waits longer than its grace period (a no-op in Redis when it got there).
    """
    jobs, now = _commit(app, deliveries, request_ids or [None] * len(deliveries))
    enqueued = _enqueue_and_announce(app, jobs, now) if jobs else False
    results = []
    for delivery in deliveries:
        job = jobs.pop(delivery.webhook_id, None)
        results.append(Recorded(job[0], False, enqueued) if job is not None else Recorded(None, True))
    return results


def _commit(app: Flask, deliveries: Sequence[Verification],
            request_ids: Sequence[Optional[str]]) -> tuple[dict[str, tuple[int, Verification]], datetime]:
    """INSERT the events and jobs in one transaction; returns (job id, delivery) by webhook id, and the
    time the rows were created at."""
    now = utcnow()
    rows, by_id, events_seen = [], {}, set()
    for d, request_id in zip(deliveries, request_ids, strict=True):
        # A second copy in the same batch (same webhook id, or same topic and event id): the first one is
        # recorded. The constraints would refuse it too; skipping it here says which copy wins.
        event = (d.topic, d.event_id) if d.event_id is not None else None
        if d.webhook_id in by_id or event in events_seen:
            continue
        by_id[d.webhook_id] = d
        if event is not None:
            events_seen.add(event)
        rows.append({"webhook_id": d.webhook_id, "event_id": d.event_id, "topic": d.topic,
                     "shop_domain": d.shop, "api_version": d.api_version, "triggered_at": d.triggered_at,
                     "received_at": now, "payload": d.body_text, "status": WebhookStatus.RECEIVED.value,
                     "request_id": request_id})
    database = get_db(app)
    engine = database.engine
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    max_attempts = app.config["JOB_MAX_ATTEMPTS"]
    try:
        with database.serialized_writes(), engine.begin() as conn:
            # executemany: SQLAlchemy's "insertmanyvalues" sends multi-row INSERTs from one cached compile.
            events = {webhook_id: event_id for event_id, webhook_id in conn.execute(_insert_events(insert), rows)}
            if not events:
                return {}, now
            # The jobs are copied from the new event rows inside the database: no row built in Python.
            job_ids = {event_id: job_id for job_id, event_id in conn.execute(
                _INSERT_JOBS, {"event_ids": list(events.values()), "max_attempts": max_attempts, "now": now})}
    except SQLAlchemyError as exc:
        raise NotDurableError(type(exc).__name__) from exc
    return {webhook_id: (job_ids[event_id], by_id[webhook_id]) for webhook_id, event_id in events.items()}, now


def _insert_jobs():
    """INSERT INTO jobs (...) SELECT ... FROM webhook_events WHERE id IN (:event_ids) RETURNING id, event id:
    one queued job per new event."""
    columns = {
        "shop_domain": _EVENTS.c.shop_domain, "kind": literal(WEBHOOK_KIND), "topic": _EVENTS.c.topic,
        "webhook_id": _EVENTS.c.webhook_id, "webhook_event_id": _EVENTS.c.id,
        "state": literal(JobState.QUEUED.value), "progress": literal(0), "message": literal(QUEUED_MESSAGE),
        "attempts": literal(0), "max_attempts": bindparam("max_attempts", type_=Integer),
        "params": literal({}, _JOBS.c.params.type), "cancel_requested": literal(False),
        "version": literal(1), "published_version": literal(0), "request_id": _EVENTS.c.request_id,
        "created_at": bindparam("now", type_=_JOBS.c.created_at.type),
        "updated_at": bindparam("now", type_=_JOBS.c.updated_at.type),
    }
    source = select(*columns.values()).where(_EVENTS.c.id.in_(bindparam("event_ids", expanding=True)))
    return (_JOBS.insert().from_select(list(columns), source, include_defaults=False)
            .returning(_JOBS.c.id, _JOBS.c.webhook_event_id))


_INSERT_JOBS = _insert_jobs()
_INSERT_EVENTS = {}


def _insert_events(insert):
    """INSERT events ... ON CONFLICT DO NOTHING RETURNING (no conflict target: every unique constraint),
    binding the payload as the JSON text that arrived (the JSON type would serialize the parsed dict again)."""
    stmt = _INSERT_EVENTS.get(insert)
    if stmt is None:
        raw = bindparam("payload", type_=Text)
        values = {c.name: bindparam(c.name) for c in _EVENTS.columns if c.name not in ("id", "payload")}
        values["payload"] = cast(raw, JSON) if insert is postgresql.insert else raw
        stmt = _INSERT_EVENTS[insert] = (insert(_EVENTS).values(values)
                                         .on_conflict_do_nothing()
                                         .returning(_EVENTS.c.id, _EVENTS.c.webhook_id))
    return stmt


def _enqueue_and_announce(app: Flask, jobs: dict[str, tuple[int, Verification]], now: datetime) -> bool:
    """Put the committed jobs on RQ and publish each one's `queued` state (the row as committed: version 1),
    in one Redis round trip; False (logged) when Redis is unreachable or was a moment ago (REDIS_PAUSE_SECONDS:
    the sweeper does both later)."""
    paused_until = app.extensions.get(_PAUSED_UNTIL, 0.0)
    if time.monotonic() < paused_until:
        _not_enqueued(jobs, f"Redis failed less than {REDIS_PAUSE_SECONDS:g} s ago")
        return False
    events = [(d.shop, job_dict(id=job_id, kind=WEBHOOK_KIND, topic=d.topic, webhook_id=d.webhook_id,
                                state=JobState.QUEUED.value, progress=0, message=QUEUED_MESSAGE, attempts=0,
                                error=None, created_at=now, updated_at=now), 1)
              for job_id, d in jobs.values()]
    job_ids = [job_id for job_id, _ in jobs.values()]
    if publish_new(app, events, also=lambda pipe: enqueue_batch(app, job_ids, pipe=pipe)) is not None:
        return True
    app.extensions[_PAUSED_UNTIL] = time.monotonic() + REDIS_PAUSE_SECONDS
    _not_enqueued(jobs, "Redis unreachable")
    return False


def _not_enqueued(jobs: dict[str, tuple[int, Verification]], why: str) -> None:
    for job_id, d in jobs.values():
        log.warning("webhook committed but not enqueued (the sweeper will): %s", why,
                    extra={"shop": d.shop, "topic": d.topic, "webhook_id": d.webhook_id, "job_id": job_id})
