"""The job machinery: claiming, retries with back-off, permanent failures, merchant jobs, cancel, progress."""
from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select

import tests.support.test_jobs  # noqa: F401  (registers the test job kinds)
from shopapp.features.orders.models import Order
from shopapp.jobs import queue as jobs_queue
from shopapp.jobs.errors import JobNotCancellableError, JobNotFoundError, JobNotRetryableError, UnknownJobKindError
from shopapp.jobs.registry import MERCHANT_LANE
from shopapp.jobs.runner import backoff_delay, run_job
from shopapp.jobs.state import change_job
from shopapp.models import Job
from shopapp.testing.workers import BurstWorker

SHOP = "test-shop.myshopify.com"


def _job(db, job_id) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


def _states(redis, shop=SHOP, job_id=None) -> list[str]:
    events = [json.loads(m)["job"] for m in redis.zrange(f"shopapp:shop:{shop}:eventlog", 0, -1)]
    return [e["state"] for e in events if job_id is None or e["id"] == job_id]


def _final(db, job_id):
    return lambda: _job(db, job_id).state in ("succeeded", "failed")


def test_merchant_job_is_committed_enqueued_and_run(app, db, rq_worker):
    job = jobs_queue.start_merchant_job(app, SHOP, "test_context", {"a": 1})
    assert job["state"] == "queued" and job["kind"] == "test_context" and job["webhook_id"] is None
    assert jobs_queue.get_queue(app, MERCHANT_LANE).get_job_ids() == [f"job-{job['id']}"]
    rq_worker()
    done = _job(db, job["id"])
    assert done.state == "succeeded"
    assert done.message == f"{SHOP}|test_context|{{'a': 1}}|None|None|1|{job['id']}"


def test_unknown_job_kind_is_refused_before_anything_is_stored(app, db):
    with pytest.raises(UnknownJobKindError):
        jobs_queue.start_merchant_job(app, SHOP, "no_such_kind")
    with db.session() as s:
        assert s.scalars(select(Job)).first() is None


