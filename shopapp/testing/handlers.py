"""Running one webhook handler the way a worker would, without HTTP or a queue (`run_handler`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Optional

from flask import Flask

from shopapp.db import get_db
from shopapp.jobs import registry
from shopapp.jobs.context import JobContext
from shopapp.testing.constants import SHOP


@dataclass(frozen=True)
class HandlerResult:
    """What the handler returned (the job's message) and whether it ignored the delivery."""

    message: Optional[str]
    ignored: bool


def run_handler(app: Flask, topic: str, payload: dict, shop: str = SHOP, *,
                triggered_at: Optional[datetime] = None, webhook_id: str = "test-webhook") -> HandlerResult:
    """Run the handler registered for `topic` on `payload` in a real database session, and commit it.

    Runs inside an app context, as in a worker; `after_commit` callbacks run after the commit. Raises
    LookupError when no handler is registered for the topic, and whatever the handler raises (its
    session is then rolled back).
    """
    registration = registry.topic(topic)
    if registration is None:
        raise LookupError(f"no handler is registered for {topic!r} (is its feature in FEATURES?)")
    with app.app_context(), get_db(app).session() as session:
        ctx = JobContext(app, session, job_id=0, shop=shop, kind="webhook", worker_id="test", payload=payload,
                         topic=topic, webhook_id=webhook_id,
                         triggered_at=triggered_at or datetime.now(UTC))
        message = registration.handler(ctx)
        session.commit()
        for callback in ctx.after_commit_callbacks:
            callback()
    return HandlerResult(message, ctx.ignored)
