"""/metrics: Prometheus text from every process of the machine, queue depth from Redis, closed to the public.

The worker command's own listener (METRICS_PORT) is tested in test_worker_metrics.py."""
from __future__ import annotations

import os
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from shopapp import metrics
from shopapp.metrics import multiprocess
from tests.support.metrics_text import scrape, value

FAMILIES = ("shopapp_webhooks_received", "shopapp_webhooks_rejected", "shopapp_webhooks_duplicate",
            "shopapp_job_duration_seconds", "shopapp_websockets_open", "shopapp_events_published",
            "shopapp_events_delivered", "shopapp_queue_depth", "shopapp_redis_up",
            "shopapp_http_request_duration_seconds")


def test_metrics_lists_every_documented_family(client):
    metrics.webhook_received("orders/create")
    metrics.webhook_rejected("hmac")
    metrics.webhook_duplicate("orders/create")
    metrics.job_finished("webhook", "succeeded", 0.01)
    metrics.socket_opened()
    metrics.socket_closed(1000)
    metrics.event_published()
    metrics.event_delivered(3)
    client.get("/healthz")
    names = {family.name for family in text_string_to_metric_families(scrape(client))}
    assert set(FAMILIES) <= names


def test_each_helper_counts_once_per_call(client):
    before = scrape(client)
    metrics.webhook_rejected("hmac")
    metrics.webhook_rejected("hmac")
    metrics.webhook_rejected("too_large")
    metrics.job_finished("webhook", "failed", 1.5)
    metrics.event_delivered(4)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("shopapp_webhooks_rejected_total", reason="hmac") == 2
    assert delta("shopapp_webhooks_rejected_total", reason="too_large") == 1
    assert delta("shopapp_job_duration_seconds_count", kind="webhook", outcome="failed") == 1
    assert delta("shopapp_job_duration_seconds_sum", kind="webhook", outcome="failed") == pytest.approx(1.5)
    assert delta("shopapp_events_delivered_total") == 4


def test_open_sockets_goes_up_and_down(client):
    before = value(scrape(client), "shopapp_websockets_open")
    metrics.socket_opened()
    metrics.socket_opened()
    assert value(scrape(client), "shopapp_websockets_open") == before + 2
    metrics.socket_closed(1001)
    metrics.socket_closed(None)
    assert value(scrape(client), "shopapp_websockets_open") == before


def test_queue_depth_is_read_from_redis(client, app, redis):
    queue = Queue(app.config["QUEUE_NAME"] + ".webhooks", connection=redis)
    for _ in range(3):
        queue.enqueue("os.getpid")
    text = scrape(client)
    assert value(text, "shopapp_queue_depth", queue=app.config["QUEUE_NAME"] + ".webhooks", state="queued") == 3
    assert value(text, "shopapp_redis_up") == 1


def test_metrics_answer_while_redis_is_down(app_env, db, private_redis):
    from shopapp import create_app
    from shopapp.config import Config
    from shopapp.testing.plugin import dispose_app

    application = create_app(Config.from_env(dict(app_env, REDIS_URL=private_redis.url)).with_overrides(TESTING=True))
    private_redis.stop()
    try:
        response = application.test_client().get("/metrics")
    finally:
        dispose_app(application)
    assert response.status_code == 200
    assert value(response.get_data(as_text=True), "shopapp_redis_up") == 0


def test_requests_are_timed_by_route_not_by_path(client):
    before = scrape(client)
    client.get("/healthz")
    client.get("/no/such/page?id_token=secret")
    after = scrape(client)
    count = "shopapp_http_request_duration_seconds_count"
    assert value(after, count, endpoint="/healthz", method="GET", status="200") - \
        value(before, count, endpoint="/healthz", method="GET", status="200") == 1
    assert value(after, count, endpoint="unmatched", method="GET", status="404") - \
        value(before, count, endpoint="unmatched", method="GET", status="404") == 1
    assert "secret" not in after and "/no/such/page" not in after


def test_metrics_through_a_proxy_need_the_token(client):
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


def test_metrics_from_a_public_address_need_the_token(client):
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "93.184.216.34"}).status_code == 404


def test_metrics_token_is_required_when_set(app_env, db, redis):
    from shopapp import create_app
    from shopapp.config import Config
    from shopapp.testing.plugin import dispose_app

    application = create_app(Config.from_env(dict(app_env, METRICS_TOKEN="scrape-token-0123456789"))
                             .with_overrides(TESTING=True))
    try:
        client = application.test_client()
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789",
                                             "X-Forwarded-For": "203.0.113.9"})
        assert ok.status_code == 200
    finally:
        dispose_app(application)


def test_prepare_process_removes_directories_of_supervisors_that_are_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICS_DIR", str(tmp_path))
    # setenv first, so that monkeypatch restores the variable's absence after prepare_process sets it;
    # a leaked directory would send the rest of the session's metrics to a deleted tmp_path.
    monkeypatch.setenv(multiprocess.ENV_DIR, "")
    monkeypatch.delenv(multiprocess.ENV_DIR)
    gone = tmp_path / "worker-999999"
    gone.mkdir()
    (gone / multiprocess.OWNER_FILE).write_text("999999 1")
    (gone / "counter_999999.db").write_bytes(b"")
    reused = tmp_path / f"web-{os.getppid()}"  # a live pid whose start time does not match: a reused pid
    reused.mkdir()
    (reused / multiprocess.OWNER_FILE).write_text(f"{os.getppid()} 0")
    own = metrics.prepare_process("web")
    assert own == tmp_path / f"web-{os.getpid()}"
    assert os.environ[multiprocess.ENV_DIR] == str(own)
    assert sorted(p.name for p in tmp_path.iterdir()) == [own.name]


@pytest.mark.slow
def test_metrics_sum_every_web_process_including_dead_ones(web_server, tmp_path):
    import psutil

    metrics_dir = tmp_path / "metrics"
    server = web_server(workers=2, env={"METRICS_DIR": str(metrics_dir)})
    count = ("shopapp_http_request_duration_seconds_count", dict(endpoint="/healthz", method="GET", status="200"))

    def healthz_count() -> float:
        return value(requests.get(server.url + "/metrics", timeout=10).text, count[0], **count[1])

    def hit(n: int) -> None:
        for _ in range(n):
            assert requests.get(server.url + "/healthz", timeout=10).status_code == 200

    start = healthz_count()
    hit(15)
    # Kill a worker that served some of them; gunicorn forks a new one. Its counts must not vanish.
    served = {int(p.stem.split("_")[1]) for p in metrics_dir.glob("web-*/histogram_*.db")}
    workers = psutil.Process(server.pid).children()
    victim = next(w for w in workers if w.pid in served)
    victim.kill()
    victim.wait(10)
    deadline = time.monotonic() + 30
    while len([c for c in psutil.Process(server.pid).children() if c.pid != victim.pid]) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the killed worker"
        time.sleep(0.1)
    hit(10)
    seen = {healthz_count() for _ in range(10)}  # every scrape, whichever worker answers it, shows the sum
    assert seen == {start + 25}
