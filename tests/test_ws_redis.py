"""The per-process Redis subscriber: one subscription per web process; after a gap it reconnects and its
sockets resync, so nothing published meanwhile is missed."""
import time

import pytest
import redis as redis_lib

from shopapp import redis_keys
from shopapp.embedded_redis import EmbeddedRedis, find_binary
from shopapp.events.publisher import EventPublisher
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.ws_client import connect

pytestmark = pytest.mark.nodb  # the hub's Redis subscription: any database


def _job(job_id):
    return {"id": job_id, "kind": "webhook", "state": "running"}


def _pubsub_clients(client):
    return [c for c in client.client_list() if int(c.get("psub", 0)) or int(c.get("sub", 0))]


def test_one_subscription_per_web_process_whatever_the_number_of_sockets(web_server, session_token, redis):
    server = web_server(workers=1)
    clients = [connect(server, session_token(shop=f"shop-{i}.myshopify.com")) for i in range(5)]
    try:
        for ws in clients:
            ws.recv_json()
        subscribers = _pubsub_clients(redis)
        assert len(subscribers) == 1
        assert subscribers[0]["psub"] == "1" and subscribers[0]["sub"] == "1"
    finally:
        for ws in clients:
            ws.close()


def test_events_published_while_the_subscription_was_down_are_replayed(web_server, session_token, redis):
    publisher = EventPublisher(redis)
    server = web_server()
    first = publisher.publish(DEFAULT_SHOP, _job(1), 1)
    with connect(server, session_token()) as ws:
        assert ws.recv_json()["seq"] == first
        redis.client_kill_filter(_type="pubsub")
        missed = [publisher.publish(DEFAULT_SHOP, _job(i), 1) for i in range(2, 12)]
        received = ws.recv_until(lambda m: m.get("seq") == missed[-1], timeout=30)
        assert [m["seq"] for m in received if m["type"] == "job"] == missed
        assert all(m["type"] == "job" for m in received)
    deadline = time.monotonic() + 10
    while not _pubsub_clients(redis) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_pubsub_clients(redis)) == 1  # reconnected, not duplicated


def test_after_redis_restarted_empty_the_socket_gets_a_fresh_snapshot(web_server, session_token, private_redis):
    server = web_server(env={"REDIS_URL": private_redis.url})
    client = redis_lib.Redis.from_url(private_redis.url)
    try:
        publisher = EventPublisher(client)
        with connect(server, session_token()) as ws:
            ws.recv_json()
            before = publisher.publish(DEFAULT_SHOP, _job(1), 1)
            assert ws.recv_json()["seq"] == before
            private_redis.restart()  # no persistence: every key is gone, the counter is re-seeded
            after = publisher.publish(DEFAULT_SHOP, _job(2), 2)
            assert after > before
            # Either the live event or a resync snapshot at least as new: the page is never left stale.
            ws.recv_until(lambda m: (m["type"] == "job" and m["seq"] == after)
                          or (m["type"] == "snapshot" and m["seq"] >= after), timeout=30)
    finally:
        client.close()


def test_a_socket_opened_while_redis_is_down_is_closed_with_1013(web_server, session_token, private_redis):
    server = web_server(env={"REDIS_URL": private_redis.url})
    private_redis.stop()
    with connect(server, session_token()) as ws:
        assert ws.expect_close(timeout=30) == 1013


def test_a_malformed_control_message_is_ignored_and_the_subscriber_lives_on(web_server, session_token, redis):
    publisher = EventPublisher(redis)
    server = web_server()
    with connect(server, session_token()) as ws:
        ws.recv_json()
        redis.publish(redis_keys.shop_control_channel(), b"{not json")
        redis.publish(redis_keys.shop_control_channel(), b'{"type": "reboot"}')
        seq = publisher.publish(DEFAULT_SHOP, _job(1), 1)
        assert ws.recv_json()["seq"] == seq
    assert "malformed control message" in server.output()


def test_when_another_redis_server_answers_after_a_gap_the_socket_gets_a_snapshot(
        web_server, session_token, private_redis):
    # A promoted replica a little behind the old primary hands out again the seq the page holds.
    server = web_server(env={"REDIS_URL": private_redis.url})
    client = redis_lib.Redis.from_url(private_redis.url)
    try:
        publisher = EventPublisher(client)
        with connect(server, session_token()) as ws:
            ws.recv_json()
            held = publisher.publish(DEFAULT_SHOP, _job(1), 1)
            assert ws.recv_json()["seq"] == held
            private_redis.restart()
            client.set(redis_keys.shop_event_seq(DEFAULT_SHOP), held - 1)
            assert publisher.publish(DEFAULT_SHOP, _job(2), 1) == held  # the same seq, another event
            snapshot = ws.recv_until(lambda m: m["type"] == "snapshot", timeout=30)[-1]
            assert snapshot["seq"] >= held
    finally:
        client.close()


def test_when_a_restarted_redis_still_holds_the_pages_last_event_the_socket_resumes_without_a_snapshot(
        web_server, session_token, tmp_path):
    # A clean restart of a Redis with AOF (an upgrade, a failover to a replica that was in step): another
    # server by its run id, but its log holds the event the page holds, so the page only gets what follows.
    aof_redis = EmbeddedRedis(tmp_path / "aof", binary=find_binary(prefer_system=True), persist=True).start()
    server = web_server(env={"REDIS_URL": aof_redis.url})
    client = redis_lib.Redis.from_url(aof_redis.url)
    try:
        publisher = EventPublisher(client)
        with connect(server, session_token()) as ws:
            ws.recv_json()
            held = publisher.publish(DEFAULT_SHOP, _job(1), 1)
            assert ws.recv_json()["seq"] == held
            aof_redis.restart()
            # Published while the subscriber is still away: only the replay can bring it.
            missed = publisher.publish(DEFAULT_SHOP, _job(2), 1)
            received = ws.recv_until(lambda m: m.get("seq") == missed, timeout=30)
            assert [m["type"] for m in received] == ["job"]
        assert "restored on another server" in server.output()
    finally:
        client.close()
        aof_redis.stop()
