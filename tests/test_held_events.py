"""A worker's held job events (events.publishing.HeldEvents): they ride on RQ's MULTI, and none is lost."""
from __future__ import annotations

import json

import tests.support.test_jobs  # noqa: F401  (registers the test job kinds)
from shopapp.events.publishing import HeldEvents
from shopapp.jobs import queue as jobs_queue
from shopapp.lua_scripts import execute
from shopapp.models import Job

SHOP = "test-shop.myshopify.com"


def _logged_states(redis, job_id) -> list[str]:
    events = [json.loads(m)["job"] for m in redis.zrange(f"shopapp:shop:{SHOP}:eventlog", 0, -1)]
    return [e["state"] for e in events if e["id"] == job_id]


def _job(app, db, message: str) -> Job:
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]
    with db.session() as s:
        job = s.get(Job, job_id)
        job.state, job.message, job.version = "succeeded", message, job.version + 1
        s.commit()
        s.refresh(job)
        s.expunge(job)
        return job


def test_outside_a_hold_an_event_is_published_at_once(app, db, redis):
    job = _job(app, db, "done")
    HeldEvents().publish_job_later(app, job)
    assert _logged_states(redis, job.id) == ["queued", "succeeded"]


def test_a_held_event_reaches_redis_with_the_pipeline_it_boarded_and_only_once(app, db, redis):
    held, job = HeldEvents(), _job(app, db, "done")
    held.hold()
    held.publish_job_later(app, job)
    assert _logged_states(redis, job.id) == ["queued"]
    with redis.pipeline() as pipe:
        pipe.set("rq-bookkeeping", "1")
        held.board(pipe)
        execute(pipe)
    held.arrived()
    held.release()
    assert _logged_states(redis, job.id) == ["queued", "succeeded"]


def test_a_held_event_whose_pipeline_never_ran_is_published_when_the_job_ends(app, db, redis):
    held, job = HeldEvents(), _job(app, db, "done")
    held.hold()
    held.publish_job_later(app, job)
    with redis.pipeline() as pipe:
        held.board(pipe)
        pipe.reset()  # RQ's MULTI failed or was never sent
    held.release()
    assert _logged_states(redis, job.id) == ["queued", "succeeded"]
