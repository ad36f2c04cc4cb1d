"""Logs: JSON lines with request id, shop, topic, webhook id and job id; never tokens, secrets or customer data."""
from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid

import pytest
import requests
import websocket
from sqlalchemy import select

from shopapp import logs
from shopapp.models import Job, JobState
from shopapp.testing import SHOP as DEFAULT_SHOP
from shopapp.testing import build_webhook, sample_payload, wait_until


@pytest.fixture
def log_lines():
    """Every line the app logs during the test, as written in production (JSON, redacted, with context)."""
    stream = io.StringIO()
    handler = logs.build_handler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    yield read
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_response_carries_a_generated_request_id(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_a_well_formed_request_id_from_the_load_balancer_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-Id": "lb-4f1c.77:a_b"})
    assert response.headers["X-Request-Id"] == "lb-4f1c.77:a_b"


@pytest.mark.parametrize("given", ["has space", "x" * 129, '{"json":1}', "über"])
def test_a_malformed_request_id_is_replaced(client, given):
    answered = client.get("/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"]
    assert answered != given and len(answered) == 32


def test_lines_logged_in_a_request_carry_its_id_and_what_the_view_learned(app, client, log_lines):
    @app.get("/_test/log")
    def _view():
        logs.set_context(shop=DEFAULT_SHOP, topic="orders/create", webhook_id="wh-1")
        logging.getLogger("shopapp.test").info("handled")
        return "ok"

    rid = client.get("/_test/log", headers={"X-Request-Id": "req-42"}).headers["X-Request-Id"]
    line = next(entry for entry in log_lines() if entry["msg"] == "handled")
    assert line["request_id"] == rid == "req-42"
    assert (line["shop"], line["topic"], line["webhook_id"]) == (DEFAULT_SHOP, "orders/create", "wh-1")
    access = next(entry for entry in log_lines() if entry["msg"] == "request")
    assert (access["request_id"], access["path"], access["status"]) == ("req-42", "/_test/log", 200)


def test_context_ends_with_the_request(app, client, log_lines):
    @app.get("/_test/log")
    def _view():
        logs.set_context(shop=DEFAULT_SHOP)
        return "ok"

    client.get("/_test/log")
    logging.getLogger("shopapp.test").info("after")
    line = next(entry for entry in log_lines() if entry["msg"] == "after")
    assert "request_id" not in line and "shop" not in line


def test_bind_carries_job_context_only_inside_the_block(log_lines):
    log = logging.getLogger("shopapp.test")
    with logs.bind(job_id=7, shop=DEFAULT_SHOP, kind="webhook"):
        log.info("inside")
    log.info("outside")
    inside, outside = (next(e for e in log_lines() if e["msg"] == m) for m in ("inside", "outside"))
    assert (inside["job_id"], inside["shop"], inside["kind"]) == (7, DEFAULT_SHOP, "webhook")
    assert "job_id" not in outside


def test_the_access_line_has_the_path_without_the_query_string(client, log_lines, session_token):
    token = session_token()
    client.get(f"/healthz?id_token={token}&shop={DEFAULT_SHOP}")
    access = next(entry for entry in log_lines() if entry["msg"] == "request")
    assert access["path"] == "/healthz"
    assert token not in json.dumps(log_lines())


@pytest.mark.parametrize("text, leaked", [
    ("token eyJhbGciOiJIUzI1NiJ9.eyJkZXN0IjoieCJ9.c2lnbmF0dXJl in a message", "c2lnbmF0dXJl"),
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
    ("GET /ws/jobs?since=3&id_token=opaque-value-123", "opaque-value-123"),
    ("/auth/callback?code=0123abcd&shop=x.myshopify.com", "0123abcd"),
    ("admin token shpat_0123456789abcdef", "shpat_0123456789abcdef"),
    ("customer jane.doe+shop@example.co.uk ordered", "jane.doe+shop@example.co.uk"),
    ("IntegrityError [parameters: ('Jane', 'Street 1')]\n(Background...)", "Street 1"),
])
def test_redaction_removes_tokens_and_customer_data(text, leaked):
    assert leaked not in logs.redact(text)


def test_configured_secrets_are_removed_from_every_line(monkeypatch):
    monkeypatch.setattr(logs, "_secrets", ("the-api-secret-0123456789",))
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad hmac with %s", ("the-api-secret-0123456789",),
                               None)
    assert "the-api-secret" not in logs.JsonFormatter().format(record)


