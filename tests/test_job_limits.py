"""Time limits and lanes: one job's trouble stays that job's (real RQ workers, real Redis, the test database)."""
from __future__ import annotations

import socket
import threading

import psutil
import pytest
from sqlalchemy import select

from shopapp.jobs import queue as jobs_queue
from shopapp.jobs import registry
from shopapp.jobs.timelimit import TimeLimit, limit_for
from shopapp.models import Job
from shopapp.testing import SHOP, wait_until


def _job(db, job_id) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_handler_blocked_in_a_network_read_ends_at_its_limit_and_the_worker_goes_on(app, db, rq_worker,
                                                                                     silent_server):
    blocked = jobs_queue.start_merchant_job(app, SHOP, "test_block_on_read", {"port": silent_server})["id"]
    after = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    rq_worker()
    job = _job(db, blocked)
    assert (job.state, job.attempts) == ("retrying", 1)
    assert "timed out after 1 s" in job.error
    assert _job(db, after).state == "succeeded"  # the same worker took the next job


def test_a_handler_spinning_on_the_cpu_ends_at_its_limit(app, db, rq_worker):
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_spin")["id"]
    rq_worker()
    job = _job(db, job_id)
    assert job.state == "retrying" and "timed out after 1 s" in job.error


def test_a_timed_out_attempt_is_retried_by_the_usual_policy_then_fails(app_factory, db, silent_server):
    from shopapp.testing.workers import BurstWorker

    app = app_factory(JOB_MAX_ATTEMPTS=2, JOB_BACKOFF_SECONDS=0.01)
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_block_on_read", {"port": silent_server})["id"]
    BurstWorker(app)(done=lambda: _job(db, job_id).state == "failed", timeout=30)
    job = _job(db, job_id)
    assert job.attempts == 2 and "timed out after 1 s" in job.error and job.message == "failed after 2 attempts"


def test_every_job_has_a_limit_its_own_or_its_lanes(app):
    assert limit_for(app, "test_spin", None) == 1  # @job_kind(timeout=1)
    assert limit_for(app, "test_context", None) == app.config["JOB_TIMEOUT_SECONDS"] == 300
    assert limit_for(app, "webhook", "orders/create") == app.config["WEBHOOK_JOB_TIMEOUT_SECONDS"] == 60


def test_a_topic_may_declare_its_own_limit(app, monkeypatch):
    monkeypatch.setattr(registry, "_TOPICS", dict(registry._TOPICS))
    registry.webhook_handler("test/slow-topic", timeout=5)(lambda ctx: None)
    assert limit_for(app, "webhook", "test/slow-topic") == 5


def test_the_limit_keeps_an_alarm_set_before_it():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append("outer"))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        with TimeLimit(10):
            pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < remaining <= 30  # the outer alarm is armed again for its own remaining time
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


@pytest.mark.slow
@pytest.mark.nodb  # the supervisor replacing a stuck worker process: any database
def test_a_handler_that_swallows_its_timeout_is_stopped_by_replacing_its_worker(worker_process, app, db):
    worker = worker_process(env={"JOB_MAX_ATTEMPTS": "1"})
    wait_until(lambda: len(psutil.Process(worker.pid).children()) == 2, what="two worker processes")
    before = {c.pid for c in psutil.Process(worker.pid).children()}
    stuck = jobs_queue.start_merchant_job(app, SHOP, "test_swallow_timeouts", {"seconds": 60})["id"]
    wait_until(lambda: _job(db, stuck).state == "failed", timeout=60, what="the stuck attempt ended",
               explain=lambda: worker.output()[-2000:])
    job = _job(db, stuck)
    assert "timed out after 1 s" in job.error
    wait_until(lambda: len(psutil.Process(worker.pid).children()) == 2, what="a fresh worker process")
    assert {c.pid for c in psutil.Process(worker.pid).children()} != before  # the stuck process was replaced
    after = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    wait_until(lambda: _job(db, after).state == "succeeded", what="the next merchant job ran")


@pytest.mark.slow
def test_webhook_jobs_are_not_held_back_by_a_long_merchant_job(worker_process, app, db, client, signed_webhook):
    worker = worker_process()  # the defaults: one process for webhooks only, one for webhooks then merchant jobs
    long_job = jobs_queue.start_merchant_job(app, SHOP, "test_slow_order", {"order_id": 5, "seconds": 30})["id"]
    wait_until(lambda: _job(db, long_job).state == "running", what="the long merchant job runs")
    hooks = [signed_webhook("orders/create", payload={"id": i, "updated_at": "2026-11-30T00:00:00Z"})
             for i in range(3)]
    assert all(hook.post(client).status_code == 200 for hook in hooks)

    def webhooks_done() -> bool:
        with db.session() as s:
            return s.scalars(select(Job.state).where(Job.kind == "webhook")).all() == ["succeeded"] * 3

    wait_until(webhooks_done, timeout=20, what="the webhooks' jobs succeeded")
    assert _job(db, long_job).state == "running"  # while the merchant job still holds its worker
    worker.kill()  # no need to wait for the long job's end
