"""Failed work in bulk: counts by state, "Retry all failed", and a job's detail view (attempts, delivery ids and
times, never the payload's customer data)."""
from __future__ import annotations

import json

from shopapp.admin.api import RETRY_FAILED_BATCH
from shopapp.events.snapshot import job_detail
from shopapp.jobs import queue as jobs_queue
from shopapp.testing import OTHER_SHOP, SHOP, sample_payload
from shopapp.testing.workers import BurstWorker
from tests.support.jobs import add_job, load_job


def test_counts_name_every_state_for_the_tokens_shop_only(api, db):
    for state in ("failed", "failed", "succeeded", "queued"):
        add_job(db, state=state)
    add_job(db, OTHER_SHOP, state="failed")
    assert api("GET", "/api/jobs/counts").get_json() == {"queued": 1, "running": 0, "retrying": 0,
                                                         "succeeded": 1, "failed": 2}


def test_retry_all_failed_queues_this_shops_failed_jobs_and_is_idempotent(api, db):
    mine = [add_job(db, state="failed", error="boom", attempts=5) for _ in range(3)]
    theirs = add_job(db, OTHER_SHOP, state="failed", error="boom")
    first = api("POST", "/api/jobs/retry-failed")
    assert first.status_code == 202
    assert (first.get_json()["retried"], first.get_json()["remaining"]) == (3, 0)
    assert {load_job(db, i).state for i in mine} == {"queued"} and load_job(db, theirs).state == "failed"
    again = api("POST", "/api/jobs/retry-failed")  # a double click retries nothing twice
    assert (again.get_json()["retried"], again.get_json()["remaining"]) == (0, 0)
    assert {load_job(db, i).attempts for i in mine} == {0}


def test_retry_all_failed_is_bounded_per_call_and_says_how_many_are_left(api, db):
    for _ in range(RETRY_FAILED_BATCH + 7):
        add_job(db, state="failed", error="boom")
    body = api("POST", "/api/jobs/retry-failed").get_json()
    assert (body["retried"], body["remaining"]) == (RETRY_FAILED_BATCH, 7)
    assert api("POST", "/api/jobs/retry-failed").get_json()["remaining"] == 0


def test_a_retried_job_that_fails_again_before_the_answer_is_not_left_over(api, app, db, client, signed_webhook,
                                                                          rq_worker, monkeypatch):
    payload = dict(sample_payload("orders/create"), id=None)  # an order without an id can never be applied
    job_ids = [signed_webhook("orders/create", payload=payload).post(client).get_json()["job_id"] for _ in range(2)]
    rq_worker(done=lambda: {load_job(db, i).state for i in job_ids} == {"failed"})
    retry_job = jobs_queue.retry_job

    def retry_then_fail_again(*args, **kwargs):  # a real worker fails the job again before the call answers
        job = retry_job(*args, **kwargs)
        BurstWorker(app).run_until(lambda: load_job(db, job["id"]).state == "failed")
        return job

    monkeypatch.setattr(jobs_queue, "retry_job", retry_then_fail_again)
    body = api("POST", "/api/jobs/retry-failed").get_json()
    assert {load_job(db, i).state for i in job_ids} == {"failed"}
    assert (body["retried"], body["remaining"]) == (2, 0)


def test_a_jobs_detail_shows_its_failed_attempts_and_its_delivery_without_the_payload(api, app, db, client,
                                                                                      signed_webhook, rq_worker):
    payload = dict(sample_payload("orders/create"), id=None)  # an order without an id can never be applied
    hook = signed_webhook("orders/create", payload=payload)
    job_id = hook.post(client).get_json()["job_id"]
    rq_worker()
    detail = api("GET", f"/api/jobs/{job_id}").get_json()
    assert (detail["id"], detail["state"], detail["attempts"], detail["max_attempts"]) == (job_id, "failed", 1, 5)
    [attempt] = detail["attempts_log"]
    assert (attempt["attempt"], attempt["outcome"]) == (1, "failed") and "no order id" in attempt["error"]
    assert attempt["started_at"] <= attempt["ended_at"]
    delivery = detail["delivery"]
    assert (delivery["topic"], delivery["webhook_id"], delivery["event_id"]) == (
        "orders/create", hook.webhook_id, hook.event_id)
    assert delivery["triggered_at"] and delivery["received_at"]
    assert "payload" not in detail and "payload" not in delivery
    assert "bob.norman@example.com" not in json.dumps(detail)  # the sample order's customer


def test_each_failed_attempt_is_kept_with_its_error(app, db, rq_worker, api):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_fail_until", {"succeed_on": 3})["id"]
    rq_worker(done=lambda: load_job(db, job_id).state == "succeeded")
    detail = api("GET", f"/api/jobs/{job_id}").get_json()
    assert [(a["attempt"], a["outcome"]) for a in detail["attempts_log"]] == [(1, "retrying"), (2, "retrying")]
    assert all("failed on purpose" in a["error"] for a in detail["attempts_log"])
    assert detail["state"] == "succeeded" and detail["attempt_started_at"]


def test_attempts_are_listed_as_they_happened_across_a_retry(app_factory, db):
    app = app_factory(JOB_MAX_ATTEMPTS=2, JOB_BACKOFF_SECONDS=0.05)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_always_fail")["id"]
    BurstWorker(app).run_until(lambda: load_job(db, job_id).state == "failed")
    jobs_queue.retry_job(app, SHOP, job_id)
    BurstWorker(app).run_until(lambda: load_job(db, job_id).state == "failed")
    with db.session() as session:
        numbers = [a["attempt"] for a in job_detail(session, SHOP, job_id)["attempts_log"]]
    assert numbers == [1, 2, 1, 2]  # a retry numbers from 1 again, after the first round


def test_another_shops_or_a_missing_job_has_no_detail(api, db):
    theirs = add_job(db, OTHER_SHOP)
    assert api("GET", f"/api/jobs/{theirs}").status_code == 404
    assert api("GET", "/api/jobs/999999").status_code == 404
    assert api("GET", f"/api/jobs/{2**40}").status_code == 404
