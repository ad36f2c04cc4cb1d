"""Killing the parts: a worker mid-job, Redis, a web process, the database. Counts after each: every webhook
has exactly one job and one effect, and every socket got every job's success exactly once.

Every process is real (gunicorn, `python -m shopapp worker`, redis-server, PostgreSQL) and Shopify's side is
a sender that retries any non-2xx with the same webhook id, as Shopify does.
"""
from __future__ import annotations

import functools

import psutil
import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import make_url

from shopapp.embedded_redis import EmbeddedRedis, find_binary
from shopapp.jobs import queue as jobs_queue
from shopapp.models import Job, JobState
from shopapp.testing import SHOP as DEFAULT_SHOP
from shopapp.testing import wait_until as _wait_until
from tests.support.live_client import LiveClient
from tests.support.orders import order_webhooks
from tests.support.outcomes import (
    FAST_RECOVERY,
    all_jobs_succeeded,
    assert_exactly_once,
    assert_socket_saw_each_success_once,
    finish_sending,
    job_states,
    send_in_background,
)
from tests.support.shopify_sender import ShopifySender
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


# --- helpers --------------------------------------------------------------------------------------

# Recovery from a killed part takes longer than a single process's wait.
wait_until = functools.partial(_wait_until, timeout=90.0)


@pytest.fixture
def persistent_redis(tmp_path):
    """A Redis of this test's own with AOF persistence on, as a production Redis runs."""
    server = EmbeddedRedis(tmp_path / "redis-aof", binary=find_binary(prefer_system=True), persist=True).start()
    yield server
    server.stop()


# --- 1. a worker SIGKILLed in the middle of jobs ---------------------------------------------------

def test_workers_sigkilled_mid_job_lose_nothing_and_apply_nothing_twice(web_server, worker_process, app, db,
                                                                      app_env, session_token):
    import tests.support.test_jobs  # noqa: F401  (the slow kind, for start_merchant_job's check)

    webs = [web_server(env=FAST_RECOVERY), web_server(env=FAST_RECOVERY)]
    workers = [worker_process(env=FAST_RECOVERY), worker_process(env=FAST_RECOVERY)]
    token = session_token(expires_in=600)
    clients = [LiveClient([web.ws_url], token, reconnect=False, name=f"page-{i}").start()
               for i, web in enumerate(webs)]
    try:
        slow_ids = [jobs_queue.start_merchant_job(app, DEFAULT_SHOP, "test_slow_order",
                                                  {"order_id": 900_000 + i, "seconds": 0.6})["id"] for i in range(12)]
        webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], 100)
        thread, holder = send_in_background(ShopifySender([w.url + "/webhooks" for w in webs]), webhooks, rate=50)
        killed_jobs = []
        for _ in range(3):  # three times: catch a worker inside a slow job, SIGKILL it, start a replacement
            victim, job_id = _wait_for_a_running_slow_job(db, slow_ids, workers)
            victim.kill()
            killed_jobs.append(job_id)
            workers.append(worker_process(env=FAST_RECOVERY))
        report = finish_sending(thread, holder)
        assert report.accepted == 100, report.outcomes
        wait_until(lambda: all_jobs_succeeded(db, 112), what="every job succeeded")
        for client in clients:
            client.wait_for(lambda c: len(c.count("succeeded")) == 112)
    finally:
        for client in clients:
            client.close()

    assert_exactly_once(db, webhooks, extra_jobs=12)
    with db.session() as session:
        for job_id in killed_jobs:  # each killed attempt was taken over and run once more, not twice more
            assert session.get(Job, job_id).attempts == 2
    for client in clients:
        assert_socket_saw_each_success_once(client, 112)


