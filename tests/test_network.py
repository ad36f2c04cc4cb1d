"""Several hosts on a network that fails: PostgreSQL, Redis, 2 web hosts and 2 worker hosts, each in its own
network namespace, joined by veth links to one bridge (tests/support/netns.py).

Webhooks go to both web hosts and pages are open on both while the network misbehaves, one fault after
another:
1. 200 ms more per round trip on the database link. This kernel has no `tc netem`, so every host reaches
   PostgreSQL through a delay proxy in a namespace of its own (tests/support/delay_proxy.py), switched on
   for a while;
2. a worker host cut off from Redis for 20 s (nftables drops every packet both ways: no reset, no ICMP);
3. a web host cut off from Redis for 20 s.
Counts, not timings: every acknowledged webhook applied once, every job succeeded, no page left showing a
wrong state. Traffic stays on the test's own bridge and subnet; every namespace is removed afterwards.
"""
from __future__ import annotations

import signal
import sys
import time

import psycopg
import pytest
import redis as redis_lib
import requests

from shopapp.db import Database, migrate
from shopapp.testing import wait_until
from tests.support.live_client import LiveClient
from tests.support.netns import Network, unavailable_reason
from tests.support.orders import order_webhooks
from tests.support.outcomes import (
    FAST_RECOVERY,
    assert_exactly_once,
    send_in_background,
    settle,
)
from tests.support.pg_cluster import PgCluster, server_binaries
from tests.support.processes import Process
from tests.support.shopify_sender import ShopifySender

# nodb: it runs a PostgreSQL cluster of its own, so the PostgreSQL run of .ci/run need not repeat it.
pytestmark = [pytest.mark.netns, pytest.mark.nodb, pytest.mark.slow, pytest.mark.timeout(300)]

WEBHOOKS, RATE = 1200, 20.0  # about a minute of deliveries: enough to run through all three faults
PARTITION_SECONDS, LATENCY_SECONDS, DATABASE_RTT_MS = 20.0, 10.0, 200
PORT = 8000


class Cluster:
    """The hosts and their processes (see the module docstring)."""

    def __init__(self, network: Network, tmp_path, app_env: dict):
        self.network, self.tmp_path = network, tmp_path
        self.hosts = {name: network.add_host(name, octet) for name, octet in
                      (("pg", 10), ("pgdelay", 9), ("redis", 11), ("web1", 21), ("web2", 22),
                       ("worker1", 31), ("worker2", 32))}
        network.join_from_here(1)  # this test process: sends webhooks, holds the pages, reads the database
        self.processes: dict[str, Process] = {}
        self.postgres = PgCluster(max_connections=300)
        hosts = self.hosts
        self.database_url = self.postgres.url(hosts["pg"].address)
        self.env = dict(app_env, **FAST_RECOVERY, REDIS_URL=f"redis://{hosts['redis'].address}:6379/0",
                        DATABASE_URL=self.postgres.url(hosts["pgdelay"].address))

    def start(self) -> Cluster:
        hosts, network = self.hosts, self.network
        self.postgres.init(trusted_subnet=f"{network.subnet}.0/24")
        self.postgres.start(listen=hosts["pg"].address, wrap=lambda argv: network.run(hosts["pg"], argv))
        migrate.upgrade(self.database_url)
        self._spawn("pgdelay", [sys.executable, "-m", "tests.support.delay_proxy", hosts["pgdelay"].address, "5432",
                                hosts["pg"].address, "5432", str(DATABASE_RTT_MS)])
        self._spawn("redis", ["redis-server", "--port", "6379", "--bind", hosts["redis"].address,
                              "--protected-mode", "no", "--dir", str(self.tmp_path), "--save", "",
                              "--appendonly", "yes", "--appendfsync", "everysec"])
        wait_until(self._database_answers, timeout=30, what="PostgreSQL through the delay proxy")
        wait_until(self._redis_answers, timeout=30, what="Redis")
        for name in ("web1", "web2"):
            self._spawn(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                        BIND_HOST=hosts[name].address, PORT=str(PORT), WEB_CONCURRENCY="1")
        for name in ("worker1", "worker2"):
            self._spawn(name, [sys.executable, "-m", "shopapp", "worker"])
        for name in ("web1", "web2"):
            wait_until(lambda name=name: self.ready(name) == 200, timeout=60, what=f"{name} ready",
                       explain=lambda name=name: self.processes[name].output()[-2000:])
        return self

    def url(self, name: str, scheme: str = "http") -> str:
        return f"{scheme}://{self.hosts[name].address}:{PORT}"

    def ready(self, name: str) -> int:
        try:
            return requests.get(self.url(name) + "/readyz", timeout=10).status_code
        except requests.RequestException:
            return 0

    def database_latency(self, on: bool) -> None:
        self.processes["pgdelay"].signal(signal.SIGUSR1 if on else signal.SIGUSR2)  # see delay_proxy

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        self.postgres.stop()

    def _spawn(self, name: str, argv: list[str], **env: str) -> None:
        process = Process(self.network.run(self.hosts[name], argv),
                          dict(self.env, SHOPAPP_INSTANCE_DIR=str(self.tmp_path / f"instance-{name}"), **env),
                          self.tmp_path / f"{name}.log")
        self.processes[name] = process.start()

    def _database_answers(self) -> bool:
        url = self.env["DATABASE_URL"].replace("+psycopg", "")
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def _redis_answers(self) -> bool:
        try:
            with redis_lib.Redis(host=self.hosts["redis"].address, socket_connect_timeout=1) as client:
                return client.ping()
        except redis_lib.ConnectionError:
            return False


