"""The RQ task function: it takes a Job id and runs it with this worker process's app.

The worker command builds the app once per process and hands it over (`set_worker_app`); RQ then calls
`run_job` for each job it takes.
"""
from __future__ import annotations

from typing import Optional

from flask import Flask

_APP: Optional[Flask] = None


def set_worker_app(app: Flask) -> None:
    """Use `app` for every task of this process (the worker command sets it at start; the test kit too)."""
    global _APP
    _APP = app


def worker_app() -> Flask:
    """The app of this worker process; RuntimeError when none was set (RQ started outside shopapp)."""
    if _APP is None:
        raise RuntimeError("this worker has no shopapp app: start workers with `python -m shopapp worker`")
    return _APP


def run_job(job_id: Optional[int] = None) -> Optional[str]:
    """RQ entry point for Job `job_id` (see shopapp.jobs.runner.run_job).

    Without `job_id` (jobs put on the queue by `queue.enqueue_batch`) the Job id is the one the RQ job's
    id was derived from (`job-<id>`). Raises ValueError when it was not.
    """
    from shopapp.jobs import runner
    from shopapp.jobs.queue import job_id_of
    from shopapp.jobs.rq_adapter import current_job_id

    if job_id is None:
        rq_id = current_job_id()
        job_id = job_id_of(rq_id) if rq_id else None
        if job_id is None:
            raise ValueError(f"run_job() without a job id must run as RQ job job-<id>, not {rq_id!r}")
    app = worker_app()
    with app.app_context():
        return runner.run_job(app, job_id)