def _wait_for_a_running_slow_job(db, slow_ids, workers):
    """(the worker command whose process runs one of the slow jobs, that job's id), as soon as there is one."""
    def running_slow_job():
        by_pid = {child.pid: w for w in workers if w.alive() for child in psutil.Process(w.pid).children()}
        with db.session() as session:
            rows = session.execute(select(Job.id, Job.claimed_by).where(
                Job.id.in_(slow_ids), Job.state == JobState.RUNNING.value)).all()
        for job_id, claimed_by in rows:
            pid = int(claimed_by.rsplit(":", 1)[1]) if claimed_by else None
            if pid in by_pid:
                return by_pid[pid], job_id
        return None

    return wait_until(running_slow_job, timeout=60, interval=0.02, what="a slow job running on a live worker")


# --- 2. Redis restarted while 500 webhooks are being sent ------------------------------------------

@pytest.mark.parametrize("outage", ["restart", "data_lost"])
def test_redis_outage_during_500_webhooks_leaves_one_job_and_one_effect_each(
        outage, web_server, worker_process, db, app_env, persistent_redis, session_token):
    """`restart`: a clean restart of a Redis with AOF (what a production Redis does on failover or upgrade):
    the pages resume where they were, each success arrives once.
    `data_lost`: Redis killed and started empty (a managed Redis without persistence, a lost volume): the
    queued work is rebuilt from the database by the sweeper, and the pages notice the gap in seq and take a
    fresh snapshot, so they still end up showing every job's true state."""
    env = dict(FAST_RECOVERY, REDIS_URL=persistent_redis.url)
    webs = [web_server(env=env), web_server(env=env)]
    for _ in range(2):
        worker_process(env=env)
    token = session_token(expires_in=600)
    clients = [LiveClient([web.ws_url], token, name=f"page-{i}").start() for i, web in enumerate(webs)]
    webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], 500)
    sender = ShopifySender([w.url + "/webhooks" for w in webs], concurrency=8)
    thread, holder = send_in_background(sender, webhooks, rate=200)
    # Mid-stream: webhooks still arriving, jobs queued, and pages already holding seqs of finished jobs.
    wait_until(lambda: sender.sent >= 150 and all(len(c.count("succeeded")) >= 50 for c in clients),
               timeout=60, what="150 deliveries sent and 50 jobs done")
    if outage == "restart":
        persistent_redis.restart()
    else:
        persistent_redis.kill()
        for path in persistent_redis.directory.rglob("*"):
            if path.is_file() and path.name != "redis.log":
                path.unlink()
        persistent_redis.start()
    try:
        report = finish_sending(thread, holder)
        assert report.accepted == 500, (report.outcomes, [d.outcomes for d in report.failed()][:5])
        wait_until(lambda: all_jobs_succeeded(db, 500), what="every job succeeded",
                   explain=lambda: job_states(db))
        for client in clients:  # what the page shows ends up true: every job it lists has succeeded
            client.wait_for(lambda c: c.view() and set(c.view().values()) == {"succeeded"})
    finally:
        for client in clients:
            client.close()
    assert_exactly_once(db, webhooks)
    for client in clients:
        if outage == "restart":  # nothing was lost: resumed from its seq, no snapshot, each success once
            client.wait_for(lambda c: len(c.count("succeeded")) == 500)
            assert_socket_saw_each_success_once(client, 500)
            assert len(client.snapshots) == 1, client.name
        else:  # the seq started again higher up: the page got a fresh snapshot (the server's resync after
            # its subscription broke, or its own after it saw the gap), never a silent jump
            assert len(client.snapshots) >= 2, (client.name, client.gaps, client.connects)


# --- 3. a web process restarted while pages are connected ------------------------------------------

