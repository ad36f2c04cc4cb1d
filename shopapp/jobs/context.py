"""`JobContext`: what a job handler gets (see `shopapp.jobs.kinds` for the handler contract)."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Optional

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopapp.jobs.errors import JobCancelledError, JobLostError

# Progress reports closer together than this are skipped (the last one, done == total, always goes out),
# so a handler may call report() per item without flooding the database and the merchant's page.
REPORT_INTERVAL_SECONDS = 0.25


class JobContext:
    """The running job as its handler sees it.

    Attributes: `app` (the Flask app; an app context is pushed), `session` (a fresh SQLAlchemy session;
    the runner commits it with the job's success), `shop` (verified shop domain), `job_id`, `kind`,
    `params` (dict, merchant jobs), `payload` (the webhook's JSON object, or None), `topic`,
    `webhook_id`, `triggered_at` (X-Shopify-Triggered-At as aware UTC, or None), `attempt` (1-based).
    """

    def __init__(self, app: Flask, session: Session, *, job_id: int, shop: str, kind: str,
                 worker_id: str, params: Optional[dict] = None, payload: Optional[dict] = None,
                 topic: Optional[str] = None, webhook_id: Optional[str] = None,
                 triggered_at: Optional[datetime] = None, attempt: int = 1):
        self.app = app
        self.session = session
        self.job_id = job_id
        self.shop = shop
        self.kind = kind
        self.params = params or {}
        self.payload = payload
        self.topic = topic
        self.webhook_id = webhook_id
        self.triggered_at = triggered_at
        self.attempt = attempt
        self.worker_id = worker_id
        # Set by a webhook handler that deliberately did nothing (stale delivery, uninstalled shop).
        self.ignored = False
        self.after_commit_callbacks: list[Callable[[], None]] = []
        self._last_report: tuple[float, int, str] | None = None

    def report(self, done: int | float, total: int | float | None = None, message: str = "") -> None:
        """Record progress (`done` of `total`, or `done` percent when total is None) and a message.

        Commits `self.session` (the handler's work so far included) and publishes the change; reports
        closer together than REPORT_INTERVAL_SECONDS are skipped unless the job is complete. Raises
        JobLostError if another worker took the job over.
        """
        from shopapp.jobs.state import change_job
        from shopapp.models import JobState

        percent = int(done * 100 / total) if total else int(done)
        percent = max(0, min(100, percent))
        now = time.monotonic()
        if self._last_report is not None:
            last_at, last_percent, last_message = self._last_report
            if (percent, message) == (last_percent, last_message):
                return
            if now - last_at < REPORT_INTERVAL_SECONDS and percent < 100:
                return
        job = change_job(self.session, self.job_id, app=self.app,
                         expect={"state": JobState.RUNNING.value, "claimed_by": self.worker_id},
                         progress=percent, message=message[:1000])
        if job is None:
            raise JobLostError(f"job {self.job_id} was taken over by another worker")
        self._last_report = (now, percent, message)

    def check_cancelled(self) -> None:
        """Raise JobCancelledError if the merchant asked to cancel this job."""
        from shopapp.models import Job

        if self.session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
            raise JobCancelledError(f"job {self.job_id} was cancelled")

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call `fn()` once the job's success is committed (e.g. tell web processes); errors are logged."""
        self.after_commit_callbacks.append(fn)

    def ignore(self, message: str) -> str:
        """Mark a webhook delivery as deliberately not applied (stale, uninstalled shop); returns `message`."""
        self.ignored = True
        return message

    def __repr__(self) -> str:
        return f"<JobContext job={self.job_id} kind={self.kind} shop={self.shop} topic={self.topic}>"
