"""change_job: the one state change, its value kinds and expectations, and one statement per shape."""
from __future__ import annotations

from datetime import timedelta

import tests.support.test_jobs  # noqa: F401  (registers the test job kinds)
from shopapp.jobs import queue as jobs_queue
from shopapp.jobs import state
from shopapp.jobs.state import INCREMENT, IfUnset, change_job
from shopapp.models import Job, JobState, utcnow

SHOP = "test-shop.myshopify.com"


def _new_job(app) -> int:
    return jobs_queue.start_merchant_job(app, SHOP, "test_context")["id"]


def test_increment_adds_one_to_the_stored_value(app, db):
    job_id = _new_job(app)
    with db.session() as s:
        change_job(s, job_id, app=app, attempts=INCREMENT)
        assert change_job(s, job_id, app=app, attempts=INCREMENT).attempts == 2


def test_if_unset_keeps_a_value_already_stored(app, db):
    job_id = _new_job(app)
    first, later = utcnow() - timedelta(hours=1), utcnow()
    with db.session() as s:
        change_job(s, job_id, app=app, started_at=IfUnset(first))
        job = change_job(s, job_id, app=app, started_at=IfUnset(later))
        assert job.started_at.replace(tzinfo=None) == first.replace(tzinfo=None)


def test_due_by_matches_only_a_job_due_by_then(app, db):
    job_id = _new_job(app)
    run_after = utcnow() + timedelta(minutes=10)
    with db.session() as s:
        change_job(s, job_id, app=app, run_after=run_after)
        assert change_job(s, job_id, app=app, due_by=utcnow(), message="too early") is None
        s.rollback()
        assert change_job(s, job_id, app=app, due_by=run_after, message="due").message == "due"


def test_expectations_by_value_by_several_values_and_by_null(app, db):
    job_id = _new_job(app)
    with db.session() as s:
        assert change_job(s, job_id, app=app, expect={"state": "running"}, message="x") is None
        s.rollback()
        assert change_job(s, job_id, app=app, expect={"state": (JobState.QUEUED, JobState.RETRYING),
                                                      "claimed_by": None}, claimed_by="w1") is not None
        assert change_job(s, job_id, app=app, expect={"claimed_by": None}, message="x") is None


def test_a_callers_sql_expression_gives_the_same_row_as_the_cached_statement(app, db):
    cached, built = _new_job(app), _new_job(app)
    with db.session() as s:
        a = change_job(s, cached, app=app, attempts=INCREMENT, message="m", state=JobState.RUNNING)
        b = change_job(s, built, app=app, attempts=Job.attempts + 1, message="m", state=JobState.RUNNING)
        keys = ("attempts", "message", "state", "version")
        assert [getattr(a, k) for k in keys] == [getattr(b, k) for k in keys]


def test_one_statement_is_built_per_shape_and_reused(app, db):
    job_id = _new_job(app)
    with db.session() as s:
        change_job(s, job_id, app=app, expect={"state": "queued"}, message="first")
        built = len(state._STATEMENTS)
        change_job(s, job_id, app=app, expect={"state": "queued"}, message="second")
        change_job(s, job_id, app=app, expect={"state": "queued"}, message="third")
        assert len(state._STATEMENTS) == built
        assert s.get(Job, job_id).message == "third"
