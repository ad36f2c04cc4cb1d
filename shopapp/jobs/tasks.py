"""RQ task functions. They take ids, build the app once per worker process, and run inside an app context."""
from __future__ import annotations

from typing import Optional

from flask import Flask

_APP: Optional[Flask] = None


def set_worker_app(app: Flask) -> None:
    """Use `app` for every task of this process (the worker sets it at start; tests may too)."""
    global _APP
    _APP = app


def worker_app() -> Flask:
    """The app of this worker process, created from the environment on first use."""
    global _APP
    if _APP is None:
        from shopapp import create_app

        _APP = create_app()
    return _APP


def run_job(job_id: Optional[int] = None) -> Optional[str]:
    """RQ entry point for Job `job_id` (see shopapp.jobs.runner.run_job).

    Without `job_id` (jobs put on the queue by `queue.enqueue_batch`) the Job id is the one the RQ job's
    id was derived from.
    """
    from shopapp.jobs import runner

    if job_id is None:
        job_id = _job_id_of_current_rq_job()

    app = worker_app()
    with app.app_context():
        return runner.run_job(app, job_id)


def _job_id_of_current_rq_job() -> int:
    from rq import get_current_job

    from shopapp.jobs.queue import job_id_of

    current = get_current_job()
    job_id = job_id_of(current.id) if current is not None else None
    if job_id is None:
        raise ValueError(f"run_job() without a job id must run as RQ job job-<id>, not {current and current.id!r}")
    return job_id
