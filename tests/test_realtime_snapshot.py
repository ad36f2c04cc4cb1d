"""The jobs snapshot: one shop's newest jobs with the seq they are current at."""
from datetime import timedelta

import pytest

from shopapp.events.publisher import EventPublisher
from shopapp.events.snapshot import job_snapshot
from shopapp.models import Job, utcnow

SHOP = "a.myshopify.com"


def _add_jobs(db, shop, count, state="queued"):
    base = utcnow()
    with db.session() as s:
        jobs = [Job(shop_domain=shop, kind="webhook", topic="orders/create", state=state,
                    created_at=base + timedelta(seconds=i)) for i in range(count)]
        s.add_all(jobs)
        s.commit()
        return [j.id for j in jobs]


def test_snapshot_lists_the_shops_jobs_newest_first_with_the_current_seq(db, redis):
    ids = _add_jobs(db, SHOP, 3)
    publisher = EventPublisher(redis)
    seq = publisher.publish(SHOP, {"id": ids[0], "state": "queued"}, 1)
    with db.session() as s:
        snapshot = job_snapshot(s, publisher, SHOP)
    assert snapshot["seq"] == seq
    assert [j["id"] for j in snapshot["jobs"]] == list(reversed(ids))
    assert set(snapshot["jobs"][0]) == {"id", "kind", "topic", "webhook_id", "state", "progress", "message",
                                        "attempts", "error", "created_at", "updated_at"}


def test_snapshot_never_shows_another_shops_jobs(db, redis):
    _add_jobs(db, "other.myshopify.com", 2)
    with db.session() as s:
        snapshot = job_snapshot(s, EventPublisher(redis), SHOP)
    assert snapshot["jobs"] == []


def test_a_fresh_shops_first_event_follows_its_first_snapshot(db, redis):
    # The snapshot seeds the shop's counter (as the publisher would): the page sees seq + 1, no gap.
    publisher = EventPublisher(redis)
    with db.session() as s:
        first = job_snapshot(s, publisher, SHOP)["seq"]
        again = job_snapshot(s, publisher, SHOP)["seq"]
    assert first == again > 0
    assert publisher.publish(SHOP, {"id": 1, "state": "queued"}, 1) == first + 1


def test_snapshot_filters_by_state_and_limits(db, redis):
    _add_jobs(db, SHOP, 4, state="failed")
    _add_jobs(db, SHOP, 2, state="succeeded")
    with db.session() as s:
        assert len(job_snapshot(s, EventPublisher(redis), SHOP, state="failed")["jobs"]) == 4
        assert len(job_snapshot(s, EventPublisher(redis), SHOP, limit=3)["jobs"]) == 3


@pytest.mark.parametrize("kwargs", [{"state": "exploded"}, {"limit": 0}, {"limit": 10_000}])
def test_snapshot_refuses_an_unknown_state_or_a_limit_out_of_range(db, redis, kwargs):
    with db.session() as s, pytest.raises(ValueError):
        job_snapshot(s, EventPublisher(redis), SHOP, **kwargs)
