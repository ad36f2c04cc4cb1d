"""Topic handlers on real data: orders and products projections, stale deliveries, app/uninstalled."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shopapp.features.orders.models import Order
from shopapp.features.products.models import Product
from shopapp.models import Job, Shop, WebhookEvent, utcnow
from shopapp.testing import sample_payload

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _deliver(client, signed_webhook, topic, payload=None, triggered_at=None, shop="test-shop.myshopify.com"):
    hook = signed_webhook(topic, payload=payload, triggered_at=triggered_at, shop=shop)
    assert hook.post(client).status_code == 200
    return hook


def _job(db, webhook_id) -> Job:
    with db.session() as s:
        return s.scalars(select(Job).where(Job.webhook_id == webhook_id)).one()


def _order(db, order_id=820982911946154508) -> Order:
    with db.session() as s:
        return s.scalars(select(Order).where(Order.order_id == order_id)).one()


def test_orders_updated_applies_a_newer_state(client, signed_webhook, db, rq_worker):
    _deliver(client, signed_webhook, "orders/create", triggered_at=T0)
    rq_worker()
    hook = _deliver(client, signed_webhook, "orders/updated", triggered_at=T0 + timedelta(minutes=5))
    rq_worker()
    order = _order(db)
    assert (order.fulfillment_status, order.applied_count) == ("fulfilled", 2)
    assert _job(db, hook.webhook_id).message == "order #9999 updated"


def test_older_order_delivered_late_is_ignored_and_the_job_says_stale(client, signed_webhook, db, rq_worker):
    _deliver(client, signed_webhook, "orders/updated", triggered_at=T0 + timedelta(minutes=5))
    rq_worker()
    late = _deliver(client, signed_webhook, "orders/create", triggered_at=T0)  # older updated_at
    rq_worker()
    order = _order(db)
    assert (order.fulfillment_status, order.applied_count) == ("fulfilled", 1)
    job = _job(db, late.webhook_id)
    assert job.state == "succeeded" and job.message.startswith("stale delivery ignored: order 820982911946154508")
    assert "updated_at" in job.message
    with db.session() as s:
        status = s.scalars(select(WebhookEvent.status).where(WebhookEvent.webhook_id == late.webhook_id)).one()
    assert status == "ignored"


def test_same_order_state_triggered_earlier_is_stale_by_triggered_at(client, signed_webhook, db, rq_worker):
    _deliver(client, signed_webhook, "orders/updated", triggered_at=T0 + timedelta(minutes=5))
    rq_worker()
    replayed = _deliver(client, signed_webhook, "orders/updated", triggered_at=T0)
    rq_worker()
    assert _order(db).applied_count == 1
    assert "triggered at" in _job(db, replayed.webhook_id).message


def test_product_update_and_delete_keep_the_projection_current(client, signed_webhook, db, rq_worker):
    _deliver(client, signed_webhook, "products/create", triggered_at=T0)
    _deliver(client, signed_webhook, "products/update", triggered_at=T0 + timedelta(minutes=1))
    rq_worker()
    with db.session() as s:
        product = s.scalars(select(Product)).one()
    assert (product.title, product.total_inventory, product.variants_count) == ("Example T-Shirt (new season)", 115, 2)
    _deliver(client, signed_webhook, "products/delete", triggered_at=T0 + timedelta(minutes=2))
    stale = _deliver(client, signed_webhook, "products/update", triggered_at=T0 + timedelta(minutes=1, seconds=30))
    rq_worker()
    with db.session() as s:
        assert s.scalars(select(Product.status)).one() == "deleted"
    assert "stale delivery ignored: product" in _job(db, stale.webhook_id).message


def test_order_payload_without_an_id_fails_at_once(client, signed_webhook, db, rq_worker):
    hook = _deliver(client, signed_webhook, "orders/create", payload={"name": "#1"})
    rq_worker()
    job = _job(db, hook.webhook_id)
    assert (job.state, job.attempts) == ("failed", 1) and "no order id" in job.error


def _installed_shop(db, domain="test-shop.myshopify.com") -> None:
    with db.session() as s:
        s.add(Shop(domain=domain, installed=True, installed_at=T0 - timedelta(days=1),
                   access_token="shpat_secret", refresh_token="shprt_secret"))
        s.commit()


def test_app_uninstalled_marks_the_shop_deletes_tokens_and_closes_sockets(client, signed_webhook, db, redis,
                                                                          rq_worker):
    _installed_shop(db)
    control = redis.pubsub()
    control.subscribe("shopapp:control")
    control.get_message(timeout=1)
    try:
        hook = _deliver(client, signed_webhook, "app/uninstalled", triggered_at=T0)
        rq_worker()
        message = control.get_message(timeout=5)
    finally:
        control.close()
    with db.session() as s:
        shop = s.scalars(select(Shop)).one()
    assert (shop.installed, shop.access_token, shop.refresh_token) == (False, None, None)
    assert shop.uninstalled_at is not None
    assert json.loads(message["data"]) == {"type": "shop_uninstalled", "shop": "test-shop.myshopify.com"}
    assert _job(db, hook.webhook_id).message == "shop uninstalled; tokens deleted"


def test_app_uninstalled_twice_is_harmless(client, signed_webhook, db, rq_worker):
    _installed_shop(db)
    _deliver(client, signed_webhook, "app/uninstalled", triggered_at=T0)
    rq_worker()
    again = _deliver(client, signed_webhook, "app/uninstalled", triggered_at=T0 + timedelta(seconds=1))
    rq_worker()
    job = _job(db, again.webhook_id)
    assert (job.state, job.message) == ("succeeded", "shop already uninstalled")


def test_app_uninstalled_for_an_unknown_shop_succeeds(client, signed_webhook, db, rq_worker):
    hook = _deliver(client, signed_webhook, "app/uninstalled", shop="never-seen.myshopify.com")
    rq_worker()
    job = _job(db, hook.webhook_id)
    assert job.state == "succeeded" and "nothing to remove" in job.message
    with db.session() as s:
        assert s.scalars(select(Shop)).first() is None


def test_uninstall_triggered_before_a_reinstall_is_ignored(client, signed_webhook, db, rq_worker):
    _installed_shop(db)
    hook = _deliver(client, signed_webhook, "app/uninstalled", triggered_at=T0 - timedelta(days=2))
    rq_worker()
    with db.session() as s:
        assert s.scalars(select(Shop.installed)).one() is True
    assert "reinstalled" in _job(db, hook.webhook_id).message


def test_order_webhook_after_uninstall_is_recorded_but_not_applied(client, signed_webhook, db, rq_worker):
    with db.session() as s:
        s.add(Shop(domain="test-shop.myshopify.com", installed=False, uninstalled_at=utcnow()))
        s.commit()
    hook = _deliver(client, signed_webhook, "orders/create")
    rq_worker()
    assert "uninstalled" in _job(db, hook.webhook_id).message
    with db.session() as s:
        assert s.scalars(select(Order)).first() is None


def test_every_fixture_topic_is_processed_without_error(client, signed_webhook, db, rq_worker):
    from shopapp.jobs import registry

    topics = sorted(registry.topics())
    for topic in topics:  # one shop per topic, so that shop/redact only erases its own shop
        assert sample_payload(topic), f"no sample payload for {topic}"
        _deliver(client, signed_webhook, topic, shop=topic.replace("/", "-").replace("_", "-") + ".myshopify.com")
    rq_worker()
    with db.session() as s:
        assert {j.topic: (j.state, j.error) for j in s.scalars(select(Job))} == {t: ("succeeded", None) for t in topics}
