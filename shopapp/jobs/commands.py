"""`python -m shopapp jobs retry ID`: put a failed job back on the queue from the command line."""
from __future__ import annotations

import sys

from shopapp.jobs.errors import JobNotFoundError, JobNotRetryableError


def retry_main(job_id: int) -> int:
    """Retry failed job `job_id` (any shop); prints the outcome. Exit code 1 when it cannot be retried."""
    from shopapp import create_app
    from shopapp.db import get_db
    from shopapp.jobs.queue import retry_job
    from shopapp.redis_client import get_redis

    app = create_app()
    try:
        with app.app_context():
            job = retry_job(app, None, job_id)
    except (JobNotFoundError, JobNotRetryableError) as exc:
        print(f"shopapp jobs retry: {exc}", file=sys.stderr)
        return 1
    finally:
        get_db(app).dispose()
        get_redis(app).close()
    print(f"job {job['id']} ({job['kind']}, {job['topic'] or 'no topic'}) is queued again")
    return 0