@pytest.fixture
def cluster(tmp_path, app_env):
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"needs network namespaces: {reason}")
    if server_binaries() is None:
        pytest.skip("needs PostgreSQL's server programs (initdb, pg_ctl) for a cluster of the test's own")
    network = Network().start()
    cluster = Cluster(network, tmp_path, app_env)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        network.close()


def test_hosts_on_a_failing_network_lose_nothing_and_leave_no_page_wrong(cluster, session_token, app_env):
    db = Database(cluster.database_url)
    token = session_token(expires_in=600)
    webs = [cluster.url("web1", "ws"), cluster.url("web2", "ws")]
    pages = [LiveClient(webs, token, name="page-on-web1").start(),
             LiveClient(webs[::-1], token, name="page-on-web2").start()]
    webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], WEBHOOKS)
    # Shopify retries a failed delivery for hours; here for 90 s, longer than any fault lasts.
    sender = ShopifySender([cluster.url("web1") + "/webhooks", cluster.url("web2") + "/webhooks"],
                           give_up_after=90)
    thread, holder = send_in_background(sender, webhooks, rate=RATE)
    faults: list[str] = []
    try:
        wait_until(lambda: sender.sent >= 100 and all(len(p.count("succeeded")) >= 10 for p in pages),
                   timeout=60, what="100 deliveries sent and 10 jobs done on every page")
        cluster.database_latency(on=True)
        faults.append(f"+{DATABASE_RTT_MS} ms per database round trip")
        _hold(LATENCY_SECONDS)
        cluster.database_latency(on=False)

        with cluster.network.partitioned(cluster.hosts["worker1"], cluster.hosts["redis"]):
            faults.append("worker1 cut off from Redis")
            _hold(PARTITION_SECONDS)

        with cluster.network.partitioned(cluster.hosts["web1"], cluster.hosts["redis"]):
            faults.append("web1 cut off from Redis")
            wait_until(lambda: cluster.ready("web1") == 503, timeout=PARTITION_SECONDS,
                       what="web1's /readyz answering 503 while it cannot reach Redis")
            _hold(PARTITION_SECONDS)

        report = settle(db, (thread, holder), pages, WEBHOOKS)
    finally:
        for page in pages:
            page.close()
    print(f"\nnetwork faults: {'; '.join(faults)}. {report.retried} of {WEBHOOKS} webhooks needed a retry "
          f"(outcomes {dict(report.outcomes)}); pages reconnected {[p.connects - 1 for p in pages]} times and "
          f"took {[len(p.snapshots) for p in pages]} snapshots")
    assert_exactly_once(db, webhooks)
    for name in ("web1", "web2", "worker1", "worker2"):
        assert cluster.processes[name].alive(), f"{name} died:\n{cluster.processes[name].output()[-2000:]}"
    db.dispose()


def _hold(seconds: float) -> None:
    """Keep a fault in place this long: a fault is defined by its duration (this waits for nothing)."""
    time.sleep(seconds)