def test_the_secrets_removed_include_the_redis_and_database_passwords(app_factory):
    app = app_factory(REDIS_SENTINEL_PASSWORD="sentinel-pass-123", REDIS_URL="redis://:redis-pass-456@127.0.0.1:1/0",
                      DATABASE_URL="postgresql+psycopg://u:db-pass-7890@127.0.0.1/x")
    assert {"sentinel-pass-123", "redis-pass-456", "db-pass-7890"} <= set(logs.configured_secrets(app.config))


@pytest.mark.slow
def test_real_processes_never_log_tokens_secrets_or_customer_data(web_server, worker_process, app_env, db,
                                                                  session_token):
    debug = {"LOG_LEVEL": "DEBUG"}
    server = web_server(env=debug)
    worker = worker_process(env=debug)
    token = session_token()
    email, name, phone = "jane.uniquecustomer@example.com", "Janeunique", "+1-555-0199-777"
    payload = sample_payload("orders/create")
    payload.update(email=email, contact_email=email, phone=phone,
                   customer={"id": 99, "email": email, "first_name": name, "last_name": "Doe", "phone": phone})
    webhook = build_webhook("orders/create", app_env["SHOPIFY_API_SECRET"], payload=payload)

    socket = websocket.create_connection(f"{server.ws_url}/ws/jobs?id_token={token}", timeout=10)
    try:
        assert json.loads(socket.recv())["type"] == "snapshot"
    finally:
        socket.close()
    with requests.Session() as http:
        http.get(f"{server.url}/?shop={DEFAULT_SHOP}&id_token={token}&host=eA",
                 timeout=10, allow_redirects=False)
        http.get(f"{server.url}/api/jobs", headers={"Authorization": f"Bearer {token}"},
                 timeout=10, allow_redirects=False)
        http.get(f"{server.url}/auth/callback?code=oauth-code-0123&shop={DEFAULT_SHOP}",
                 timeout=10, allow_redirects=False)
        rid = str(uuid.uuid4())
        answer = http.post(f"{server.url}/webhooks", data=webhook.body,
                           headers=dict(webhook.headers, **{"X-Request-Id": rid}), timeout=10)
    assert answer.headers["X-Request-Id"] == rid
    if answer.status_code == 200:  # let the worker handle it, so its lines are checked too
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.session() as session:
                job = session.scalars(select(Job).where(Job.webhook_id == webhook.webhook_id)).first()
                if job is not None and JobState(job.state).is_final:
                    break
            time.sleep(0.2)
    server.stop()
    worker.stop()
    output = server.output() + worker.output()
    signature = token.rsplit(".", 1)[1]
    for secret in (token, signature, app_env["SHOPIFY_API_SECRET"], app_env["SHOPAPP_ENCRYPTION_KEY"], email,
                   name, phone, "oauth-code-0123", webhook.headers["X-Shopify-Hmac-Sha256"]):
        assert secret not in output, f"{secret!r} appears in the logs"
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    webhook_lines = [line for line in lines if line.get("request_id") == rid and line.get("msg") != "request"]
    if answer.status_code == 200:
        assert any(line.get("webhook_id") == webhook.webhook_id and line.get("topic") == "orders/create"
                   and line.get("shop") == DEFAULT_SHOP for line in webhook_lines), \
            "the webhook's handling logged nothing with its request id, webhook id, topic and shop"
    assert any(line.get("path") == "/api/jobs" and line.get("request_id") for line in lines)


def _record(msg: str, level: int = logging.INFO, **fields) -> logging.LogRecord:
    record = logging.LogRecord("shopapp.webhooks.endpoint", level, __file__, 1, msg, (), None)
    record.__dict__.update(fields)
    return record


