"""Job events: a per-shop seq that grows by one, a bounded replay log, idempotent publishing."""
import json
import time

from shopapp import redis_keys
from shopapp.events.publisher import EventPublisher

SHOP = "a.myshopify.com"


def _job(job_id, state="queued"):
    return {"id": job_id, "state": state}


def test_seq_grows_by_exactly_one_per_event(redis):
    pub = EventPublisher(redis)
    seqs = [pub.publish(SHOP, _job(1, s), v) for v, s in enumerate(["queued", "running", "succeeded"], 1)]
    assert seqs[1] == seqs[0] + 1 and seqs[2] == seqs[1] + 1
    assert pub.current_seq(SHOP) == seqs[2]


def test_each_shop_has_its_own_sequence_and_channel(redis):
    pubsub = redis.pubsub()
    pubsub.subscribe(redis_keys.shop_events_channel("b.myshopify.com"))
    pubsub.get_message(timeout=1)
    pub = EventPublisher(redis)
    pub.publish(SHOP, _job(1), 1)
    b_seq = pub.publish("b.myshopify.com", _job(2), 1)
    message = pubsub.get_message(timeout=1)
    assert json.loads(message["data"]) == {"type": "job", "seq": b_seq, "job": _job(2)}
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()


def test_republishing_the_same_or_an_older_version_is_a_no_op(redis):
    pub = EventPublisher(redis)
    first = pub.publish(SHOP, _job(1, "running"), 2)
    assert pub.publish(SHOP, _job(1, "running"), 2) == 0
    assert pub.publish(SHOP, _job(1, "queued"), 1) == 0
    assert pub.current_seq(SHOP) == first


def test_events_since_replays_everything_after_seq_in_order(redis):
    pub = EventPublisher(redis)
    seqs = [pub.publish(SHOP, _job(i), 1) for i in range(1, 6)]
    replay = [json.loads(e) for e in pub.events_since(SHOP, seqs[1])]
    assert [e["seq"] for e in replay] == seqs[2:]
    assert pub.events_since(SHOP, seqs[-1]) == []


def test_events_since_older_than_the_log_asks_for_a_snapshot(redis):
    pub = EventPublisher(redis, log_size=3)
    seqs = [pub.publish(SHOP, _job(i), 1) for i in range(1, 8)]
    assert pub.events_since(SHOP, seqs[0]) is None
    assert len(pub.events_since(SHOP, seqs[-4])) == 3


def test_a_seq_ahead_of_the_counter_asks_for_a_snapshot(redis):
    pub = EventPublisher(redis)
    seq = pub.publish(SHOP, _job(1), 1)
    assert pub.events_since(SHOP, seq + 10) is None


def test_after_redis_lost_its_data_new_seqs_are_above_every_old_one(redis):
    pub = EventPublisher(redis)
    old = pub.publish(SHOP, _job(1), 1)
    redis.flushall()
    time.sleep(0.002)  # the seed is Redis' clock in milliseconds
    new = pub.publish(SHOP, _job(2), 1)
    assert new > old


def test_the_versions_of_a_shops_jobs_expire_once_they_stop_changing(redis):
    from shopapp.events.publisher import VERSIONS_TTL_SECONDS

    EventPublisher(redis).publish(SHOP, _job(1), 1)
    assert 0 < redis.ttl(redis_keys.shop_job_versions(SHOP, 1)) <= VERSIONS_TTL_SECONDS


def test_old_jobs_versions_sit_apart_from_new_jobs_so_they_can_expire(redis):
    pub = EventPublisher(redis)
    old, new = 1, 1 + redis_keys.JOB_VERSIONS_BUCKET
    pub.publish(SHOP, _job(old), 1)
    pub.publish(SHOP, _job(new), 1)
    assert redis_keys.shop_job_versions(SHOP, old) != redis_keys.shop_job_versions(SHOP, new)
    assert redis.hget(redis_keys.shop_job_versions(SHOP, new), str(new)) == b"1"
