"""Managed Redis: TLS only (`rediss://`), a password or an ACL user, the server's certificate checked
against a CA bundle (`ssl_ca_certs`) or not checked (`ssl_cert_reqs=none`), as providers hand it out.

Against a real redis-server that speaks only TLS, with certificates this test makes. The end-to-end test
goes through every Redis client the app builds: the web process's app client (enqueue) and its
subscriber, the worker's RQ connection and its app client (publisher, sweeper lock).
"""
from __future__ import annotations

import pytest
import redis as redis_lib

from shopapp import redis_keys
from shopapp.events.publisher import EventPublisher
from shopapp.redis_client import connect, subscriber_client
from shopapp.testing import SHOP
from tests.support.live_client import LiveClient
from tests.support.orders import count_rows, order_webhooks
from tests.support.redis_tls import ACL_PASSWORD, ACL_USER, TlsRedis, make_certificates
from tests.support.shopify_sender import ShopifySender

pytestmark = pytest.mark.nodb  # TLS and ACL to Redis: any database

# (how the client authenticates, whether it checks the server's certificate against the CA bundle)
WAYS = {"password, ssl_cert_reqs=none": dict(verify=False),
        "password, ssl_ca_certs": dict(verify=True),
        "ACL user, ssl_cert_reqs=none": dict(user=ACL_USER, password=ACL_PASSWORD, verify=False),
        "ACL user, ssl_ca_certs": dict(user=ACL_USER, password=ACL_PASSWORD, verify=True)}


@pytest.fixture
def tls_redis(tmp_path):
    server = TlsRedis(tmp_path / "tls-redis", make_certificates(tmp_path / "certs")).start()
    yield server
    server.stop()


@pytest.mark.parametrize("way", WAYS)
def test_the_app_client_the_publisher_and_the_subscriber_work_over_tls(way, tls_redis):
    url = tls_redis.tls_url(**WAYS[way])
    client, listener = connect(url), subscriber_client(url)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    try:
        assert client.acl_whoami() == (ACL_USER if "ACL" in way else "default")
        pubsub.psubscribe(redis_keys.all_events_pattern())
        assert pubsub.get_message(timeout=5) is None  # the subscription confirmation, ignored
        seq = EventPublisher(client).publish(SHOP, {"id": 1, "state": "queued"}, 1)
        message = pubsub.get_message(timeout=5)
        assert message is not None and f'"seq":{seq}' in message["data"].decode()
    finally:
        pubsub.close()
        listener.close()
        client.close()


def test_a_certificate_the_ca_bundle_does_not_vouch_for_is_refused(tls_redis, tmp_path):
    other_ca = make_certificates(tmp_path / "other", common_name="someone else's CA").ca
    url = tls_redis.tls_url().replace(str(tls_redis.certificates.ca), str(other_ca))
    client = connect(url)
    try:
        with pytest.raises(redis_lib.ConnectionError, match="certificate verify failed"):
            client.ping()
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("way", ["password, ssl_cert_reqs=none", "ACL user, ssl_ca_certs"])
def test_webhooks_reach_the_page_through_a_tls_redis(way, tls_redis, web_server, worker_process, db, app_env,
                                                     session_token):
    from shopapp.models import Job, JobState

    env = {"REDIS_URL": tls_redis.tls_url(**WAYS[way])}
    web = web_server(env=env)
    worker_process(env=env)
    page = LiveClient([web.ws_url], session_token(expires_in=600), reconnect=False, name="page").start()
    try:
        webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], 20)
        assert ShopifySender([web.url + "/webhooks"]).send_all(webhooks).accepted == 20
        page.wait_for(lambda c: len(c.count("succeeded")) == 20, timeout=90)
    finally:
        page.close()
    assert count_rows(db, Job, Job.state == JobState.SUCCEEDED.value) == 20
    assert set(page.count("succeeded").values()) == {1}
    with tls_redis.client() as admin:  # the web's and the worker's connections: all as the URL's user
        me = admin.client_id()
        # A connection the app is opening at this moment has run no command yet (cmd=NULL) and is listed
        # as "default" until its AUTH is read: only connections that ran something count.
        users = {c["user"] for c in admin.client_list() if int(c["id"]) != me and c["cmd"] != "NULL"}
    assert users == {ACL_USER if "ACL" in way else "default"}
