"""Scale-out: two web processes and two worker processes on one Redis and one database.

Webhooks go to both web processes (as a load balancer would send them), pages hold sockets on both, and
every job event must reach every socket of its shop exactly once: counted per socket, compared with what
was published (the shop's event log in Redis) and with what the database holds.
"""
from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from shopapp import redis_keys
from shopapp.features.orders.models import Order
from shopapp.models import Job, JobState, WebhookEvent
from tests.support.live_client import LiveClient
from tests.support.orders import count_rows, order_webhooks
from tests.support.shopify_sender import ShopifySender

SHOPS = ("alpha-shop.myshopify.com", "beta-shop.myshopify.com")


def metric(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def published_seqs(redis_client, shop: str, after: int) -> list[int]:
    """The seqs the workers and web processes published for `shop` after `after` (the replay log)."""
    return [int(score) for _, score in
            redis_client.zrangebyscore(redis_keys.shop_event_log(shop), after + 1, "+inf", withscores=True)]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_event_reaches_every_socket_once_across_two_web_and_two_worker_processes(
        web_server, worker_process, app_env, db, redis, session_token):
    webs = [web_server(), web_server()]
    workers = [worker_process(), worker_process()]
    clients = []
    try:
        for shop in SHOPS:
            token = session_token(shop=shop, expires_in=600)
            for index, web in enumerate(webs * 2):  # two sockets per shop on each web process
                clients.append(LiveClient([web.ws_url], token, reconnect=False, name=f"{shop}#{index}").start())
        webhooks = [hook for n, shop in enumerate(SHOPS)
                    for hook in order_webhooks(app_env["SHOPIFY_API_SECRET"], 100, first_id=1000 * (n + 1), shop=shop)]
        report = ShopifySender([w.url + "/webhooks" for w in webs], concurrency=8).send_all(webhooks)
        assert report.accepted == len(webhooks) == 200, report.outcomes

        for client in clients:  # every socket sees every job of its shop succeed
            client.wait_for(lambda c: len(c.count("succeeded")) == 100, timeout=90)

        # The database: one event, one job and one effect per webhook.
        assert count_rows(db, WebhookEvent) == 200
        assert count_rows(db, Job) == 200
        assert count_rows(db, Job, Job.state == JobState.SUCCEEDED.value) == 200
        with db.session() as session:
            assert session.scalars(select(Order.applied_count)).all() == [1] * 200

        for client in clients:
            shop = client.name.split("#")[0]
            seqs = client.seqs()
            start = client.snapshots[0]["seq"] or seqs[0] - 1  # seq 0: the counter was seeded after it
            # Exactly once each, in order, no gap, and exactly what was published for the shop.
            assert not client.gaps, (client.name, client.gaps)
            assert seqs == list(range(start + 1, start + 1 + len(seqs)))
            assert seqs == published_seqs(redis, shop, start)
            assert set(client.count("succeeded").values()) == {1}
            assert all(event["job"]["webhook_id"] in {h.webhook_id for h in webhooks if h.shop == shop}
                       for event in client.events)  # no other shop's job
            assert len(client.snapshots) == 1 and client.connects == 1
        for web in webs + workers:
            assert web.alive()

        # /metrics of either web process sums all four processes of this machine.
        published = sum(redis.zcard(redis_keys.shop_event_log(shop)) for shop in SHOPS)
        for web in webs:
            text = requests.get(web.url + "/metrics", timeout=10).text
            assert metric(text, "shopapp_webhooks_received_total", topic="orders/create") == 200
            assert metric(text, "shopapp_job_duration_seconds_count", kind="webhook", outcome="succeeded") == 200
            # (a `queued` event that lost the race to its own `running` one is not published: fewer than 600)
            assert metric(text, "shopapp_events_published_total") == published
            assert metric(text, "shopapp_events_delivered_total") == sum(len(c.events) for c in clients)
            assert metric(text, "shopapp_websockets_open") == len(clients) == 8
    finally:
        for client in clients:
            client.close()
