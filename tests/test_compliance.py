"""Compliance webhooks: customers/data_request, customers/redact, shop/redact, on real stored data."""
from __future__ import annotations

import json
import logging

from sqlalchemy import select

from shopapp.features.orders.models import Order
from shopapp.features.products.models import Product
from shopapp.models import ComplianceRequest, Job, Shop, WebhookEvent
from shopapp.testing import sample_payload

SHOP = "test-shop.myshopify.com"
OTHER_SHOP = "other-shop.myshopify.com"
BOB = 706405506930370084
BOB_ORDER = 820982911946154508


def _deliver(client, signed_webhook, topic, payload=None, shop=SHOP):
    hook = signed_webhook(topic, payload=payload, shop=shop)
    assert hook.post(client).status_code == 200
    return hook


def _alice_order() -> dict:
    order = sample_payload("orders/create")
    order.update(id=111, name="#1001", email="alice@example.com", contact_email="alice@example.com")
    order["customer"] = dict(order["customer"], id=5550001, email="alice@example.com")
    return order


def _seed(client, signed_webhook, rq_worker) -> None:
    _deliver(client, signed_webhook, "orders/create")            # Bob's order
    _deliver(client, signed_webhook, "orders/create", _alice_order())
    _deliver(client, signed_webhook, "orders/create", shop=OTHER_SHOP)  # Bob at another shop
    _deliver(client, signed_webhook, "products/create")
    rq_worker()


def _request(db, topic) -> ComplianceRequest:
    with db.session() as s:
        return s.scalars(select(ComplianceRequest).where(ComplianceRequest.topic == topic)).one()


def test_data_request_records_what_we_hold_without_customer_data(client, signed_webhook, db, rq_worker):
    _seed(client, signed_webhook, rq_worker)
    hook = _deliver(client, signed_webhook, "customers/data_request")
    rq_worker()
    request = _request(db, "customers/data_request")
    assert (request.shop_domain, request.customer_id, request.status) == (SHOP, BOB, "completed")
    assert request.webhook_id == hook.webhook_id
    assert request.orders_requested == {"ids": [BOB_ORDER]}
    assert request.result["order_ids"] == [BOB_ORDER] and request.result["orders"] == 1
    assert request.result["webhook_payloads"] == 2  # Bob's order and the request itself
    assert "bob.norman@example.com" not in json.dumps(request.result)
    with db.session() as s:
        assert len(s.scalars(select(Order)).all()) == 3  # nothing deleted


def test_customer_redact_deletes_their_orders_and_redacts_payloads_mentioning_them(client, signed_webhook, db,
                                                                                   rq_worker):
    _seed(client, signed_webhook, rq_worker)
    _deliver(client, signed_webhook, "customers/data_request")
    hook = _deliver(client, signed_webhook, "customers/redact")
    rq_worker()
    with db.session() as s:
        orders = {(o.shop_domain, o.order_id) for o in s.scalars(select(Order))}
        events = s.scalars(select(WebhookEvent)).all()
        job = s.scalars(select(Job).where(Job.webhook_id == hook.webhook_id)).one()
    assert orders == {(SHOP, 111), (OTHER_SHOP, BOB_ORDER)}
    stored = [json.dumps(e.payload) for e in events if e.shop_domain == SHOP and e.payload is not None]
    assert stored and not any("bob.norman@example.com" in p for p in stored)
    redacted = [e for e in events if e.status == "redacted"]
    assert {e.topic for e in redacted} == {"orders/create", "customers/data_request", "customers/redact"}
    assert all(e.payload is None for e in redacted)
    assert any(e.shop_domain == OTHER_SHOP and e.payload for e in events)  # other shops are untouched
    request = _request(db, "customers/redact")
    assert request.result["orders_deleted"] == 1 and request.result["webhook_payloads_redacted"] == 3
    assert job.state == "succeeded" and "1 orders deleted" in job.message


