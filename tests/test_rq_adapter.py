"""The RQ seam (shopapp/jobs/rq_adapter.py) behaves like RQ's own path."""
from __future__ import annotations

from datetime import timedelta

from rq import Queue, SimpleWorker

from shopapp.jobs.rq_adapter import ShopappWorker, queue_depths


def _keys_after_one_job(redis, worker_class, queue_name: str) -> set[str]:
    queue = Queue(queue_name, connection=redis)
    job = queue.enqueue("os.getpid", result_ttl=0)
    assert worker_class([queue], connection=redis).work(burst=True)
    assert not redis.exists(job.key)  # deleted once finished (result_ttl=0)
    names = {k.decode().replace(queue_name, "<queue>").replace(job.id, "<job>") for k in redis.keys("rq:*")}
    return {n for n in names if not n.startswith("rq:worker")}  # each worker names itself


def test_shopapp_worker_leaves_redis_as_rqs_own_worker_does(redis):
    stock = _keys_after_one_job(redis, SimpleWorker, "stock")
    redis.flushall()
    ours = _keys_after_one_job(redis, ShopappWorker, "ours")
    assert ours == stock


def test_queue_depths_agree_with_rqs_own_counts(redis):
    queue = Queue("depths", connection=redis)
    for _ in range(3):
        queue.enqueue("os.getpid")
    queue.enqueue_in(timedelta(minutes=5), "os.getpid")
    depths = queue_depths(redis, ["depths"])
    assert depths[("depths", "queued")] == queue.count == 3
    assert depths[("depths", "scheduled")] == queue.scheduled_job_registry.count == 1
    assert depths[("depths", "started")] == queue.started_job_registry.count == 0
    assert depths[("depths", "failed")] == queue.failed_job_registry.count == 0


def _worker_after_one_job(redis, worker_class, queue_name: str) -> dict:
    queue = Queue(queue_name, connection=redis)
    queue.enqueue("os.getpid", result_ttl=0)
    worker = worker_class([queue], connection=redis)
    assert worker.work(burst=True)
    fields = redis.hgetall(worker.key)
    return {k.decode(): fields[k].decode() for k in (b"state", b"successful_job_count", b"failed_job_count")
            if k in fields}


def test_shopapp_worker_records_itself_idle_and_its_count_as_rqs_own_worker_does(redis):
    assert _worker_after_one_job(redis, ShopappWorker, "ours") == _worker_after_one_job(redis, SimpleWorker, "stock")
