"""The page's JSON API (/api/jobs): auth, listing, starting, retrying and cancelling the shop's jobs."""
from __future__ import annotations

import io
import json

import pytest

from shopapp import redis_keys
from shopapp.events.publisher import EventPublisher
from shopapp.models import Job, JobState
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.jobs import add_job, load_job

OTHER_SHOP = "other-shop.myshopify.com"


# --- authentication -------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("GET", "/api/jobs"), ("POST", "/api/jobs"), ("GET", "/api/jobs/counts"),
                                         ("GET", "/api/jobs/1"), ("POST", "/api/jobs/retry-failed"),
                                         ("POST", "/api/jobs/1/retry"), ("POST", "/api/jobs/1/cancel")])
@pytest.mark.parametrize("case", ["missing", "not_bearer", "expired", "forged", "other_app", "alg_none"])
def test_every_route_refuses_a_bad_session_token_with_the_retry_header(client, session_token, method, path, case):
    headers = {
        "missing": {},
        "not_bearer": {"Authorization": f"Token {session_token()}"},
        "expired": {"Authorization": f"Bearer {session_token(expires_in=-120)}"},
        "forged": {"Authorization": f"Bearer {session_token(secret='another-secret-of-enough-length!')}"},
        "other_app": {"Authorization": f"Bearer {session_token(api_key='another-app')}"},
        "alg_none": {"Authorization": f"Bearer {session_token(algorithm='none')}"},
    }[case]
    response = client.open(path, method=method, headers=headers, json={"kind": "sync_products"})
    assert response.status_code == 401
    assert response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert response.get_json()["error"] in ("unauthorized", "reauthorize")


def test_a_replayed_token_of_another_shop_cannot_reach_this_shops_jobs(api, db):
    job_id = add_job(db, DEFAULT_SHOP, state="failed", error="boom")
    response = api("POST", f"/api/jobs/{job_id}/retry", shop=OTHER_SHOP)
    assert response.status_code == 404
    assert load_job(db, job_id).state == "failed"


# --- GET /api/jobs ---------------------------------------------------------------------------------

def test_list_returns_the_shops_jobs_newest_first_with_the_current_seq(api, db, redis):
    older = add_job(db, age=60)
    newer = add_job(db, age=1)
    seq = EventPublisher(redis).publish(DEFAULT_SHOP, {"id": newer, "state": "queued"}, 1)
    body = api("GET", "/api/jobs").get_json()
    assert body["seq"] == seq
    assert [job["id"] for job in body["jobs"]] == [newer, older]
    assert set(body["jobs"][0]) == {"id", "kind", "topic", "webhook_id", "state", "progress", "message",
                                    "attempts", "error", "created_at", "updated_at"}


def test_list_never_shows_another_shops_jobs(api, db):
    add_job(db, OTHER_SHOP)
    assert api("GET", "/api/jobs").get_json()["jobs"] == []


def test_list_ignores_a_shop_parameter_and_uses_the_tokens_shop(api, db):
    add_job(db, OTHER_SHOP)
    assert api("GET", f"/api/jobs?shop={OTHER_SHOP}").get_json()["jobs"] == []


def test_list_filters_by_state(api, db):
    failed = add_job(db, state="failed")
    add_job(db, state="succeeded")
    assert [job["id"] for job in api("GET", "/api/jobs?state=failed").get_json()["jobs"]] == [failed]


def test_list_limits_the_number_of_jobs(api, db):
    for age in range(5):
        add_job(db, age=age)
    assert len(api("GET", "/api/jobs?limit=2").get_json()["jobs"]) == 2


def test_list_caps_a_large_limit(api, db, monkeypatch):
    from shopapp.admin import api as api_module

    monkeypatch.setattr(api_module, "MAX_LIMIT", 3)
    for age in range(5):
        add_job(db, age=age)
    assert len(api("GET", "/api/jobs?limit=1000").get_json()["jobs"]) == 3


