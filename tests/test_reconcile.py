"""Catching up on what Shopify never sent: `reconcile` re-reads orders and products through the Admin API
(the Shopify stand-in) and applies them through the same projections and stale guard as the webhooks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shopapp.features.orders.models import Order
from shopapp.features.products.models import Product
from shopapp.jobs import queue as jobs_queue
from shopapp.jobs.sweeper import sweep_with_lock
from shopapp.models import Job, Shop, utcnow
from shopapp.testing import SHOP
from tests.support.fake_catalog import timestamp
from tests.support.shop_tokens import install_shop

SINCE = "2025-12-31T00:00:00Z"


@pytest.fixture
def app_env(app_env, fake_shopify):
    return dict(app_env, SHOPIFY_ADMIN_ORIGIN=fake_shopify.url, SHOPIFY_API_BUDGET_PER_SECOND="0")


@pytest.fixture
def installed(db, fake_shopify):
    return install_shop(db, fake_shopify, SHOP)


def order_webhook(i: int, minutes: int) -> dict:
    """The orders/updated payload Shopify sent for the stand-in's order i as it was `minutes` in."""
    return {"id": 5000 + i, "name": f"#{1001 + i}", "email": "customer@example.com", "updated_at": timestamp(minutes),
            "financial_status": "paid", "fulfillment_status": None, "total_price": "25.00", "currency": "USD",
            "customer": {"id": 7001}}


def product_webhook(i: int, minutes: int) -> dict:
    return {"id": 1000 + i, "title": f"Product {i + 1}", "status": "active", "vendor": "Acme",
            "product_type": "Widget", "handle": f"product-{1000 + i}", "updated_at": timestamp(minutes),
            "variants": [{"inventory_quantity": 5}]}


def reconcile(app, db, rq_worker, **params) -> Job:
    job_id = jobs_queue.start_merchant_job(app, SHOP, "reconcile", params)["id"]
    rq_worker()
    with db.session() as s:
        return s.get(Job, job_id)


def rows(db, model, key) -> dict:
    with db.session() as s:
        return {getattr(row, key): row for row in s.scalars(select(model))}


def test_one_reconcile_fixes_the_changes_whose_webhooks_never_came_and_rewrites_nothing_else(
        app, db, client, signed_webhook, rq_worker, fake_shopify, installed):
    fake_shopify.add_orders(SHOP, 25)
    fake_shopify.add_products(SHOP, 25)
    # 50 changes; 40 webhooks arrived. Of the 10 that never came, 5 are records the app never saw, and 5
    # are updates of records whose older version it holds.
    for i in range(20):
        assert signed_webhook("orders/updated", payload=order_webhook(i, i)).post(client).status_code == 200
        assert signed_webhook("products/update", payload=product_webhook(i, i)).post(client).status_code == 200
    for i in (20, 21):
        signed_webhook("orders/updated", payload=dict(order_webhook(i, i - 60), name="#old")).post(client)
    for i in (20, 21, 22):
        signed_webhook("products/update", payload=dict(product_webhook(i, i - 60), title="old")).post(client)
    rq_worker()
    before = {key: (row.applied_count, row.updated_at) for key, row in rows(db, Order, "order_id").items()
              if key < 5020} | {key: (row.applied_count, row.updated_at)
                                for key, row in rows(db, Product, "product_id").items() if key < 1020}

    job = reconcile(app, db, rq_worker, since=SINCE)

    assert job.state == "succeeded", job.error
    assert job.message.startswith("checked 50 records, fixed 10")
    orders, products = rows(db, Order, "order_id"), rows(db, Product, "product_id")
    assert sorted(orders) == list(range(5000, 5025)) and sorted(products) == list(range(1000, 1025))
    for i, order in enumerate(fake_shopify.orders[SHOP]):
        row = orders[order.id]
        assert (row.name, row.financial_status, row.total_price) == (order.name, "paid", "25.00")
        assert row.source_updated_at.isoformat().replace("+00:00", "Z") == order.updated_at, i
    for product in fake_shopify.products[SHOP]:
        row = products[product.id]
        assert (row.title, row.status, row.total_inventory) == (product.title, "active", 5)
    after = {key: (orders[key].applied_count, orders[key].updated_at) for key in orders if key < 5020} | \
            {key: (products[key].applied_count, products[key].updated_at) for key in products if key < 1020}
    assert after == before  # the 40 current rows were not rewritten


