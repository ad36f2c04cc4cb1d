"""No accepted webhook is lost or applied twice: concurrent copies, Redis down, database down."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from shopapp.features.orders.models import Order
from shopapp.jobs.queue import get_queue
from shopapp.jobs.sweeper import sweep
from shopapp.models import Job, WebhookEvent
from shopapp.testing import wait_until
from shopapp.testing.workers import BurstWorker
from shopapp.webhooks import ingest


def _count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _all_succeeded(db) -> bool:
    with db.session() as s:
        states = s.scalars(select(Job.state)).all()
    return bool(states) and all(state == "succeeded" for state in states)


@pytest.mark.slow
def test_50_concurrent_copies_make_one_job_and_one_effect(web_server, signed_webhook, db, rq_worker):
    server = web_server(workers=2)
    hook = signed_webhook("orders/create")
    barrier = threading.Barrier(50)

    def deliver(_):
        with requests.Session() as http:
            barrier.wait(timeout=30)
            return http.post(server.url + "/webhooks", data=hook.body, headers=hook.headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(deliver, range(50)))
    assert statuses == [200] * 50
    assert _count(db, WebhookEvent) == 1 and _count(db, Job) == 1
    rq_worker(done=lambda: _all_succeeded(db))
    with db.session() as s:
        order = s.scalars(select(Order)).one()
    assert order.applied_count == 1


def test_webhook_is_committed_and_answered_200_while_redis_is_down(app_factory, private_redis, signed_webhook, db):
    app = app_factory(REDIS_URL=private_redis.url)
    private_redis.stop()
    hooks = [signed_webhook("orders/create", payload={"id": i, "updated_at": "2026-11-24T10:00:00Z"})
             for i in range(3)]
    assert [h.post(app.test_client()).status_code for h in hooks] == [200, 200, 200]
    assert _count(db, Job, Job.state == "queued") == 3
    private_redis.start()
    with app.app_context():
        assert sweep(app, grace_seconds=0).enqueued == 3
    BurstWorker(app).run_until(lambda: _all_succeeded(db))
    assert _count(db, Order) == 3


def test_after_redis_failed_ingestion_leaves_it_alone_for_a_moment(app_factory, private_redis, signed_webhook, db):
    # A Redis that does not answer costs each try the client's timeouts while the batch's requests wait.
    app = _one_webhook_while_redis_is_down_and_one_after(app_factory, private_redis, signed_webhook)
    assert _queued_in_redis(app) == 0  # within the pause: committed, left to the sweeper
    with app.app_context():
        assert sweep(app, grace_seconds=0).enqueued == 2


def test_after_the_pause_ingestion_enqueues_again(app_factory, private_redis, signed_webhook, db, monkeypatch):
    monkeypatch.setattr(ingest, "REDIS_PAUSE_SECONDS", 0.0)
    app = _one_webhook_while_redis_is_down_and_one_after(app_factory, private_redis, signed_webhook)
    assert _queued_in_redis(app) == 1


def _one_webhook_while_redis_is_down_and_one_after(app_factory, private_redis, signed_webhook):
    """An app whose Redis was stopped for one acknowledged webhook and started again for the next."""
    app = app_factory(REDIS_URL=private_redis.url)
    client = app.test_client()
    private_redis.stop()
    assert signed_webhook("orders/create").post(client).status_code == 200
    private_redis.start()
    assert signed_webhook("orders/create").post(client).status_code == 200
    return app


def _queued_in_redis(app) -> int:
    return len(get_queue(app).get_job_ids())


@pytest.mark.slow
def test_redis_stopped_during_ingestion_loses_nothing_after_the_sweep(web_server, app_factory, private_redis,
                                                                      signed_webhook, db):
    server = web_server(workers=2, env={"REDIS_URL": private_redis.url})
    answered, stop = [], threading.Event()

    def deliver():
        with requests.Session() as http:
            i = 0
            while not stop.is_set() or i < 40:
                hook = signed_webhook("orders/create", payload={"id": 1000 + i, "updated_at": "2026-11-24T10:00:00Z"})
                response = http.post(server.url + "/webhooks", data=hook.body, headers=hook.headers, timeout=30)
                answered.append((hook.webhook_id, response.status_code))
                i += 1

    sender = threading.Thread(target=deliver)
    sender.start()
    wait_until(lambda: len(answered) >= 10)
    private_redis.kill()
    seen = len(answered)
    wait_until(lambda: len(answered) >= seen + 10)
    private_redis.start()
    stop.set()
    sender.join(timeout=60)
    accepted = {webhook_id for webhook_id, status in answered if status == 200}
    assert len(accepted) == len(answered)  # Redis down never cost a delivery its 200
    app = app_factory(REDIS_URL=private_redis.url)
    BurstWorker(app).run_until(lambda: _all_succeeded(db), sweep=True, timeout=60)
    with db.session() as s:
        assert set(s.scalars(select(Job.webhook_id)).all()) == accepted
    assert _count(db, Order) == len(accepted)


def test_database_that_cannot_commit_answers_503(app_factory, signed_webhook, tmp_path, db):
    broken = app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")
    response = signed_webhook("orders/create").post(broken.test_client())
    assert response.status_code == 503
    assert response.get_json()["result"] == "unavailable"



@pytest.mark.slow
def test_database_that_cannot_commit_answers_503_under_gunicorn(web_server, signed_webhook, tmp_path, db):
    server = web_server(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'no-tables.sqlite3'}"})
    hooks = [signed_webhook("orders/create") for _ in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:  # concurrent, so they share the writer's batch
        statuses = list(pool.map(lambda h: requests.post(server.url + "/webhooks", data=h.body,
                                                         headers=h.headers, timeout=30).status_code, hooks))
    assert statuses == [503] * 5
    assert _count(db, WebhookEvent) == 0