def test_pages_on_a_restarted_web_process_resume_with_since_and_miss_nothing(
        web_server, worker_process, db, app_env, session_token):
    # INFO: shutdowns and reconnections are in their logs, for a failure to be read
    first, second = web_server(env={"LOG_LEVEL": "INFO"}), web_server(env={"LOG_LEVEL": "INFO"})
    for _ in range(2):
        worker_process()
    token = session_token(expires_in=600)
    # Each page reconnects through the "load balancer": to the other web process first.
    on_first = [LiveClient([first.ws_url, second.ws_url], token, name=f"first-{i}").start() for i in range(2)]
    on_second = [LiveClient([second.ws_url, first.ws_url], token, name=f"second-{i}").start() for i in range(2)]
    clients = on_first + on_second
    try:
        webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], 150)
        sender = ShopifySender([first.url + "/webhooks", second.url + "/webhooks"])
        thread, holder = send_in_background(sender, webhooks, rate=50)
        # Mid-stream, and every page already holds a seq (a page still at the seq-0 snapshot could only
        # get a fresh snapshot: the shop's counter starts high, see shopapp.events.publisher).
        wait_until(lambda: sender.sent >= 50 and all(len(c.count("succeeded")) >= 10 for c in clients),
                   timeout=60, what="50 deliveries sent and 10 jobs on every page")
        first.stop()  # SIGTERM: graceful; its sockets are closed with 1001
        restarted = web_server(port=first.port)
        report = finish_sending(thread, holder)
        assert report.accepted == 150, report.outcomes
        wait_until(lambda: all_jobs_succeeded(db, 150), what="every job succeeded")
        for client in clients:
            client.wait_for(lambda c: len(c.count("succeeded")) == 150)
        late = LiveClient([restarted.ws_url], token, reconnect=False, name="late").start()
        late.close()
    finally:
        for client in clients:
            client.close()

    assert_exactly_once(db, webhooks)
    for client in on_first:
        # Told that the server is going away (gunicorn.conf.py's SIGTERM hook), not merely closed.
        assert client.close_codes[:1] == [1001], (client.close_codes, first.output()[-3000:])
        assert client.connects >= 2
    for client in clients:
        assert_socket_saw_each_success_once(client, 150)
        assert len(client.snapshots) == 1, (client.name, "resumed with a snapshot instead of since")
    assert late.snapshots, "the restarted web process serves sockets again"


# --- 4. the database unreachable for a while ---------------------------------------------------------

def test_database_outage_answers_503_then_recovers_by_itself(web_server, worker_process, db, app_env,
                                                             session_token):
    url = make_url(db.url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite is a local file, there is no server to lose")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = dict(FAST_RECOVERY, DATABASE_URL=through_proxy)
        web = web_server(workers=2, env=env)
        worker = worker_process(env=env)
        client = LiveClient([web.ws_url], session_token(expires_in=600), reconnect=False, name="page").start()
        try:
            secret = app_env["SHOPIFY_API_SECRET"]
            before, during = order_webhooks(secret, 20), order_webhooks(secret, 40, first_id=1000)
            assert ShopifySender([web.url + "/webhooks"]).send_all(before).accepted == 20

            proxy.cut()
            wait_until(lambda: _ready(web) == 503, timeout=30, what="/readyz answering 503")
            sender = ShopifySender([web.url + "/webhooks"], retry_base=0.2, retry_cap=1.0, give_up_after=60)
            thread, holder = send_in_background(sender, during)
            wait_until(lambda: sender.sent >= 60, timeout=60, what="deliveries refused during the outage")
            proxy.restore()
            report = finish_sending(thread, holder)
            wait_until(lambda: _ready(web) == 200, timeout=30, what="/readyz back to 200 on its own")

            assert report.accepted == 40, report.outcomes
            assert report.outcomes[503] > 0  # Shopify was told to retry, and its retries landed
            wait_until(lambda: all_jobs_succeeded(db, 60), what="every job succeeded")
            client.wait_for(lambda c: len(c.count("succeeded")) == 60)
        finally:
            client.close()
        assert web.alive() and worker.alive()  # nothing had to be restarted
        assert_exactly_once(db, before + during)
        assert_socket_saw_each_success_once(client, 60)
    finally:
        proxy.stop()


def _ready(web) -> int:
    try:
        return requests.get(web.url + "/readyz", timeout=10).status_code
    except requests.RequestException:
        return 0