@pytest.mark.parametrize("query,message", [
    ("state=exploded", "state must be one of queued, running, retrying, succeeded, failed"),
    ("state=FAILED", "state must be one of"),
    ("limit=0", "limit must be a whole number from 1 to 200"),
    ("limit=-3", "limit must be a whole number"),
    ("limit=ten", "limit must be a whole number"),
    ("limit=1e3", "limit must be a whole number"),
])
def test_list_refuses_a_bad_state_or_limit_with_a_clear_message(api, query, message):
    response = api("GET", f"/api/jobs?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"
    assert message in response.get_json()["detail"]


def test_list_answers_503_when_redis_is_down(app, api, monkeypatch):
    import redis as redis_lib

    def down(*_args, **_kwargs):
        raise redis_lib.ConnectionError("down")
    monkeypatch.setattr(EventPublisher, "current_seq", down)
    response = api("GET", "/api/jobs")
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"


# --- POST /api/jobs --------------------------------------------------------------------------------

def test_start_creates_a_queued_merchant_job_for_the_tokens_shop(api, db, redis, config):
    response = api("POST", "/api/jobs", json={"kind": "sync_products"})
    assert response.status_code == 202
    job = response.get_json()
    assert job["kind"] == "sync_products" and job["state"] == "queued" and job["webhook_id"] is None
    row = load_job(db, job["id"])
    assert row.shop_domain == DEFAULT_SHOP
    assert redis.llen(f"rq:queue:{config.QUEUE_NAME}.merchant") == 1


def test_start_publishes_the_new_job_to_the_shops_live_feed(api, redis):
    job = api("POST", "/api/jobs", json={"kind": "sync_products"}).get_json()
    events = redis.zrange(redis_keys.shop_event_log(DEFAULT_SHOP), 0, -1)
    assert [json.loads(e)["job"]["id"] for e in events] == [job["id"]]


@pytest.mark.parametrize("body,message", [
    ({"kind": "launch_rockets"}, "unknown job kind 'launch_rockets'"),
    ({"kind": "webhook"}, "created by Shopify's webhooks"),
    ({}, '"kind" must be a job kind'),
    ({"kind": 7}, '"kind" must be a job kind'),
    ({"kind": ""}, '"kind" must be a job kind'),
    ({"kind": "sync_products", "params": [1]}, '"params" must be an object'),
    ({"kind": "sync_products", "shop": OTHER_SHOP}, "unknown field(s): shop"),
    ([{"kind": "sync_products"}], "must be a JSON object"),
    ("sync_products", "must be a JSON object"),
])
def test_start_refuses_a_bad_request_with_a_clear_message(api, db, body, message):
    response = api("POST", "/api/jobs", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["detail"]
    with db.session() as session:
        assert session.query(Job).count() == 0


@pytest.mark.parametrize("data,content_type,message", [
    (b'{"kind": "sync_', "application/json", "not valid JSON"),
    (b"\xff\xfe{}", "application/json", "not valid JSON"),
    (b"", "application/json", "not valid JSON"),
    (b'{"kind": "sync_products"}', "text/plain", "Content-Type: application/json"),
])
def test_start_refuses_malformed_json(api, data, content_type, message):
    response = api("POST", "/api/jobs", data=data, content_type=content_type)
    assert response.status_code == 400
    assert message in response.get_json()["detail"]


def test_start_refuses_an_oversized_body_with_413(api, db):
    body = json.dumps({"kind": "sync_products", "params": {"x": "y" * 20_000}})
    response = api("POST", "/api/jobs", data=body, content_type="application/json")
    assert response.status_code == 413
    with db.session() as session:
        assert session.query(Job).count() == 0


def test_start_refuses_an_oversized_body_sent_without_a_length(api):
    body = json.dumps({"kind": "sync_products", "params": {"x": "y" * 40_000}}).encode()
    response = api("POST", "/api/jobs", input_stream=io.BytesIO(body), content_type="application/json",
                   headers={"Transfer-Encoding": "chunked"},
                   environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert response.request.content_length is None
    assert response.status_code == 413


# --- POST /api/jobs/<id>/retry ------------------------------------------------------------------

def test_retry_puts_a_failed_job_back_on_the_queue(api, db, redis, config):
    job_id = add_job(db, state="failed", error="boom", attempts=5)
    response = api("POST", f"/api/jobs/{job_id}/retry")
    assert response.status_code == 202
    job = response.get_json()
    assert job["id"] == job_id and job["state"] == "queued" and job["error"] is None
    assert load_job(db, job_id).state == "queued"
    assert redis.llen(f"rq:queue:{config.QUEUE_NAME}.webhooks") == 1  # a webhook job waits in its lane


@pytest.mark.parametrize("state", ["queued", "running", "retrying", "succeeded"])
def test_retry_of_a_job_that_has_not_failed_is_a_conflict(api, db, state):
    job_id = add_job(db, state=state)
    response = api("POST", f"/api/jobs/{job_id}/retry")
    assert response.status_code == 409
    assert "only a failed job can be retried" in response.get_json()["detail"]
    assert load_job(db, job_id).state == state


def test_retry_of_another_shops_job_is_not_found(api, db):
    job_id = add_job(db, OTHER_SHOP, state="failed", error="boom")
    response = api("POST", f"/api/jobs/{job_id}/retry")
    assert response.status_code == 404
    assert load_job(db, job_id).state == "failed"


@pytest.mark.parametrize("job_id", ["999999", str(2**63), "abc", "-1"])
def test_retry_of_a_missing_or_malformed_job_id_is_not_found(api, db, job_id):
    assert api("POST", f"/api/jobs/{job_id}/retry").status_code == 404


def test_retry_twice_is_a_conflict_the_second_time(api, db):
    job_id = add_job(db, state="failed", error="boom")
    assert api("POST", f"/api/jobs/{job_id}/retry").status_code == 202
    assert api("POST", f"/api/jobs/{job_id}/retry").status_code == 409


# --- POST /api/jobs/<id>/cancel -----------------------------------------------------------------

def test_cancel_fails_a_waiting_job_at_once(api, db):
    job_id = add_job(db, state="queued", kind="sync_products")
    response = api("POST", f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.get_json()["state"] == "failed"
    assert load_job(db, job_id).error == "cancelled"


def test_cancel_asks_a_running_job_to_stop(api, db):
    job_id = add_job(db, state="running", kind="sync_products")
    response = api("POST", f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.get_json()["state"] == "running"
    assert load_job(db, job_id).cancel_requested is True


def test_cancel_of_a_finished_job_is_a_conflict(api, db):
    job_id = add_job(db, state=JobState.SUCCEEDED.value, kind="sync_products")
    assert api("POST", f"/api/jobs/{job_id}/cancel").status_code == 409


def test_cancel_of_another_shops_job_is_not_found(api, db):
    job_id = add_job(db, OTHER_SHOP, state="running", kind="sync_products")
    assert api("POST", f"/api/jobs/{job_id}/cancel").status_code == 404
    assert load_job(db, job_id).cancel_requested is False


def test_api_routes_refuse_other_methods(api):
    assert api("DELETE", "/api/jobs").status_code == 405
    assert api("GET", "/api/jobs/1/retry").status_code == 405