def test_a_plain_line_is_time_level_message_then_the_context_with_the_request_id_last():
    line = logs.PlainFormatter().format(_record("webhook accepted", request_id="req-1", shop=DEFAULT_SHOP,
                                                topic="orders/create", job_id=7))
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO  webhook accepted  "
                        rf"shop={DEFAULT_SHOP} topic=orders/create job_id=7 request_id=req-1", line)


def test_a_plain_line_is_redacted_like_a_json_line():
    line = logs.PlainFormatter().format(_record("customer jane@example.com sent Bearer abc.def", logging.WARNING))
    assert "jane@example.com" not in line and "abc.def" not in line
    assert " WARNING customer [redacted-email] sent Bearer [redacted]" in line


class _Stream(io.StringIO):
    def __init__(self, terminal: bool):
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize("log_format, dev, terminal, json_lines", [
    ("auto", False, False, True),    # production, a log collector
    ("auto", False, True, False),    # a developer's terminal
    ("auto", True, False, False),    # dev mode
    ("json", True, True, True),
    ("plain", False, False, False),
])
def test_log_format_auto_is_plain_in_a_terminal_or_dev_mode_and_json_elsewhere(log_format, dev, terminal,
                                                                                json_lines):
    assert logs.use_json_lines(log_format, dev, _Stream(terminal)) is json_lines


def test_the_old_log_plain_flag_is_refused_with_a_line_naming_its_replacement():
    from shopapp.config import Config, ConfigError

    with pytest.raises(ConfigError, match="LOG_PLAIN is replaced by LOG_FORMAT"):
        Config.from_env({"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "LOG_PLAIN": "1",
                         "SHOPAPP_ENCRYPTION_KEY": "I67nKn24mXqgTL6zPTuTWcxpUVKsEqUmccIotcgNo4Q="})


def test_a_workers_lines_for_a_job_carry_the_request_id_of_its_delivery(app, client, signed_webhook, rq_worker,
                                                                        log_lines):
    webhook = signed_webhook("orders/create")
    response = client.post("/webhooks", data=webhook.body, headers=dict(webhook.headers, **{"X-Request-Id": "rq-7"}))
    job_id = response.get_json()["job_id"]
    rq_worker()
    worker_lines = [line for line in log_lines() if line.get("job_id") == job_id and line["logger"].startswith(
        "shopapp.jobs")]
    assert [line["msg"].split(" (")[0].split(" in ")[0] for line in worker_lines] == ["job claimed", "job succeeded"]
    assert {line["request_id"] for line in worker_lines} == {"rq-7"}


def test_a_merchant_jobs_lines_carry_the_request_id_of_post_api_jobs(client, session_token, rq_worker, log_lines):
    response = client.post("/api/jobs", json={"kind": "test_context"}, headers={
        "Authorization": f"Bearer {session_token()}", "X-Request-Id": "api-9"})
    job_id = response.get_json()["id"]
    rq_worker()
    assert {line.get("request_id") for line in log_lines() if line.get("job_id") == job_id} == {"api-9"}


@pytest.mark.slow
def test_a_real_workers_json_line_for_the_job_carries_the_request_id_the_web_process_logged(
        web_server, worker_process, app_env):
    env = {"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}
    server, worker = web_server(env=env), worker_process(env=env)
    webhook = build_webhook("orders/create", app_env["SHOPIFY_API_SECRET"])
    answer = requests.post(f"{server.url}/webhooks", data=webhook.body, headers=webhook.headers, timeout=10)
    assert answer.status_code == 200
    job_id = answer.json()["job_id"]

    def worker_line() -> dict | None:
        lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
        return next((line for line in lines if line.get("job_id") == job_id
                     and line["msg"].startswith("job succeeded")), None)
    succeeded = wait_until(worker_line, timeout=60, what="the worker's line for the job",
                           explain=lambda: worker.output()[-2000:])
    accepted = next(json.loads(line) for line in server.output().splitlines()
                    if line.startswith("{") and json.loads(line)["msg"] == "webhook accepted")
    assert accepted["request_id"] == answer.headers["X-Request-Id"] == succeeded["request_id"]
    assert (accepted["job_id"], succeeded["webhook_id"]) == (job_id, webhook.webhook_id)
