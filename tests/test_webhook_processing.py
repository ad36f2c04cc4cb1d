"""From a recorded webhook to a finished job, run by a real RQ worker against real Redis."""
from __future__ import annotations

import json

from sqlalchemy import select

from shopapp.features.orders.models import Order
from shopapp.jobs.sweeper import sweep
from shopapp.models import Job, WebhookEvent


def _job(db) -> Job:
    with db.session() as s:
        return s.scalars(select(Job)).one()


def test_worker_applies_an_order_webhook_and_the_job_succeeds(client, signed_webhook, db, rq_worker):
    hook = signed_webhook("orders/create")
    assert hook.post(client).status_code == 200
    rq_worker()
    job = _job(db)
    assert (job.state, job.progress, job.attempts, job.error) == ("succeeded", 100, 1, None)
    assert "#9999" in job.message
    with db.session() as s:
        order = s.scalars(select(Order)).one()
        assert s.scalars(select(WebhookEvent.status)).one() == "processed"
    assert (order.shop_domain, order.order_id, order.financial_status, order.applied_count) == (
        hook.shop, 820982911946154508, "paid", 1)


def test_every_state_change_is_published_after_commit(client, signed_webhook, db, redis, rq_worker):
    hook = signed_webhook("orders/create")
    assert hook.post(client).status_code == 200
    rq_worker()
    log = [json.loads(m) for m in redis.zrange(f"shopapp:shop:{hook.shop}:eventlog", 0, -1)]
    assert [e["job"]["state"] for e in log] == ["queued", "running", "succeeded"]
    assert [e["seq"] for e in log] == list(range(log[0]["seq"], log[0]["seq"] + 3))
    job = _job(db)
    assert job.published_version == job.version - 1  # the last publish is recorded later, in the sweeper's batch
    with rq_worker.app.app_context():
        assert sweep(rq_worker.app, grace_seconds=0).republished == 1
    assert redis.zcard(f"shopapp:shop:{hook.shop}:eventlog") == 3  # republishing what got there is a no-op
    job = _job(db)
    assert job.published_version == job.version


def test_unknown_topic_job_succeeds_saying_no_handler(client, signed_webhook, db, rq_worker):
    assert signed_webhook("collections/create", payload={"id": 5}).post(client).status_code == 200
    rq_worker()
    job = _job(db)
    assert (job.state, job.message) == ("succeeded", "no handler for collections/create")
    with db.session() as s:
        assert s.scalars(select(WebhookEvent.status)).one() == "ignored"
