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


def run_job(job_id: int) -> Optional[str]:
    """RQ entry point for Job `job_id` (see shopapp.jobs.runner.run_job)."""
    from shopapp.jobs import runner

    app = worker_app()
    with app.app_context():
        return runner.run_job(app, job_id)
