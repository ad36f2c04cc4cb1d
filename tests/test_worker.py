"""`python -m shopapp worker` as a real process: runs jobs, sweeps, survives a SIGKILLed peer, stops on SIGTERM."""
from __future__ import annotations

import signal

import psutil
import pytest
from sqlalchemy import select

from shopapp.features.orders.models import Order
from shopapp.jobs import queue as jobs_queue
from shopapp.models import Job, JobState
from shopapp.testing import wait_until
from tests.support.features import TEST_FEATURES

pytestmark = pytest.mark.slow

SHOP = "test-shop.myshopify.com"
TEST_KINDS = {"FEATURES": TEST_FEATURES}


def _job(db, job_id) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


def test_worker_process_runs_a_webhook_job(worker_process, client, signed_webhook, db):
    worker = worker_process()
    assert signed_webhook("orders/create").post(client).status_code == 200
    wait_until(lambda: _states(db) == ["succeeded"], what=f"job done; worker log:\n{worker.output()[-2000:]}")


def test_worker_sweeps_periodically_and_runs_a_job_that_never_reached_redis(worker_process, app, db):
    import tests.support.test_jobs  # noqa: F401

    with db.session() as s:
        job = Job(shop_domain=SHOP, kind="test_context", state=JobState.QUEUED.value, params={})
        s.add(job)
        s.commit()
        job_id = job.id
    worker_process(env=TEST_KINDS)
    wait_until(lambda: _job(db, job_id).state == "succeeded", what="swept job done")


def test_job_of_a_sigkilled_worker_is_finished_by_another_and_applied_once(worker_process, app, db):
    env = dict(TEST_KINDS, JOB_STALL_SECONDS="1.5", SWEEP_INTERVAL_SECONDS="0.3")
    first = worker_process(env=env)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_slow_order", {"order_id": 42, "seconds": 4})["id"]
    wait_until(lambda: _job(db, job_id).state == "running", what="job claimed by the first worker")
    assert _claimer_pid(db, job_id) in _worker_pids(first)
    second = worker_process(env=env)
    first.kill()  # the supervisor and its worker processes, at once
    wait_until(lambda: _job(db, job_id).state == "succeeded", timeout=60,
               what=f"job finished by the second worker; log:\n{second.output()[-2000:]}")
    job = _job(db, job_id)
    assert job.attempts == 2
    assert int(job.message.rsplit(":", 1)[1]) in _worker_pids(second)
    with db.session() as s:
        assert s.scalars(select(Order.applied_count).where(Order.order_id == 42)).one() == 1


def test_sigterm_lets_the_current_job_finish_then_stops(worker_process, app, db):
    worker = worker_process(env=TEST_KINDS)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_slow_order", {"order_id": 1, "seconds": 1.5})["id"]
    wait_until(lambda: _job(db, job_id).state == "running", what="job claimed")
    worker.signal(signal.SIGTERM)
    worker.proc.wait(timeout=30)
    assert worker.proc.returncode == 0
    assert _job(db, job_id).state == "succeeded"


def test_processes_option_runs_that_many_workers_and_sigterm_stops_them_all(worker_process, app, db):
    import tests.support.test_jobs  # noqa: F401

    supervisor = worker_process(env=TEST_KINDS, extra_args=["--processes", "2"])
    wait_until(lambda: len(psutil.Process(supervisor.pid).children()) >= 2, what="two worker processes")
    ids = [jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"] for _ in range(6)]
    wait_until(lambda: all(_job(db, i).state == "succeeded" for i in ids), what="jobs done")
    children = psutil.Process(supervisor.pid).children()
    supervisor.signal(signal.SIGTERM)
    supervisor.proc.wait(timeout=30)
    assert supervisor.proc.returncode == 0
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)


def test_burst_worker_exits_when_the_queue_is_empty(worker_process, app, db):
    import tests.support.test_jobs  # noqa: F401

    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    worker = worker_process(env=TEST_KINDS, extra_args=["--burst"])
    worker.proc.wait(timeout=60)
    assert worker.proc.returncode == 0
    assert _job(db, job_id).state == "succeeded"


def _claimer_pid(db, job_id: int) -> int:
    return int(_job(db, job_id).claimed_by.rsplit(":", 1)[1])


def _worker_pids(worker) -> set[int]:
    """The pids of the worker processes a `python -m shopapp worker` supervises."""
    wait_until(lambda: len(psutil.Process(worker.pid).children()) >= 2, what="the worker processes")
    return {child.pid for child in psutil.Process(worker.pid).children()}


def _states(db) -> list[str]:
    with db.session() as s:
        return s.scalars(select(Job.state)).all()
