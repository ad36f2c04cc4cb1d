"""`python -m shopapp webhook trigger` and `python -m shopapp jobs retry`: commands against running processes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from shopapp.config import DEFAULT_API_VERSION
from shopapp.jobs.state import change_job
from shopapp.models import Job, WebhookEvent

pytestmark = pytest.mark.slow


def _run(args, env, timeout=60):
    return subprocess.run([sys.executable, "-m", "shopapp", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_trigger_sends_a_signed_sample_that_the_app_accepts(web_server, app_env, db):
    server = web_server()
    result = _run(["webhook", "trigger", "orders/create", "--address", server.url + "/webhooks",
                   "--webhook-id", "trigger-1"], app_env)
    assert result.returncode == 0, result.stderr
    assert "HTTP 200" in result.stdout
    with db.session() as s:
        event = s.scalars(select(WebhookEvent)).one()
    assert (event.webhook_id, event.topic, event.shop_domain) == ("trigger-1", "orders/create",
                                                                  "dev-shop.myshopify.com")
    assert event.event_id and event.triggered_at and event.api_version == DEFAULT_API_VERSION == "2026-10"
    assert event.payload["id"] == 820982911946154508


def test_trigger_with_a_payload_file_and_shop(web_server, app_env, db, tmp_path):
    server = web_server()
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"id": 1, "title": "Hat"}))
    result = _run(["webhook", "trigger", "products/update", "--address", server.url + "/webhooks",
                   "--shop", "my-store.myshopify.com", "--payload", str(payload)], app_env)
    assert result.returncode == 0, result.stderr
    with db.session() as s:
        event = s.scalars(select(WebhookEvent)).one()
    assert (event.shop_domain, event.payload) == ("my-store.myshopify.com", {"id": 1, "title": "Hat"})


@pytest.mark.parametrize("topic", ["shop/redact", "app/uninstalled"])
def test_trigger_of_a_topic_whose_body_names_the_shop_names_the_shop_it_is_sent_for(web_server, app_env, db, topic):
    server = web_server()
    result = _run(["webhook", "trigger", topic, "--address", server.url + "/webhooks",
                   "--shop", "my-store.myshopify.com"], app_env)
    assert result.returncode == 0, result.stdout + result.stderr
    with db.session() as s:
        event = s.scalars(select(WebhookEvent)).one()
    assert event.shop_domain == "my-store.myshopify.com"
    assert "my-store.myshopify.com" in (event.payload.get("shop_domain"), event.payload.get("myshopify_domain"))


def test_trigger_with_another_secret_explains_the_401(web_server, app_env):
    server = web_server()
    result = _run(["webhook", "trigger", "orders/create", "--address", server.url + "/webhooks"],
                  dict(app_env, SHOPIFY_API_SECRET="another-secret"))
    assert result.returncode == 1
    assert "HTTP 401" in result.stdout and "SHOPIFY_API_SECRET" in result.stderr


def test_trigger_without_a_running_app_says_how_to_start_it(app_env):
    from shopapp.embedded_redis import free_port

    result = _run(["webhook", "trigger", "orders/create", "--address",
                   f"http://127.0.0.1:{free_port()}/webhooks"], app_env)
    assert result.returncode == 1 and "make run" in result.stderr


def test_trigger_for_a_topic_without_a_sample_names_the_samples(app_env):
    result = _run(["webhook", "trigger", "carts/create"], app_env)
    assert result.returncode == 2 and "orders/create" in result.stderr and "--payload" in result.stderr


def test_trigger_defaults_reach_a_dev_mode_app_with_its_generated_secret(app_env, tmp_path, db):
    """No credentials anywhere: the app and the command both use instance/dev-credentials.json, and the
    command's default address is the app's $PORT."""
    from tests.support.processes import WebServer

    env = {k: v for k, v in app_env.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_ENCRYPTION"))}
    server = WebServer(env, tmp_path / "dev-gunicorn.log").start()
    try:
        result = _run(["webhook", "trigger", "orders/create"], dict(env, PORT=str(server.port)))
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr + server.output()[-2000:]
    assert "HTTP 200" in result.stdout
    with db.session() as s:
        assert s.scalars(select(WebhookEvent.shop_domain)).one() == "dev-shop.myshopify.com"


def test_jobs_retry_command_requeues_a_failed_job(app, app_env, db):
    import tests.support.test_jobs  # noqa: F401
    from shopapp.jobs.queue import get_queue, start_merchant_job
    from shopapp.jobs.registry import MERCHANT_LANE

    job_id = start_merchant_job(app, "test-shop.myshopify.com", "test_context")["id"]
    with app.app_context(), db.session() as s:
        change_job(s, job_id, app=app, state="failed", error="boom")
    result = _run(["jobs", "retry", str(job_id)], app_env)
    assert result.returncode == 0, result.stderr
    assert f"job {job_id}" in result.stdout
    with db.session() as s:
        assert s.get(Job, job_id).state == "queued"
    assert any(i.startswith(f"job-{job_id}_") for i in get_queue(app, MERCHANT_LANE).get_job_ids())


def test_jobs_retry_command_refuses_a_job_that_did_not_fail(app, app_env, db):
    import tests.support.test_jobs  # noqa: F401
    from shopapp.jobs.queue import start_merchant_job

    job_id = start_merchant_job(app, "test-shop.myshopify.com", "test_context")["id"]
    result = _run(["jobs", "retry", str(job_id)], app_env)
    assert result.returncode == 1 and "only a failed job" in result.stderr
    missing = _run(["jobs", "retry", "999999"], app_env)
    assert missing.returncode == 1 and "no job 999999" in missing.stderr