def test_a_row_newer_than_what_shopify_lists_is_left_alone(app, db, client, signed_webhook, rq_worker,
                                                           fake_shopify, installed):
    fake_shopify.add_orders(SHOP, 1)
    newer = dict(order_webhook(0, 90), name="#1001 (edited later)")
    assert signed_webhook("orders/updated", payload=newer).post(client).status_code == 200
    rq_worker()
    job = reconcile(app, db, rq_worker, since=SINCE)
    assert job.message.startswith("checked 1 records, fixed 0")
    assert rows(db, Order, "order_id")[5000].name == "#1001 (edited later)"


def test_the_default_start_is_the_last_successful_reconcile(app, db, rq_worker, fake_shopify, installed):
    fake_shopify.add_orders(SHOP, 3)
    first = reconcile(app, db, rq_worker, since=SINCE)
    assert first.message.startswith("checked 3 records, fixed 3")
    second = reconcile(app, db, rq_worker)  # nothing changed since the first one started
    assert second.message.startswith("checked 0 records, fixed 0")
    assert first.started_at.isoformat().replace("+00:00", "Z") in second.message


def test_without_an_earlier_reconcile_it_looks_24_hours_back(app, db, rq_worker, fake_shopify, installed):
    fake_shopify.add_orders(SHOP, 2)  # updated in January 2026: long before the last 24 hours
    job = reconcile(app, db, rq_worker)
    assert job.message.startswith("checked 0 records, fixed 0")


def test_it_reports_the_admin_api_points_it_used(app, db, rq_worker, fake_shopify, installed):
    fake_shopify.add_products(SHOP, 3)
    job = reconcile(app, db, rq_worker, since=SINCE)
    # the stand-in charges 1 per count and 2 + first per page: 2 counts, one page of orders and one of products
    assert job.message.endswith("; 206 Admin API points)")


def test_a_shop_runs_one_reconcile_at_a_time(app, db, installed):
    first = jobs_queue.start_merchant_job(app, SHOP, "reconcile")
    again = jobs_queue.start_merchant_job(app, SHOP, "reconcile")
    assert again["id"] == first["id"]


def test_a_reconcile_started_while_another_runs_elsewhere_does_nothing(app, db, redis, rq_worker, installed):
    from shopapp import redis_keys

    held = redis.lock(redis_keys.shop_reconcile_lock(SHOP), timeout=60)
    assert held.acquire(blocking=False)  # another machine is reconciling this shop
    job = reconcile(app, db, rq_worker)
    held.release()
    assert (job.state, job.message) == ("succeeded", "another catch-up of this shop is running")


def test_a_malformed_start_time_fails_the_job_with_what_is_wrong(app, db, rq_worker, installed):
    job = reconcile(app, db, rq_worker, since="yesterday")
    assert (job.state, job.error) == ("failed", "params.since='yesterday' is not an ISO 8601 time")


def test_the_workers_start_a_reconcile_for_each_installed_shop_when_it_is_due(app_factory, db, fake_shopify):
    app = app_factory(RECONCILE_INTERVAL_SECONDS=3600)
    install_shop(db, fake_shopify, SHOP)
    install_shop(db, fake_shopify, "gone.myshopify.com")
    install_shop(db, fake_shopify, "lost.myshopify.com")
    with db.session() as s:
        s.execute(update(Shop).where(Shop.domain == "gone.myshopify.com").values(installed=False))
        s.execute(update(Shop).where(Shop.domain == "lost.myshopify.com").values(needs_reauth=True))
        s.commit()
    with app.app_context():
        sweep_with_lock(app)
        sweep_with_lock(app)  # the next pass finds it already started
    with db.session() as s:
        started = s.execute(select(Job.shop_domain, Job.kind)).all()
    assert started == [(SHOP, "reconcile")]


def test_a_shop_is_due_again_once_the_interval_passed(app_factory, db, fake_shopify):
    app = app_factory(RECONCILE_INTERVAL_SECONDS=3600)
    install_shop(db, fake_shopify, SHOP)
    with db.session() as s:
        s.add(Job(shop_domain=SHOP, kind="reconcile", state="succeeded", params={},
                  created_at=utcnow() - timedelta(hours=2)))
        s.commit()
    with app.app_context():
        sweep_with_lock(app)
    with db.session() as s:
        assert s.scalars(select(Job.state).where(Job.kind == "reconcile").order_by(Job.id)).all() == \
            ["succeeded", "queued"]
