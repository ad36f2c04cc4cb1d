"""The sweeper: stalled jobs handed over, unqueued jobs enqueued, missed events republished, one at a time."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

import tests.support.test_jobs  # noqa: F401  (registers the test job kinds)
from shopapp import redis_keys
from shopapp.jobs import queue as jobs_queue
from shopapp.jobs.registry import MERCHANT_LANE
from shopapp.jobs.state import change_job
from shopapp.jobs.sweeper import sweep, sweep_with_lock
from shopapp.models import Job, JobState, utcnow

SHOP = "test-shop.myshopify.com"


def _insert(db, **fields) -> int:
    with db.session() as s:
        job = Job(shop_domain=SHOP, kind="test_context", params={}, **fields)
        s.add(job)
        s.commit()
        return job.id


def _job(db, job_id) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


def test_committed_job_missing_from_the_queue_is_enqueued(app, db):
    job_id = _insert(db, state="queued")
    with app.app_context():
        assert sweep(app, grace_seconds=0).enqueued == 1
    assert jobs_queue.get_queue(app, MERCHANT_LANE).get_job_ids() == [f"job-{job_id}_1"]


def test_job_already_on_the_queue_is_not_enqueued_again(app, db):
    job = jobs_queue.start_merchant_job(app, SHOP, "test_context")
    with app.app_context():
        assert sweep(app, grace_seconds=0).enqueued == 0
    assert jobs_queue.get_queue(app, MERCHANT_LANE).get_job_ids() == [f"job-{job['id']}"]


def test_job_changed_within_the_grace_period_is_left_to_its_enqueuer(app, db):
    _insert(db, state="queued")
    with app.app_context():
        assert sweep(app, grace_seconds=60).enqueued == 0


def test_retrying_job_is_enqueued_only_when_due(app, db):
    later = _insert(db, state="retrying", run_after=utcnow() + timedelta(minutes=5))
    due = _insert(db, state="retrying", run_after=utcnow() - timedelta(seconds=1))
    with app.app_context():
        assert sweep(app, grace_seconds=0).enqueued == 1
    ids = jobs_queue.get_queue(app, MERCHANT_LANE).get_job_ids()
    assert ids == [f"job-{due}_1"] and not any(i.startswith(f"job-{later}") for i in ids)


def test_running_job_with_a_stale_heartbeat_is_handed_to_another_worker(app, db, rq_worker):
    stale = utcnow() - timedelta(seconds=app.config["JOB_STALL_SECONDS"] + 5)
    job_id = _insert(db, state="running", claimed_by="dead-host:1", heartbeat_at=stale, attempts=1)
    with app.app_context():
        assert sweep(app, grace_seconds=0).stalled == 1
    job = _job(db, job_id)
    assert (job.state, job.claimed_by) == ("retrying", None)
    assert "stopped responding" in job.message
    rq_worker()
    assert (_job(db, job_id).state, _job(db, job_id).attempts) == ("succeeded", 2)


def test_running_job_with_a_fresh_heartbeat_is_left_alone(app, db):
    job_id = _insert(db, state="running", claimed_by="busy-host:1", heartbeat_at=utcnow(), attempts=1)
    with app.app_context():
        assert sweep(app, grace_seconds=0).stalled == 0
    assert _job(db, job_id).claimed_by == "busy-host:1"


def test_stalled_job_that_used_its_attempts_ends_failed(app, db):
    stale = utcnow() - timedelta(hours=1)
    job_id = _insert(db, state="running", claimed_by="dead-host:1", heartbeat_at=stale, attempts=5, max_attempts=5)
    with app.app_context():
        sweep(app, grace_seconds=0)
    job = _job(db, job_id)
    assert job.state == "failed" and "stopped responding" in job.error


def test_change_that_did_not_reach_redis_is_republished(app, db, redis):
    job_id = _insert(db, state="succeeded", version=3, published_version=1, message="done")
    with app.app_context():
        assert sweep(app, grace_seconds=0).republished == 1
    assert _job(db, job_id).published_version == 3
    assert redis.zcard(f"shopapp:shop:{SHOP}:eventlog") == 1


def test_many_missed_changes_of_several_shops_are_republished_once(app, db, redis):
    other = "other-shop.myshopify.com"
    ids = [_insert(db, state="succeeded", version=2, published_version=0, message="done") for _ in range(3)]
    with db.session() as s:
        s.add(Job(shop_domain=other, kind="test_context", params={}, state="failed", version=4, published_version=3))
        s.commit()
    with app.app_context():
        assert sweep(app, grace_seconds=0).republished == 4
        assert sweep(app, grace_seconds=0).republished == 0
    assert {_job(db, i).published_version for i in ids} == {2}
    assert redis.zcard(f"shopapp:shop:{SHOP}:eventlog") == 3 and redis.zcard(f"shopapp:shop:{other}:eventlog") == 1


def test_only_one_sweeper_runs_at_a_time(app, db, redis):
    _insert(db, state="queued", updated_at=utcnow() - timedelta(minutes=1))
    held = redis.lock(redis_keys.sweeper_lock(), timeout=30)
    assert held.acquire(blocking=False)
    try:
        with app.app_context():
            assert sweep_with_lock(app) is None
    finally:
        held.release()
    with app.app_context():
        assert sweep_with_lock(app).enqueued == 1


def test_sweep_command_enqueues_and_says_what_it_did(app_env, app, db):
    job_id = _insert(db, state="queued")
    result = subprocess.run([sys.executable, "-m", "shopapp", "sweep"], env=app_env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1 jobs enqueued" in result.stdout
    assert jobs_queue.get_queue(app, MERCHANT_LANE).get_job_ids() == [f"job-{job_id}_1"]


def test_sweep_command_explains_an_unreachable_redis(app_env, db):
    env = dict(app_env, REDIS_URL="redis://127.0.0.1:1/0")
    _insert(db, state="queued")
    result = subprocess.run([sys.executable, "-m", "shopapp", "sweep"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "Redis is unreachable" in result.stderr


def test_change_job_refuses_unknown_columns(app, db):
    job_id = _insert(db, state="queued")
    with app.app_context(), db.session() as s, pytest.raises(ValueError, match="not job columns"):
        change_job(s, job_id, app=app, colour="blue")
    assert _job(db, job_id).state == JobState.QUEUED.value
    with db.session() as s:
        assert s.scalar(select(Job.version).where(Job.id == job_id)) == 1
