"""One event, one effect: the same event reaching the app through two subscriptions (two webhook ids, one
`X-Shopify-Event-Id`) is recorded once, decided by a unique constraint on (event id, topic), like the
webhook-id dedupe."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from shopapp.features.orders.models import Order
from shopapp.jobs.queue import get_queue
from shopapp.models import Job, WebhookEvent
from shopapp.testing.webhooks import deliver_at_once
from shopapp.webhooks.ingest import record_deliveries
from shopapp.webhooks.verify import verify_webhook


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_second_delivery_of_an_event_answers_duplicate_and_creates_nothing(client, signed_webhook, db, app):
    first = signed_webhook("orders/create", webhook_id="app-subscription", event_id="event-1")
    again = signed_webhook("orders/create", webhook_id="shop-subscription", event_id="event-1")
    assert first.post(client).get_json()["result"] == "accepted"
    response = again.post(client)
    assert response.status_code == 200 and response.get_json() == {"result": "duplicate"}
    assert _count(db, WebhookEvent) == 1 and _count(db, Job) == 1
    assert len(get_queue(app).get_job_ids()) == 1


def test_the_event_row_keeps_both_ids(client, signed_webhook, db):
    assert signed_webhook("orders/create", webhook_id="w-1", event_id="e-1").post(client).status_code == 200
    with db.session() as s:
        event = s.scalars(select(WebhookEvent)).one()
    assert (event.webhook_id, event.event_id) == ("w-1", "e-1")


def test_one_event_id_under_two_topics_is_two_events(client, signed_webhook, db):
    assert signed_webhook("orders/create", event_id="e-1").post(client).get_json()["result"] == "accepted"
    assert signed_webhook("orders/updated", event_id="e-1").post(client).get_json()["result"] == "accepted"
    assert _count(db, WebhookEvent) == 2


def test_deliveries_without_an_event_id_never_collide(client, signed_webhook, db):
    for _ in range(3):
        hook = signed_webhook("orders/create", headers={"X-Shopify-Event-Id": None})
        assert hook.post(client).get_json()["result"] == "accepted"
    assert _count(db, WebhookEvent) == 3


def test_two_copies_of_one_event_in_one_batch_are_recorded_once(app, signed_webhook, db):
    hooks = [signed_webhook("orders/create", webhook_id=w, event_id=e, payload={"id": n})
             for n, (w, e) in enumerate([("a", "e-1"), ("b", "e-1"), ("c", "e-2"), ("d", None)])]
    deliveries = [verify_webhook("POST", h.headers, io.BytesIO(h.body), len(h.body), [app.config["SHOPIFY_API_SECRET"]],
                                 app.config["WEBHOOK_MAX_BYTES"]) for h in hooks]
    results = record_deliveries(app, deliveries)
    assert [r.duplicate for r in results] == [False, True, False, False]
    with db.session() as s:
        assert s.scalars(select(WebhookEvent.payload).where(WebhookEvent.event_id == "e-1")).one() == {"id": 0}
    assert _count(db, Job) == 3 and len(get_queue(app).get_job_ids()) == 3


def test_a_batch_copy_of_an_event_already_stored_is_a_duplicate(app, client, signed_webhook, db):
    assert signed_webhook("orders/create", webhook_id="stored", event_id="e-1").post(client).status_code == 200
    hook = signed_webhook("orders/create", webhook_id="new", event_id="e-1")
    delivery = verify_webhook("POST", hook.headers, io.BytesIO(hook.body), len(hook.body),
                              [app.config["SHOPIFY_API_SECRET"]], app.config["WEBHOOK_MAX_BYTES"])
    [result] = record_deliveries(app, [delivery])
    assert result.duplicate and _count(db, WebhookEvent) == 1


@pytest.mark.slow
def test_50_concurrent_deliveries_of_one_event_make_one_job_and_one_effect(web_server, signed_webhook, db,
                                                                           rq_worker):
    server = web_server(workers=2)
    hooks = [signed_webhook("orders/create", event_id="one-event") for _ in range(50)]  # 50 webhook ids
    assert len({h.webhook_id for h in hooks}) == 50
    assert deliver_at_once(server.url + "/webhooks", hooks) == [200] * 50
    assert _count(db, WebhookEvent) == 1 and _count(db, Job) == 1
    rq_worker(done=lambda: _all_succeeded(db))
    with db.session() as s:
        assert s.scalars(select(Order.applied_count)).one() == 1


def _all_succeeded(db) -> bool:
    with db.session() as s:
        states = s.scalars(select(Job.state)).all()
    return bool(states) and all(state == "succeeded" for state in states)
