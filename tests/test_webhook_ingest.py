"""POST /webhooks: what is recorded, enqueued and answered for an accepted or repeated delivery."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from shopapp.jobs.queue import get_queue
from shopapp.models import Job, WebhookEvent


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_accepted_webhook_is_committed_with_its_job_and_enqueued(client, signed_webhook, db, app):
    hook = signed_webhook("orders/create")
    response = hook.post(client)
    assert response.status_code == 200
    assert response.get_json()["result"] == "accepted"
    with db.session() as s:
        event = s.scalars(select(WebhookEvent)).one()
        job = s.scalars(select(Job)).one()
    assert (event.webhook_id, event.topic, event.shop_domain) == (hook.webhook_id, "orders/create", hook.shop)
    assert event.payload == json.loads(hook.body)
    assert event.triggered_at is not None and event.event_id == hook.headers["X-Shopify-Event-Id"]
    assert (job.kind, job.topic, job.webhook_id, job.state) == ("webhook", "orders/create", hook.webhook_id, "queued")
    assert job.webhook_event_id == event.id
    assert get_queue(app).get_job_ids() == [f"job-{job.id}"]


def test_the_queued_state_is_published_as_the_delivery_is_committed(client, signed_webhook, redis, db):
    hook = signed_webhook("orders/create")
    assert hook.post(client).status_code == 200  # no worker runs: the page learns of the job at once
    [message] = redis.zrange(f"shopapp:shop:{hook.shop}:eventlog", 0, -1)
    with db.session() as s:
        job = s.scalars(select(Job)).one()
    assert json.loads(message)["job"] == job.to_dict() and job.to_dict()["state"] == "queued"


def test_a_queued_job_whose_event_redis_lost_is_published_by_the_sweeper(client, signed_webhook, redis, app):
    from shopapp.jobs.sweeper import sweep

    hook = signed_webhook("orders/create")
    assert hook.post(client).status_code == 200
    redis.delete(f"shopapp:shop:{hook.shop}:eventlog", *redis.keys(f"shopapp:shop:{hook.shop}:jobversions:*"))
    with app.app_context():
        assert sweep(app, grace_seconds=0).republished == 1
    [message] = redis.zrange(f"shopapp:shop:{hook.shop}:eventlog", 0, -1)
    event = json.loads(message)
    assert event["type"] == "job" and event["job"]["state"] == "queued"
    assert event["job"]["webhook_id"] == hook.webhook_id


def test_repeated_webhook_id_answers_200_and_creates_nothing(client, signed_webhook, db, app):
    first = signed_webhook("orders/create", webhook_id="same-delivery")
    again = signed_webhook("orders/updated", webhook_id="same-delivery")
    assert first.post(client).status_code == 200
    response = again.post(client)
    assert response.status_code == 200
    assert response.get_json()["result"] == "duplicate"
    assert _count(db, WebhookEvent) == 1 and _count(db, Job) == 1
    assert len(get_queue(app).get_job_ids()) == 1


def test_newer_header_spelling_without_x_prefix_is_accepted(client, signed_webhook, db):
    hook = signed_webhook("orders/create")
    headers = {k.replace("X-Shopify-", "Shopify-"): v for k, v in hook.headers.items()}
    assert client.post("/webhooks", data=hook.body, headers=headers).status_code == 200
    with db.session() as s:
        assert s.scalars(select(WebhookEvent.webhook_id)).one() == hook.webhook_id


def test_header_names_are_accepted_in_any_case(client, signed_webhook, db):
    hook = signed_webhook("orders/create")
    headers = {k.lower(): v for k, v in hook.headers.items()}
    assert client.post("/webhooks", data=hook.body, headers=headers).status_code == 200
    assert _count(db, Job) == 1


def test_webhook_signed_with_the_previous_secret_is_accepted_during_rotation(config, app_factory, signed_webhook, db):
    rotated = app_factory(SHOPIFY_API_SECRET="brand-new-secret", SHOPIFY_API_SECRET_PREVIOUS=config.SHOPIFY_API_SECRET)
    hook = signed_webhook("orders/create")  # signed with the old secret
    assert hook.post(rotated.test_client()).status_code == 200
    fresh = signed_webhook("orders/create", secret="brand-new-secret")
    assert fresh.post(rotated.test_client()).status_code == 200
    assert _count(db, Job) == 2


def test_webhook_for_an_unknown_topic_is_recorded(client, signed_webhook, db):
    hook = signed_webhook("collections/create", payload={"id": 1})
    assert hook.post(client).status_code == 200
    with db.session() as s:
        assert s.scalars(select(Job.topic)).one() == "collections/create"


def test_a_batch_records_each_webhook_id_once(app, client, signed_webhook, db):
    import io

    from shopapp.webhooks.ingest import record_deliveries
    from shopapp.webhooks.verify import verify_webhook

    assert signed_webhook("orders/create", webhook_id="stored").post(client).status_code == 200
    hooks = [signed_webhook("orders/create", webhook_id=w, payload={"id": n})
             for n, w in enumerate(["a", "b", "a", "stored"])]
    deliveries = [verify_webhook("POST", h.headers, io.BytesIO(h.body), len(h.body), [app.config["SHOPIFY_API_SECRET"]],
                                 app.config["WEBHOOK_MAX_BYTES"]) for h in hooks]
    results = record_deliveries(app, deliveries)
    assert [r.duplicate for r in results] == [False, False, True, True]
    assert all(r.enqueued for r in results[:2]) and len({r.job_id for r in results[:2]}) == 2
    with db.session() as s:
        assert s.scalars(select(WebhookEvent.payload).where(WebhookEvent.webhook_id == "a")).one() == {"id": 0}
    assert _count(db, Job) == 3 and len(get_queue(app).get_job_ids()) == 3
