"""`python -m shopapp worker`: RQ workers for the app's queue. Completed by the webhooks issue."""
from __future__ import annotations

from rq import Queue, SimpleWorker

from shopapp.config import Config
from shopapp.redis_client import connect


def main(processes: int | None = None, burst: bool = False) -> int:
    config = Config.from_env()
    if not config.REDIS_URL:
        from shopapp.config import ConfigError

        raise ConfigError("REDIS_URL is not set: run `make run` or set REDIS_URL")
    conn = connect(config.REDIS_URL)
    worker = SimpleWorker([Queue(config.QUEUE_NAME, connection=conn)], connection=conn)
    worker.work(burst=burst, with_scheduler=True)
    return 0
