"""POST /webhooks refuses what is not a genuine Shopify delivery, with the contract's status codes."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from shopapp.models import Job, WebhookEvent
from shopapp.webhooks.verify import STATUS, Reason, hmac_matches


def _nothing_recorded(db) -> bool:
    with db.session() as s:
        return not s.scalar(select(func.count()).select_from(WebhookEvent)) and \
            not s.scalar(select(func.count()).select_from(Job))


def test_missing_hmac_is_401(client, signed_webhook, db):
    hook = signed_webhook("orders/create", headers={"X-Shopify-Hmac-Sha256": None})
    response = hook.post(client)
    assert response.status_code == 401 and response.get_json()["result"] == "missing_hmac"
    assert _nothing_recorded(db)


def test_wrong_hmac_is_401(client, signed_webhook, db):
    hook = signed_webhook("orders/create", secret="not-the-app-secret")
    assert hook.post(client).status_code == 401
    assert _nothing_recorded(db)


def test_body_changed_after_signing_is_401(client, signed_webhook, db):
    hook = signed_webhook("orders/create")
    tampered = hook.body.replace(b'"paid"', b'"refunded"')
    assert client.post("/webhooks", data=tampered, headers=hook.headers).status_code == 401
    assert _nothing_recorded(db)


def test_hmac_in_another_encoding_is_401(client, signed_webhook):
    hook = signed_webhook("orders/create")
    import base64

    hex_digest = base64.b64decode(hook.headers["X-Shopify-Hmac-Sha256"]).hex()
    forged = signed_webhook("orders/create", headers={"X-Shopify-Hmac-Sha256": hex_digest})
    assert forged.post(client).status_code == 401


@pytest.mark.parametrize("header", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"])
def test_missing_required_header_is_400(client, signed_webhook, db, header):
    response = signed_webhook("orders/create", headers={header: None}).post(client)
    assert response.status_code == 400
    assert response.get_json()["result"] == "missing_headers" and header in response.get_json()["detail"]
    assert _nothing_recorded(db)


@pytest.mark.parametrize("shop", ["evil.example.com", "shop.myshopify.com.evil.com", "-shop.myshopify.com",
                                  "sh op.myshopify.com"])
def test_shop_domain_that_is_not_myshopify_is_400(client, signed_webhook, db, shop):
    response = signed_webhook("orders/create", headers={"X-Shopify-Shop-Domain": shop}).post(client)
    assert response.status_code == 400 and response.get_json()["result"] == "invalid_shop_domain"
    assert _nothing_recorded(db)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2, 3]", b'"text"', b"", b"\xff\xfe{}",
                                  b"[" * 100_000 + b"]" * 100_000, b'{"a": 1} {"b": 2}'])
def test_body_that_is_not_a_json_object_is_400(client, signed_webhook, db, body):
    response = signed_webhook("orders/create", payload=body).post(client)
    assert response.status_code == 400 and response.get_json()["result"] == "body_not_a_json_object"
    assert _nothing_recorded(db)


@pytest.mark.parametrize("body", [b'{"id": 123456789012345678901234567890}', b'{"note": "\\u0000"}',
                                  b'{"note": "\\ud83d\\ude00"}', b'{"note": "\\\\ud83d"}'])
def test_valid_json_edge_cases_are_accepted_and_stored(client, signed_webhook, db, body):
    assert signed_webhook("orders/create", payload=body).post(client).get_json()["result"] == "accepted"


@pytest.mark.parametrize("body", [b'{"note": "\\ud83d"}', b'{"note": "\\ude00 and \\ud800"}',
                                  b'{"\\udfff": 1}', b'{"a": ["x\\uD83Dy"], "big": 123456789012345678901234567890}'])
def test_lone_surrogate_escape_is_400_not_a_failure_downstream(client, signed_webhook, db, body):
    # JSON's grammar allows it and Python's json reads it, but it is no Unicode character: PostgreSQL's
    # driver could not encode it later. orjson refuses it too.
    response = signed_webhook("orders/create", payload=body).post(client)
    assert response.status_code == 400 and response.get_json()["detail"] == "body is not JSON"
    assert _nothing_recorded(db)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_numbers_json_does_not_have_are_400_not_a_503_on_postgresql(client, signed_webhook, db, constant):
    response = signed_webhook("orders/create", payload=b'{"total": ' + constant + b"}").post(client)
    assert response.status_code == 400 and response.get_json()["detail"] == "body is not JSON"
    assert _nothing_recorded(db)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(client, method):
    response = client.open("/webhooks", method=method)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


class CountingStream(io.BytesIO):
    """A request body that remembers how many bytes the app read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_oversized_body_with_content_length_is_413_without_reading_it(app, signed_webhook, db):
    limit = app.config["WEBHOOK_MAX_BYTES"]
    hook = signed_webhook("orders/create", payload={"note": "x" * (limit + 10)})
    stream = CountingStream(hook.body)
    headers = dict(hook.headers, **{"Content-Length": str(len(hook.body))})
    response = app.test_client().post("/webhooks", input_stream=stream, headers=headers)
    assert response.status_code == 413 and response.get_json()["result"] == "body_too_large"
    assert stream.bytes_read == 0
    assert _nothing_recorded(db)


