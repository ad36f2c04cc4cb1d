"""The merchant job "Sync products": pages through the shop's products with the Admin GraphQL client,
keeps a summary of each, reports "n of total" as it goes, and stops when the merchant cancels."""
from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest

from shopapp import redis_keys
from shopapp.features.products.models import Product
from shopapp.jobs import registry
from shopapp.models import Job
from shopapp.shopify.errors import REAUTH_MESSAGE
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.shop_tokens import install_shop, stored

SHOP = DEFAULT_SHOP


@pytest.fixture
def app_env(app_env, fake_shopify):
    return dict(app_env, SHOPIFY_ADMIN_ORIGIN=fake_shopify.url, SHOPIFY_API_BUDGET_PER_SECOND="0")


def start(client, session_token, **params) -> dict:
    body = {"kind": "sync_products", **({"params": params} if params else {})}
    response = client.post("/api/jobs", json=body, headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def job_row(db, job_id: int) -> Job:
    with db.session() as session:
        return session.get(Job, job_id)


def finished(db, job_id: int):
    return lambda: job_row(db, job_id).state in ("succeeded", "failed")


def products(db, shop: str = SHOP) -> list[Product]:
    with db.session() as session:
        return session.query(Product).filter_by(shop_domain=shop).order_by(Product.product_id).all()


def published(redis, job_id: int) -> list[dict]:
    """Every job event published for `job_id`, in seq order."""
    events = [json.loads(raw) for raw in redis.zrange(redis_keys.shop_event_log(SHOP), 0, -1)]
    return [e["job"] for e in events if e["job"]["id"] == job_id]


def test_the_sync_products_feature_registers_a_merchant_kind(app):
    assert "sync_products" in registry.merchant_kinds()


def test_sync_products_stores_every_product_and_reports_n_of_total(client, session_token, db, redis, rq_worker,
                                                                   fake_shopify):
    fake_shopify.add_products(SHOP, 23)
    fake_shopify.page_delay = 0.3  # pages further apart than the job's progress-report throttle
    job = start(client, session_token, page_size=10)
    assert fake_shopify.count("token_exchange") == 1  # the shop's first /api request got the offline token
    rq_worker(done=finished(db, job["id"]))
    row = job_row(db, job["id"])
    assert (row.state, row.progress, row.message) == ("succeeded", 100, "Synced 23 of 23 products")
    rows = products(db)
    assert [p.product_id for p in rows] == list(range(1000, 1023))
    first = rows[0]
    assert (first.title, first.status, first.vendor, first.product_type, first.handle) == \
        ("Product 1", "active", "Acme", "Widget", "product-1000")
    assert (first.total_inventory, first.variants_count) == (5, 1)
    assert first.source_updated_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert all(p.synced_at is not None for p in rows)
    # The merchant's page saw a moving bar: n of total, in order.
    progress = [(j["progress"], j["message"]) for j in published(redis, job["id"]) if j["state"] == "running"]
    assert (43, "10 of 23 products") in progress and (86, "20 of 23 products") in progress
    assert [p for p, _ in progress] == sorted(p for p, _ in progress)
    assert fake_shopify.count("graphql") == 4  # productsCount + 3 pages


def test_a_second_sync_updates_in_place(client, session_token, db, rq_worker, fake_shopify):
    fake_shopify.add_products(SHOP, 5)
    job = start(client, session_token)
    rq_worker(done=finished(db, job["id"]))
    fake_shopify.products[SHOP][0].title = "Renamed"
    fake_shopify.products[SHOP][0].updated_at = "2026-06-01T00:00:00Z"
    job = start(client, session_token)
    rq_worker(done=finished(db, job["id"]))
    rows = products(db)
    assert len(rows) == 5 and rows[0].title == "Renamed"


def test_a_product_a_newer_webhook_updated_keeps_the_newer_state(client, session_token, db, rq_worker,
                                                                 fake_shopify):
    fake_shopify.add_products(SHOP, 2)
    with db.session() as session:
        session.add(Product(shop_domain=SHOP, product_id=1000, title="From a newer webhook",
                            source_updated_at=datetime(2027, 1, 1, tzinfo=UTC), applied_count=1))
        session.commit()
    job = start(client, session_token)
    rq_worker(done=finished(db, job["id"]))
    newer, other = products(db)
    assert newer.title == "From a newer webhook" and newer.applied_count == 1 and newer.synced_at is not None
    assert other.title == "Product 2"


def test_a_merchant_can_cancel_a_running_sync(client, session_token, db, rq_worker, fake_shopify):
    fake_shopify.add_products(SHOP, 30)
    fake_shopify.page_delay = 0.3
    fake_shopify.hold_products_after(1)  # the second page waits until the merchant has cancelled
    job = start(client, session_token, page_size=10)
    seen, failures = {}, []

    def merchant():
        try:
            deadline = time.monotonic() + 30
            while job_row(db, job["id"]).message != "10 of 30 products":
                assert time.monotonic() < deadline, "the first page never showed up"
                time.sleep(0.05)
            row = job_row(db, job["id"])
            seen.update(state=row.state, progress=row.progress)
            answer = client.post(f"/api/jobs/{job['id']}/cancel",
                                 headers={"Authorization": f"Bearer {session_token()}"})
            seen["cancel_status"] = answer.status_code
        except BaseException as exc:  # asserted in the main thread
            failures.append(exc)
        finally:
            fake_shopify.release_products()

    observer = threading.Thread(target=merchant)
    observer.start()
    rq_worker(done=finished(db, job["id"]))
    observer.join(30)
    assert failures == []
    assert seen == {"state": "running", "progress": 33, "cancel_status": 202}
    row = job_row(db, job["id"])
    assert (row.state, row.error) == ("failed", "cancelled")
    assert len(products(db)) == 10   # what was synced before the cancel stays; nothing after it
    assert fake_shopify.count("graphql") == 3  # count, page 1, page 2 (held); never page 3


def test_a_shop_that_revoked_the_app_fails_the_job_with_a_clear_message(client, session_token, db, rq_worker,
                                                                        fake_shopify):
    install_shop(db, fake_shopify, SHOP, expires_in=30)  # due for a refresh
    fake_shopify.revoke(SHOP)
    job = start(client, session_token)
    rq_worker(done=finished(db, job["id"]))
    row = job_row(db, job["id"])
    assert (row.state, row.error, row.attempts) == ("failed", REAUTH_MESSAGE, 1)  # at once, no retries
    assert stored(db, SHOP).needs_reauth is True
    assert fake_shopify.count("graphql") == 0


def test_a_graphql_error_fails_the_job_without_retries(client, session_token, db, rq_worker, fake_shopify):
    fake_shopify.fail("graphql", 200, {"errors": [{"message": "Access denied for productsCount field."}]})
    job = start(client, session_token)
    rq_worker(done=finished(db, job["id"]))
    row = job_row(db, job["id"])
    assert row.state == "failed" and "Access denied" in row.error and row.attempts == 1


def test_a_throttled_sync_waits_and_finishes(client, session_token, db, rq_worker, fake_shopify):
    fake_shopify.add_products(SHOP, 20)
    fake_shopify.set_bucket(SHOP, available=5, maximum=30, restore_rate=100)
    job = start(client, session_token, page_size=10)
    rq_worker(done=finished(db, job["id"]))
    assert job_row(db, job["id"]).state == "succeeded"
    assert len(products(db)) == 20


@pytest.mark.slow
def test_a_worker_process_runs_sync_products(client, session_token, db, worker_process, fake_shopify):
    fake_shopify.add_products(SHOP, 12)
    worker = worker_process()
    job = start(client, session_token, page_size=5)
    deadline = time.monotonic() + 60
    while not finished(db, job["id"])():
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.1)
    assert job_row(db, job["id"]).state == "succeeded", worker.output()[-3000:]
    assert len(products(db)) == 12
