"""Putting jobs on RQ in bulk (`enqueue_batch`, the ingestion path): the same jobs RQ itself would write."""
from __future__ import annotations

from rq.job import Job as RQJob
from rq.job import JobStatus

import tests.support.test_jobs  # noqa: F401  (registers the test job kinds)
from shopapp.db import get_db
from shopapp.jobs import queue as jobs_queue
from shopapp.lua_scripts import execute
from shopapp.models import Job, JobState

SHOP = "test-shop.myshopify.com"
# Fields that differ between any two jobs (ids, times) or by design (the batch's task takes no argument).
_PER_JOB = {"created_at", "enqueued_at", "description", "data"}


def _commit_jobs(app, count: int) -> list[int]:
    with get_db(app).session() as s:
        jobs = [Job(shop_domain=SHOP, kind="test_context", state=JobState.QUEUED.value, params={}, message="queued")
                for _ in range(count)]
        s.add_all(jobs)
        s.commit()
        return [job.id for job in jobs]


def test_batch_puts_every_job_on_the_queue_in_order(app, db):
    ids = _commit_jobs(app, 3)
    jobs_queue.enqueue_batch(app, ids)
    queue = jobs_queue.get_queue(app)
    assert queue.get_job_ids() == [jobs_queue.rq_job_id(i) for i in ids]
    assert queue.name in [q.name for q in type(queue).all(connection=queue.connection)]


def test_batch_job_has_the_fields_rq_gives_an_enqueued_job(app, db, redis):
    batch_id, rq_made_id = _commit_jobs(app, 2)
    jobs_queue.enqueue_batch(app, [batch_id])
    jobs_queue.enqueue(app, rq_made_id, kind="webhook")  # through RQ's own enqueue_call, same lane
    ours = redis.hgetall(RQJob.key_for(jobs_queue.rq_job_id(batch_id)))
    theirs = redis.hgetall(RQJob.key_for(jobs_queue.rq_job_id(rq_made_id)))
    assert set(ours) == set(theirs)
    assert {k: v for k, v in ours.items() if k.decode() not in _PER_JOB} == \
        {k: v for k, v in theirs.items() if k.decode() not in _PER_JOB}
    assert redis.ttl(RQJob.key_for(jobs_queue.rq_job_id(batch_id))) == -1  # no expiry, like RQ's


def test_batch_job_reads_back_as_an_rq_job_of_the_task(app, db, redis):
    (job_id,) = _commit_jobs(app, 1)
    jobs_queue.enqueue_batch(app, [job_id])
    rq_job = RQJob.fetch(jobs_queue.rq_job_id(job_id), connection=redis)
    assert rq_job.func_name == jobs_queue.TASK and rq_job.args == ()
    assert rq_job.get_status() == JobStatus.QUEUED and rq_job.origin == app.config["QUEUE_NAME"] + ".webhooks"
    assert rq_job.timeout == jobs_queue.TASK_TIMEOUT_SECONDS and rq_job.result_ttl == 0
    assert rq_job.description == f"{jobs_queue.TASK}({job_id})"


def test_batch_jobs_are_run_by_a_real_rq_worker(app, db, rq_worker):
    ids = _commit_jobs(app, 3)
    jobs_queue.enqueue_batch(app, ids)
    rq_worker()
    with db.session() as s:
        assert {s.get(Job, i).state for i in ids} == {JobState.SUCCEEDED.value}
    assert jobs_queue.get_queue(app).get_job_ids() == []


def test_empty_batch_writes_nothing(app, db, redis):
    jobs_queue.enqueue_batch(app, [])
    assert jobs_queue.get_queue(app).get_job_ids() == [] and redis.dbsize() == 0


def test_a_batch_riding_on_a_pipeline_writes_what_a_batch_of_its_own_writes(app, db, redis):
    alone, riding = _commit_jobs(app, 2)
    jobs_queue.enqueue_batch(app, [alone])
    with redis.pipeline(transaction=False) as pipe:
        jobs_queue.enqueue_batch(app, [riding], pipe=pipe)
        execute(pipe)
    ours = redis.hgetall(RQJob.key_for(jobs_queue.rq_job_id(riding)))
    theirs = redis.hgetall(RQJob.key_for(jobs_queue.rq_job_id(alone)))
    assert {k: v for k, v in ours.items() if k.decode() not in _PER_JOB} == \
        {k: v for k, v in theirs.items() if k.decode() not in _PER_JOB}
    assert jobs_queue.get_queue(app).get_job_ids() == [jobs_queue.rq_job_id(i) for i in (alone, riding)]