def test_body_that_ends_before_its_content_length_is_400(client, signed_webhook, db):
    # Under gunicorn the short body comes back silently (tests/test_malformed_requests.py); werkzeug's
    # stream says so: both are body_incomplete.
    hook = signed_webhook("orders/create")
    response = client.post("/webhooks", input_stream=io.BytesIO(hook.body), headers=hook.headers,
                           environ_overrides={"CONTENT_LENGTH": str(len(hook.body) + 50)})
    assert (response.status_code, response.get_json()["result"]) == (400, "body_incomplete")
    assert _nothing_recorded(db)


def test_oversized_chunked_body_is_413_after_reading_at_most_the_limit(app_factory, signed_webhook, db):
    limit = 1000
    limited = app_factory(WEBHOOK_MAX_BYTES=limit)
    hook = signed_webhook("orders/create", payload={"note": "x" * 50_000})
    stream = CountingStream(hook.body)
    environ = {"wsgi.input_terminated": True}  # what gunicorn says for a chunked request
    response = limited.test_client().post("/webhooks", input_stream=stream, headers=hook.headers,
                                          environ_overrides=environ)
    assert response.status_code == 413
    assert stream.bytes_read <= limit + 1
    assert _nothing_recorded(db)


def test_body_at_the_limit_is_accepted(app_factory, signed_webhook, db):
    hook = signed_webhook("orders/create", payload={"id": 1})
    limited = app_factory(WEBHOOK_MAX_BYTES=len(hook.body))
    assert hook.post(limited.test_client()).status_code == 200


def test_every_reason_has_a_status():
    assert set(STATUS) == set(Reason)
    assert {STATUS[r] for r in Reason} == {200, 400, 401, 405, 408, 413, 503}


@pytest.mark.parametrize("header", ["X-Shopify-Topic", "X-Shopify-Webhook-Id", "X-Shopify-Event-Id",
                                    "X-Shopify-API-Version"])
def test_header_longer_than_its_column_is_400_never_cut(client, signed_webhook, db, header):
    response = signed_webhook("orders/create", headers={header: "x" * 256}).post(client)
    assert response.status_code == 400 and response.get_json()["detail"] == f"{header} is too long"
    assert _nothing_recorded(db)


def test_hmac_check_accepts_either_secret_and_nothing_else():
    from shopapp.shopify.webhook_signing import sign

    body = b'{"id": 1}'
    assert hmac_matches(body, sign(body, "old"), ["new", "old"])
    assert hmac_matches(body, sign(body, "new"), ["new", "old"])
    assert not hmac_matches(body, sign(body, "other"), ["new", "old"])
    assert not hmac_matches(body, "\u00e9\u00e9", ["new"])
