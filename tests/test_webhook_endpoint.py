"""The webhook endpoint answers before Flask, and its answers carry what every other response carries."""
from __future__ import annotations

import logging

import pytest

from shopapp.webhooks import endpoint
from tests.support.metrics_text import scrape, value


@pytest.mark.parametrize("headers, status", [({}, 200), ({"X-Shopify-Hmac-Sha256": "forged"}, 401)])
def test_answers_carry_the_request_id_and_the_security_headers(client, signed_webhook, headers, status):
    response = signed_webhook("orders/create", headers=dict(headers, **{"X-Request-Id": "lb-7"})).post(client)
    assert response.status_code == status and response.content_type == "application/json"
    assert response.headers["X-Request-Id"] == "lb-7"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_other_methods_are_told_to_use_post(client):
    response = client.open("/webhooks", method="OPTIONS")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_every_answer_is_timed_under_the_endpoint_label(client, signed_webhook):
    before = scrape(client)
    signed_webhook("orders/create").post(client)
    signed_webhook("orders/create", headers={"X-Shopify-Hmac-Sha256": None}).post(client)
    after = scrape(client)

    def delta(status):
        name, labels = "shopapp_http_request_duration_seconds_count", dict(endpoint="/webhooks", method="POST")
        return value(after, name, status=status, **labels) - value(before, name, status=status, **labels)

    assert (delta("200"), delta("401")) == (1, 1)


def test_a_bug_answers_500_in_the_endpoints_shape_and_is_logged(client, signed_webhook, monkeypatch, caplog):
    def broken(app, delivery):
        raise RuntimeError("a bug")

    monkeypatch.setattr(endpoint, "record", broken)
    with caplog.at_level(logging.ERROR, logger="shopapp.webhooks.endpoint"):
        response = signed_webhook("orders/create").post(client)
    assert response.status_code == 500 and response.get_json() == {"result": "error", "detail": "internal error"}
    assert response.headers["X-Request-Id"]
    assert any(r.exc_info and "webhook endpoint failed" in r.getMessage() for r in caplog.records)


def test_every_other_path_is_flasks(client):
    assert client.get("/healthz").status_code == 200
    assert client.post("/webhooks/extra", data=b"{}").status_code == 404


def test_the_endpoint_is_observed_like_a_flask_view(client, signed_webhook, caplog):
    # One RequestObservation serves both (shopapp/observability.py): same headers, same line, same metric.
    with caplog.at_level(logging.INFO, logger="shopapp.request"):
        view = client.get("/healthz")
        hook = signed_webhook("orders/create").post(client)
    records = [r for r in caplog.records if r.name == "shopapp.request"]
    assert [(r.method, r.path, r.status) for r in records] == [("GET", "/healthz", 200), ("POST", "/webhooks", 200)]
    assert set(vars(records[0])) == set(vars(records[1]))  # the same fields on both lines
    for name in ("X-Content-Type-Options", "Referrer-Policy"):
        assert view.headers[name] == hook.headers[name]
    assert view.headers["X-Request-Id"] and hook.headers["X-Request-Id"]


def test_a_head_request_is_answered_405_without_a_body(client):
    response = client.head("/webhooks")
    assert response.status_code == 405 and response.data == b""
    assert int(response.headers["Content-Length"]) > 0  # what a GET would carry
