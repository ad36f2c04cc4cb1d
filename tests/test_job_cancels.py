"""Final cancels: a job cancelled while it ran never runs its handler again (takeover, retry, sweeper)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shopapp.features.orders.models import Order
from shopapp.jobs import queue as jobs_queue
from shopapp.jobs.runner import run_job
from shopapp.jobs.sweeper import sweep
from shopapp.models import Job, utcnow
from shopapp.testing import SHOP, wait_until


def _job(db, job_id) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


def _set(db, job_id, **values) -> None:
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(**values))
        s.commit()


def test_a_cancelled_job_whose_handler_fails_is_not_retried(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_cancelled_then_fails")["id"]
    rq_worker()
    job = _job(db, job_id)
    assert (job.state, job.error, job.attempts) == ("failed", "cancelled", 1)


def test_a_cancelled_job_waiting_for_a_retry_ends_at_its_claim(app, db):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_slow_order", {"order_id": 3, "seconds": 0})["id"]
    _set(db, job_id, state="retrying", attempts=1, cancel_requested=True)  # cancelled while it ran, then handed over
    with app.app_context():
        assert run_job(app, job_id) == "failed"
    job = _job(db, job_id)
    assert (job.state, job.error) == ("failed", "cancelled")
    with db.session() as s:
        assert s.scalars(select(Order)).first() is None  # the handler never ran again


def test_the_sweeper_ends_a_stalled_cancelled_job_instead_of_handing_it_over(app, db):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    _set(db, job_id, state="running", claimed_by="dead-worker:1", cancel_requested=True, attempts=1,
         heartbeat_at=utcnow() - timedelta(minutes=5))
    with app.app_context():
        assert sweep(app, grace_seconds=0).stalled == 1
    job = _job(db, job_id)
    assert (job.state, job.error, job.claimed_by) == ("failed", "cancelled", None)
    assert jobs_queue.get_queue(app, "merchant").get_job_ids() == [f"job-{job_id}"]  # only the first enqueue


@pytest.mark.slow
def test_a_job_cancelled_while_its_worker_dies_never_runs_again(worker_process, app, db):
    env = {"JOB_STALL_SECONDS": "1.5", "SWEEP_INTERVAL_SECONDS": "0.3"}
    first = worker_process(env=env)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_slow_order", {"order_id": 9, "seconds": 5})["id"]
    wait_until(lambda: _job(db, job_id).state == "running", what="the job runs")
    assert jobs_queue.cancel_job(app, SHOP, job_id)["message"] == "cancelling"
    first.kill()  # the worker dies before the handler looks at the cancel
    worker_process(env=env)
    wait_until(lambda: _job(db, job_id).state == "failed", timeout=30, what="the cancelled job ended")
    job = _job(db, job_id)
    assert (job.error, job.attempts) == ("cancelled", 1)
    with db.session() as s:
        assert s.scalars(select(Order)).first() is None