def test_job_whose_payload_was_redacted_before_it_ran_is_ignored(client, signed_webhook, db, rq_worker):
    order_hook = _deliver(client, signed_webhook, "orders/create")
    _deliver(client, signed_webhook, "customers/redact")
    with db.session() as s:  # run the redaction first, as if the order's job were still waiting
        redact_job = s.scalars(select(Job).where(Job.topic == "customers/redact")).one()
    from shopapp.jobs.runner import run_job

    with rq_worker.app.app_context():
        run_job(rq_worker.app, redact_job.id)
    rq_worker()
    with db.session() as s:
        job = s.scalars(select(Job).where(Job.webhook_id == order_hook.webhook_id)).one()
        assert s.scalars(select(Order)).first() is None
    assert job.state == "succeeded" and "redacted" in job.message


def test_shop_redact_erases_everything_of_that_shop_only(client, signed_webhook, db, rq_worker):
    with db.session() as s:
        s.add_all([Shop(domain=SHOP, installed=False, access_token="shpat_x"), Shop(domain=OTHER_SHOP)])
        s.commit()
    _seed(client, signed_webhook, rq_worker)
    _deliver(client, signed_webhook, "customers/data_request")
    rq_worker()
    hook = _deliver(client, signed_webhook, "shop/redact")
    rq_worker()
    with db.session() as s:
        assert [o.shop_domain for o in s.scalars(select(Order))] == [OTHER_SHOP]
        assert s.scalars(select(Product)).first() is None
        assert [sh.domain for sh in s.scalars(select(Shop))] == [OTHER_SHOP]
        own = s.scalars(select(WebhookEvent).where(WebhookEvent.shop_domain == SHOP)).all()
        assert [e.topic for e in own] == ["shop/redact"]
        assert [j.webhook_id for j in s.scalars(select(Job).where(Job.shop_domain == SHOP))] == [hook.webhook_id]
        assert [r.topic for r in s.scalars(select(ComplianceRequest))] == ["shop/redact"]
        job = s.scalars(select(Job).where(Job.webhook_id == hook.webhook_id)).one()
    assert job.state == "succeeded" and job.message.startswith("shop redacted:")


def test_logs_never_hold_payloads_or_customer_data(client, signed_webhook, db, rq_worker, caplog):
    caplog.set_level(logging.DEBUG)
    _seed(client, signed_webhook, rq_worker)
    _deliver(client, signed_webhook, "customers/redact")
    _deliver(client, signed_webhook, "orders/create", payload={"no": "id"})  # fails, error is logged
    rq_worker()
    text = caplog.text + "".join(json.dumps(getattr(r, "__dict__", {}), default=str) for r in caplog.records)
    for secret in ("bob.norman@example.com", "alice@example.com", "+16135550142", "Amoebobacterium", "shpat_"):
        assert secret not in text


def test_shop_redact_forgets_the_shops_live_events_but_its_own(client, signed_webhook, db, rq_worker, redis):
    _seed(client, signed_webhook, rq_worker)
    hook = _deliver(client, signed_webhook, "shop/redact")
    rq_worker()
    with db.session() as s:
        redact_job = s.scalars(select(Job).where(Job.webhook_id == hook.webhook_id)).one().id
    logged = {json.loads(m)["job"]["id"] for m in redis.zrange(f"shopapp:shop:{SHOP}:eventlog", 0, -1)}
    versions = {int(job_id) for key in redis.keys(f"shopapp:shop:{SHOP}:jobversions:*") for job_id in redis.hkeys(key)}
    assert logged == versions == {redact_job}
    assert redis.zcard(f"shopapp:shop:{OTHER_SHOP}:eventlog") > 0


def test_shop_redact_keeps_the_data_of_a_shop_installed_again(client, signed_webhook, db, rq_worker):
    with db.session() as s:
        s.add(Shop(domain=SHOP, installed=True, access_token="shpat_x"))
        s.commit()
    _seed(client, signed_webhook, rq_worker)
    _deliver(client, signed_webhook, "shop/redact")
    rq_worker()
    with db.session() as s:
        assert {o.shop_domain for o in s.scalars(select(Order))} == {SHOP, OTHER_SHOP}
        assert [sh.domain for sh in s.scalars(select(Shop))] == [SHOP]
    request = _request(db, "shop/redact")
    assert (request.status, request.result) == ("completed", {"kept": "the shop is installed"})
