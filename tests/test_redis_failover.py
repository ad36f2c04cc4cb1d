"""Redis failover under Sentinel: the primary is killed while webhooks stream and pages are open.

Every Redis client of the app (web: enqueue, subscriber, snapshots; worker: RQ, publisher, sweeper lock)
is built from REDIS_SENTINELS and REDIS_SENTINEL_MASTER alone, so each finds the promoted replica by
itself. Counted afterwards: every acknowledged webhook's job succeeded once, and every page shows true
states (replayed from the log, or from a fresh snapshot). The time from the kill until a webhook sent right
after it has its job's success on every page is printed (`-s` shows it), never asserted.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from shopapp.models import Job
from shopapp.testing import wait_until
from tests.support.live_client import LiveClient
from tests.support.orders import order_webhooks
from tests.support.outcomes import (
    FAST_RECOVERY,
    assert_exactly_once,
    job_states,
    send_in_background,
    settle,
)
from tests.support.sentinel import SentinelCluster
from tests.support.shopify_sender import ShopifySender

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), pytest.mark.nodb]  # Redis failover: any database

WEBHOOKS = 300


@pytest.fixture
def sentinel_cluster(tmp_path):
    cluster = SentinelCluster(tmp_path / "sentinel").start()
    yield cluster
    cluster.stop()


def test_killing_the_redis_primary_loses_no_webhook_and_leaves_no_page_wrong(
        sentinel_cluster, web_server, worker_process, db, app_env, session_token):
    env = dict(FAST_RECOVERY, LOG_LEVEL="INFO", **sentinel_cluster.env())
    webs = [web_server(env=env), web_server(env=env)]
    for _ in range(2):
        worker_process(env=env)
    token = session_token(expires_in=600)
    pages = [LiveClient([web.ws_url for web in webs[i:] + webs[:i]], token, name=f"page-{i}").start()
             for i in range(len(webs))]
    webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], WEBHOOKS)
    probe = order_webhooks(app_env["SHOPIFY_API_SECRET"], 1, first_id=10_000)  # sent right after the kill
    urls = [web.url + "/webhooks" for web in webs]
    # Shopify's retries are spread over hours; here a delivery is retried for a minute.
    sender = ShopifySender(urls, give_up_after=60)
    thread, holder = send_in_background(sender, webhooks, rate=30)
    try:
        wait_until(lambda: sender.sent >= 100 and all(len(p.count("succeeded")) >= 10 for p in pages),
                   timeout=60, what="100 deliveries sent and 10 jobs done on every page")
        killed_at = time.monotonic()
        old = sentinel_cluster.kill_primary()
        assert ShopifySender(urls, give_up_after=60).send_all(probe).accepted == 1
        sentinel_cluster.wait_for_new_primary(old)
        promoted_after = time.monotonic() - killed_at
        with db.session() as session:
            probe_job = session.scalar(select(Job.id).where(Job.webhook_id == probe[0].webhook_id))
        # Recovered: the webhook delivered right after the kill has run, and its success is on every page.
        wait_until(lambda: all(probe_job in p.ever_succeeded() for p in pages), timeout=90,
                   what="the job of the webhook sent after the kill succeeding on every page",
                   explain=lambda: (job_states(db), [_page_state(p) for p in pages]))
        recovered_after = time.monotonic() - killed_at
        report = settle(db, (thread, holder), pages, WEBHOOKS + 1)
    finally:
        for page in pages:
            page.close()
    print(f"\nRedis failover: sentinels promoted the replica {promoted_after:.1f}s after the primary's kill; "
          f"a webhook sent right after the kill had its job's success on every page {recovered_after:.1f}s after it "
          f"({report.retried} of {WEBHOOKS} webhooks needed a retry, outcomes {dict(report.outcomes)})")
    assert_exactly_once(db, webhooks + probe)


def _page_state(page: LiveClient) -> dict:
    return {"page": page.name, "connects": page.connects, "last_seq": page.last_seq, "events": len(page.events),
            "newest success": max(page.ever_succeeded(), default=None), "errors": page.errors[-2:]}
