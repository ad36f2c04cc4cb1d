"""Publish after commit: tell Redis about a committed job change, and record on the row that it got there.

`Job.version` grows with every change; `published_version` trails it until the change reached Redis. If
Redis is down the change stays committed, a warning is logged and `published_version` stays behind, so the
sweeper republishes it later (publishing is idempotent per (job, version), see `EventPublisher`).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Optional

import redis
from flask import Flask
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shopapp import metrics
from shopapp.events import get_publisher
from shopapp.lua_scripts import execute
from shopapp.models import Job

log = logging.getLogger(__name__)


def publish_job(app: Flask, session: Optional[Session], job: Job) -> bool:
    """Publish the committed state of `job` at its version; record `published_version` when it reached Redis.

    With `session=None` the publish is not recorded (the sweeper or the job's next change records it).
    Returns False when Redis could not be reached (logged, never raised).
    """
    try:
        if get_publisher(app).publish(job.shop_domain, job.to_dict(), job.version):
            metrics.event_published()  # 0: this version had been published already (idempotent)
    except redis.RedisError as exc:
        log.warning("job event not published (the sweeper will republish): %s", type(exc).__name__,
                    extra={"job_id": job.id, "shop": job.shop_domain})
        return False
    if session is not None:
        record_published(session, [job])
    return True


def publish_jobs(app: Flask, session: Optional[Session], jobs: list[Job]) -> int:
    """`publish_job` for many committed jobs: one Redis round trip, and one transaction for the records
    (none with `session=None`). Returns how many were published (0, logged, when Redis was unreachable)."""
    if not jobs or publish_new(app, [(job.shop_domain, job.to_dict(), job.version) for job in jobs]) is None:
        return 0
    if session is not None:
        record_published(session, jobs)
    return len(jobs)


def publish_new(app: Flask, events: list[tuple[str, dict, int]],
                also: Optional[Callable[[redis.client.Pipeline], None]] = None) -> Optional[int]:
    """Publish committed jobs given as (shop, job dict, version) in one round trip, without loading or
    recording them (ingestion: the job's next change records its published version, or the sweeper does).

    `also(pipe)` adds the caller's own commands to the same round trip, before the events (ingestion's
    enqueue of the same jobs). Returns how many events were new to Redis (a republished version is a no-op);
    None, logged, when Redis could not be reached (the sweeper enqueues and publishes them later).
    """
    if not events and also is None:
        return 0
    publisher = get_publisher(app)
    try:
        with publisher.client.pipeline(transaction=False) as pipe:
            if also is not None:
                also(pipe)
            ours = len(pipe.command_stack)
            for shop, job, version in events:
                publisher.queue(pipe, shop, job, version)
            seqs = execute(pipe)[ours:]
    except redis.RedisError as exc:
        log.warning("job events not published (the sweeper will): %s", type(exc).__name__)
        return None
    published = sum(1 for seq in seqs if seq)
    if published:
        metrics.event_published(published)
    return published


_RECORD_PUBLISHED = (update(Job.__table__)  # Core, so that many jobs go in one executemany
                     .where(Job.__table__.c.id == bindparam("job_id"),
                            Job.__table__.c.published_version < bindparam("v"))
                     .values(published_version=bindparam("v")))


def record_published(session: Session, jobs: list[Job]) -> None:
    """Commit `published_version` = the published version of each job (never lowering it)."""
    session.execute(_RECORD_PUBLISHED, [{"job_id": job.id, "v": job.version} for job in jobs])
    session.commit()
    for job in jobs:
        # Set as the committed value: a plain assignment would mark the job dirty, and the next autoflush
        # would open a write transaction that (on SQLite) locks the database until the handler commits.
        set_committed_value(job, "published_version", max(job.published_version or 0, job.version))


class HeldEvents:
    """A worker thread's job events held back to ride on its next Redis round trip: RQ's MULTI that marks
    the job done (a round trip per job less, README "Performance").

    The worker calls `hold()` when a job starts, `board(pipe)` to add the held events to RQ's pipeline,
    `arrived()` once that pipeline ran, and `release()` when the job ended, which publishes whatever did
    not arrive (publishing is idempotent per (job, version), so one that did arrive is never shown twice).
    Outside `hold()`...`release()` (tests, the web process) `publish_job_later` publishes at once.
    """

    def __init__(self):
        self._local = threading.local()

    def hold(self) -> None:
        self._local.held = []
        self._local.boarded = 0

    def publish_job_later(self, app: Flask, job: Job) -> None:
        """Publish the committed state of `job` at its version, now or with the worker's next round trip."""
        held = getattr(self._local, "held", None)
        if held is None:
            publish_job(app, None, job)
        else:
            held.append((app, job.shop_domain, job.to_dict(), job.version))

    def board(self, pipe: redis.client.Pipeline) -> None:
        """Add the held events to `pipe` (run it with `lua_scripts.execute`)."""
        held = getattr(self._local, "held", None) or []
        for app, shop, job, version in held:
            get_publisher(app).queue(pipe, shop, job, version)
        self._local.boarded = len(held)

    def arrived(self) -> None:
        """The pipeline that carried the boarded events ran: they reached Redis."""
        held = getattr(self._local, "held", None) or []
        if self._local.boarded:
            metrics.event_published(self._local.boarded)
        del held[:self._local.boarded]
        self._local.boarded = 0

    def release(self) -> None:
        """Stop holding; publish what is still held (logged, never raised, when Redis is unreachable)."""
        held, self._local.held = getattr(self._local, "held", None) or [], None
        for app, shop, job, version in held:
            try:
                if get_publisher(app).publish(shop, job, version):
                    metrics.event_published()
            except redis.RedisError as exc:
                log.warning("job event not published (the sweeper will republish): %s", type(exc).__name__,
                            extra={"job_id": job["id"], "shop": shop})


# The one holder of the process: the worker holds, `change_job(..., hold=True)` adds.
held_events = HeldEvents()
