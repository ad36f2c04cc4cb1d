"""Job rows for API and page tests, written straight to the database."""
from __future__ import annotations

from datetime import timedelta

from shopapp.db import Database
from shopapp.models import Job, utcnow
from shopapp.testing import SHOP


def add_job(db: Database, shop: str = SHOP, state: str = "queued", kind: str = "webhook", topic: str = "orders/create",
            age: float = 0, **fields) -> int:
    """A job of `shop` created `age` seconds ago; returns its id."""
    with db.session() as session:
        job = Job(shop_domain=shop, kind=kind, topic=topic if kind == "webhook" else None, state=state,
                  created_at=utcnow() - timedelta(seconds=age), **fields)
        session.add(job)
        session.commit()
        return job.id


def load_job(db: Database, job_id: int) -> Job:
    with db.session() as session:
        return session.get(Job, job_id)
