"""The workers' floor: RQ's own SimpleWorker (in-process, no fork per job) on a hello-world job.

`measure(redis_url, jobs, processes)` queues `jobs` calls of `hello` with RQ's `Queue.enqueue_many` (RQ's
own job hashes, in pipelines of 500), then starts `processes` processes of `python -m bench.rq_floor`, each
running `SimpleWorker(...).work(burst=True)` on that queue with RQ's defaults (results kept 500 s). They
start together (each says READY, then all are told GO) and exit when the queue is empty; the floor is
jobs / (the last one's end - the first one's start). This is what RQ itself does per job on these cores,
without the app's state machine, database, publish, heartbeat or time limit.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid


def hello() -> str:
    """RQ's hello-world job."""
    return "Hello World!"


def measure(redis_url: str, jobs: int, processes: int, timeout: float = 300.0) -> dict:
    """Run the floor; {"jobs": finished jobs, "failed": failed jobs, "seconds", "per_second"}."""
    import redis
    from rq import Queue

    from bench.common import ROOT

    connection = redis.Redis.from_url(redis_url)
    try:
        queue = Queue(f"bench-rq-floor-{uuid.uuid4().hex[:8]}", connection=connection)  # its own registries
        for first in range(0, jobs, 500):
            with connection.pipeline() as pipe:
                queue.enqueue_many([Queue.prepare_data(hello) for _ in range(min(500, jobs - first))], pipeline=pipe)
                pipe.execute()
        workers = [subprocess.Popen([sys.executable, "-m", "bench.rq_floor", redis_url, queue.name],
                                    cwd=ROOT,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                   for _ in range(processes)]
        try:
            for worker in workers:
                if worker.stdout.readline().strip() != "READY":
                    raise RuntimeError("an RQ floor worker did not start")
            for worker in workers:
                worker.stdin.write("GO\n")
                worker.stdin.flush()
            spans = [json.loads(worker.communicate(timeout=timeout)[0]) for worker in workers]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        finished, failed = queue.finished_job_registry.count, queue.failed_job_registry.count
    finally:
        connection.close()
    seconds = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    return {"jobs": finished, "failed": failed, "seconds": seconds, "per_second": finished / seconds}


def main(redis_url: str, queue_name: str) -> int:
    """One floor worker: READY once connected, wait for GO, work the queue in burst mode, print its span."""
    import redis
    from rq import Queue, SimpleWorker

    connection = redis.Redis.from_url(redis_url)
    worker = SimpleWorker([Queue(queue_name, connection=connection)], connection=connection)
    print("READY", flush=True)
    sys.stdin.readline()
    start = time.time()
    worker.work(burst=True, logging_level="WARNING")
    print(json.dumps({"start": start, "end": time.time()}), flush=True)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
