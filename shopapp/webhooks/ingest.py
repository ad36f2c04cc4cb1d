"""Recording a verified delivery: WebhookEvent + Job in one transaction, then enqueue, then publish.

The unique constraint on `webhook_events.webhook_id` decides duplicates (no read-then-write): the second
of two concurrent copies fails its INSERT and is answered as a duplicate. Once the transaction committed
the delivery is durable; a Redis failure afterwards is logged and the sweeper enqueues the job later.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shopapp.db import get_db
from shopapp.jobs.queue import enqueue
from shopapp.jobs.state import publish_job
from shopapp.models import Job, JobState, WebhookEvent, WebhookStatus
from shopapp.webhooks.verify import Verification

log = logging.getLogger(__name__)

WEBHOOK_KIND = "webhook"


class IngestError(Exception):
    """Base of the ingestion errors."""


class NotDurableError(IngestError):
    """The delivery could not be committed (database down or refusing): answer 503 so Shopify retries."""


@dataclass(frozen=True)
class Recorded:
    """What became of a verified delivery."""

    job_id: Optional[int]
    duplicate: bool
    enqueued: bool = False


def record_webhook(app: Flask, delivery: Verification) -> Recorded:
    """Commit the delivery and its job, then enqueue and publish it; a repeated webhook id creates nothing."""
    db = get_db(app)
    session = db.Session()
    try:
        event = WebhookEvent(webhook_id=delivery.webhook_id, event_id=delivery.event_id, topic=delivery.topic,
                             shop_domain=delivery.shop, api_version=delivery.api_version,
                             triggered_at=delivery.triggered_at, payload=delivery.payload,
                             status=WebhookStatus.RECEIVED.value)
        job = Job(shop_domain=delivery.shop, kind=WEBHOOK_KIND, topic=delivery.topic,
                  webhook_id=delivery.webhook_id, webhook_event=event, state=JobState.QUEUED.value,
                  max_attempts=app.config["JOB_MAX_ATTEMPTS"], message="queued", params={})
        session.add(event)
        session.add(job)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if _exists(session, delivery.webhook_id):
                return Recorded(job_id=None, duplicate=True)
            raise NotDurableError("integrity error that is not a duplicate webhook id") from None
        except SQLAlchemyError as exc:
            session.rollback()
            raise NotDurableError(type(exc).__name__) from exc
    except SQLAlchemyError as exc:  # e.g. the duplicate check itself failed: the database is unreachable
        raise NotDurableError(type(exc).__name__) from exc
    finally:
        session.close()
    enqueued = True
    try:
        enqueue(app, job.id)
    except redis.RedisError as exc:
        enqueued = False
        log.warning("webhook committed but not enqueued (the sweeper will): %s", type(exc).__name__,
                    extra=_extra(delivery, job.id))
    if enqueued:
        publish_job(app, None, job)  # the worker's first change records published_version
    return Recorded(job_id=job.id, duplicate=False, enqueued=enqueued)


def _exists(session, webhook_id: str) -> bool:
    return session.scalar(select(WebhookEvent.id).where(WebhookEvent.webhook_id == webhook_id)) is not None


def _extra(delivery: Verification, job_id: Optional[int] = None) -> dict:
    return {"shop": delivery.shop, "topic": delivery.topic, "webhook_id": delivery.webhook_id, "job_id": job_id}