def test_failed_attempt_is_retried_after_back_off_and_succeeds(app, db, redis, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_fail_until", {"succeed_on": 2})["id"]
    rq_worker()
    waiting = _job(db, job_id)
    assert waiting.state == "retrying" and waiting.attempts == 1
    assert "attempt 1 failed on purpose" in waiting.error
    assert waiting.run_after is not None
    rq_worker(done=_final(db, job_id))
    done = _job(db, job_id)
    assert (done.state, done.attempts, done.error, done.message) == ("succeeded", 2, None, "succeeded on attempt 2")
    assert _states(redis, job_id=job_id) == ["queued", "running", "retrying", "running", "succeeded"]


def test_job_that_keeps_failing_ends_failed_with_its_error_after_max_attempts(app_factory, db, redis):
    app = app_factory(JOB_MAX_ATTEMPTS=3, JOB_BACKOFF_SECONDS=0.05)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_always_fail")["id"]
    BurstWorker(app).run_until(_final(db, job_id))
    failed = _job(db, job_id)
    assert (failed.state, failed.attempts) == ("failed", 3)
    assert failed.error == "RuntimeError: boom"
    assert _states(redis, job_id=job_id).count("retrying") == 2


def test_back_off_doubles_per_attempt_and_is_capped(app_factory, db, redis):
    app = app_factory(JOB_BACKOFF_SECONDS=2.0, JOB_BACKOFF_MAX_SECONDS=10.0)
    assert [backoff_delay(app, n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_permanent_error_fails_at_once_without_retries(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_permanent")["id"]
    rq_worker()
    failed = _job(db, job_id)
    assert (failed.state, failed.attempts, failed.error) == ("failed", 1, "the input can never work")


def test_a_job_claimed_by_another_worker_is_not_run_again(app, db):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    with app.app_context(), db.session() as s:
        change_job(s, job_id, app=app, state="running", claimed_by="other-worker")
        assert run_job(app, job_id) is None
    job = _job(db, job_id)
    assert (job.state, job.claimed_by, job.attempts) == ("running", "other-worker", 0)


def test_a_job_enqueued_twice_runs_once(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_slow_order", {"order_id": 7, "seconds": 0})["id"]
    jobs_queue.enqueue(app, job_id, kind="test_slow_order", version=99)
    assert len(jobs_queue.get_queue(app, MERCHANT_LANE).get_job_ids()) == 2
    rq_worker()
    with db.session() as s:
        assert s.scalars(select(Order.applied_count)).one() == 1
    assert _job(db, job_id).attempts == 1


def test_work_of_a_worker_that_lost_its_claim_is_discarded(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_lose_claim", {"order_id": 3})["id"]
    rq_worker()
    job = _job(db, job_id)
    assert job.state == "running" and job.claimed_by == "another-worker"
    with db.session() as s:
        assert s.scalars(select(Order)).first() is None


def test_retry_puts_a_failed_job_of_the_shop_back_on_the_queue(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_fail_until", {"succeed_on": 2})["id"]
    with app.app_context(), db.session() as s:
        change_job(s, job_id, app=app, state="failed", attempts=5, error="gave up")
    retried = jobs_queue.retry_job(app, SHOP, job_id)
    assert (retried["state"], retried["attempts"], retried["error"]) == ("queued", 0, None)
    rq_worker(done=_final(db, job_id))
    assert _job(db, job_id).state == "succeeded"


def test_retry_refuses_a_job_that_did_not_fail(app, db):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    with pytest.raises(JobNotRetryableError, match="only a failed job"):
        jobs_queue.retry_job(app, SHOP, job_id)


def test_retry_does_not_find_another_shops_job(app, db):
    job_id = jobs_queue.start_merchant_job(app, "other-shop.myshopify.com", "test_permanent")["id"]
    with app.app_context(), db.session() as s:
        change_job(s, job_id, app=app, state="failed")
    with pytest.raises(JobNotFoundError):
        jobs_queue.retry_job(app, SHOP, job_id)
    assert _job(db, job_id).state == "failed"


def test_cancelling_a_queued_job_fails_it_at_once(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    cancelled = jobs_queue.cancel_job(app, SHOP, job_id)
    assert (cancelled["state"], cancelled["error"]) == ("failed", "cancelled")
    rq_worker()
    assert _job(db, job_id).state == "failed"
    with pytest.raises(JobNotCancellableError):
        jobs_queue.cancel_job(app, SHOP, job_id)


def test_cancelling_a_running_job_stops_it_at_its_next_check(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_progress", {"items": 200, "sleep": 0.05})["id"]

    def cancel_when_running():
        deadline = time.monotonic() + 30
        while _job(db, job_id).state != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        jobs_queue.cancel_job(app, SHOP, job_id)

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    rq_worker()  # the RQ worker must run in the main thread (signal handlers)
    canceller.join()
    job = _job(db, job_id)
    assert (job.state, job.error) == ("failed", "cancelled")
    assert job.progress < 100


def test_progress_reports_are_throttled_and_the_last_one_is_published(app, db, redis, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_progress", {"items": 500})["id"]
    rq_worker()
    events = [json.loads(m)["job"] for m in redis.zrange(f"shopapp:shop:{SHOP}:eventlog", 0, -1)]
    running = [e for e in events if e["state"] == "running"]
    assert len(running) < 50
    assert running[-1]["progress"] == 100 and running[-1]["message"] == "500 of 500"
    assert _job(db, job_id).state == "succeeded"


def test_state_change_commits_even_when_redis_is_down_and_the_sweeper_republishes(app_factory, private_redis, db):
    from shopapp.jobs.sweeper import sweep

    app = app_factory(REDIS_URL=private_redis.url)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    private_redis.stop()
    with app.app_context(), db.session() as s:
        change_job(s, job_id, app=app, message="changed while Redis was down")
    job = _job(db, job_id)
    assert job.message == "changed while Redis was down" and job.published_version < job.version
    private_redis.start()
    with app.app_context():
        assert sweep(app, grace_seconds=0).republished == 1
    job = _job(db, job_id)
    assert job.published_version == job.version


def test_a_state_change_leaves_no_pending_write_in_the_handlers_session(app, db):
    # A pending write would open a transaction at the next autoflush and, on SQLite, lock the database
    # while the handler talks to Shopify.
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    with app.app_context(), db.session() as s:
        job = change_job(s, job_id, app=app, message="published")
        assert job.message == "published"
        assert not s.dirty and not s.new and not s.in_transaction()


def test_heartbeats_keep_each_running_job_fresh_until_they_stop(app_factory, db):
    from shopapp.jobs.runner import Heartbeat
    from shopapp.models import utcnow

    app = app_factory(JOB_STALL_SECONDS=0.3)  # a beat every 0.1 s
    ids = [jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"] for _ in range(2)]
    long_ago = utcnow().replace(year=2000)
    with app.app_context(), db.session() as s:
        for job_id in ids:
            change_job(s, job_id, app=app, state="running", claimed_by="me", heartbeat_at=long_ago)
    beats = [Heartbeat(app, job_id, "me") for job_id in ids]
    for beat in beats:
        beat.start()
    deadline = time.monotonic() + 30
    while any(_job(db, job_id).heartbeat_at == long_ago for job_id in ids):
        assert time.monotonic() < deadline, "heartbeats not refreshed"
        time.sleep(0.05)
    for beat in beats:
        beat.stop()
    time.sleep(1.0)  # a beat under way when stop() returned lands meanwhile
    last = [_job(db, job_id).heartbeat_at for job_id in ids]
    time.sleep(0.5)  # five beat intervals
    assert [_job(db, job_id).heartbeat_at for job_id in ids] == last
