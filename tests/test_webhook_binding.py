"""A captured delivery cannot act on another shop or topic: where the signed body names its shop, the body
decides, and a topic that destroys data requires its own payload's shape (`shopapp/webhooks/body_rules.py`).

Shopify signs only the body; the topic and shop headers are not signed. The attack: resend one genuine
delivery's bytes and HMAC with `X-Shopify-Topic: shop/redact` and another shop's domain.
"""
from __future__ import annotations

import json
import logging

import pytest
import requests
from sqlalchemy import func, select

from shopapp.features.orders.models import Order
from shopapp.models import Job, Shop, WebhookEvent
from shopapp.testing import OTHER_SHOP, SHOP, sample_payload
from shopapp.webhooks.body_rules import RULES, name_shop
from tests.support.metrics_text import scrape, value

DESTROYING = ["customers/redact", "shop/redact", "app/uninstalled"]


def _nothing_recorded(db) -> bool:
    with db.session() as s:
        return not s.scalar(select(func.count()).select_from(WebhookEvent)) and \
            not s.scalar(select(func.count()).select_from(Job))


def _replayed(signed_webhook, captured_topic: str, as_topic: str, shop: str = SHOP, captured_shop: str = SHOP):
    """The body (and so the HMAC) of a genuine `captured_topic` delivery for `captured_shop`, resent with
    headers claiming `as_topic` for `shop`."""
    captured = signed_webhook(captured_topic, shop=captured_shop)
    return signed_webhook(as_topic, shop=shop, payload=captured.body)


def _refusal(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["result"]


@pytest.mark.parametrize("topic", [*sorted(RULES)])
def test_body_naming_another_shop_than_the_header_is_401_and_records_nothing(client, signed_webhook, db, topic):
    payload = name_shop(topic, _payload(topic), OTHER_SHOP)
    response = signed_webhook(topic, shop=SHOP, payload=payload).post(client)
    assert _refusal(response) == (401, "body_names_another_shop")
    assert _nothing_recorded(db)


def test_the_refusal_is_logged_at_info_with_its_reason_and_counted(client, signed_webhook, db, caplog):
    before = scrape(client)
    with caplog.at_level(logging.INFO, logger="shopapp.webhooks.endpoint"):
        _replayed(signed_webhook, "shop/redact", "shop/redact", shop=SHOP, captured_shop=OTHER_SHOP).post(client)
    [line] = [r for r in caplog.records if r.getMessage().startswith("webhook refused")]
    assert line.levelno == logging.INFO and "body_names_another_shop" in line.getMessage()
    assert "shop_domain" in line.getMessage()
    after = scrape(client)
    counted = [value(text, "shopapp_webhooks_rejected_total", reason="body_names_another_shop")
               for text in (before, after)]
    assert counted[1] - counted[0] == 1


@pytest.mark.parametrize("topic", DESTROYING)
def test_a_topic_that_destroys_data_requires_the_body_to_name_the_shop(client, signed_webhook, db, topic):
    payload = dict(_payload(topic))
    payload.pop(RULES[topic].shop_field)
    response = signed_webhook(topic, payload=payload).post(client)
    assert _refusal(response) == (401, "body_not_the_topics_shape")
    assert _nothing_recorded(db)


@pytest.mark.parametrize("topic", DESTROYING)
def test_a_topic_that_destroys_data_refuses_a_null_shop_field(client, signed_webhook, db, topic):
    # Shopify's own sample app/uninstalled (`shopify app webhook trigger`) has "myshopify_domain": null.
    payload = dict(_payload(topic), **{RULES[topic].shop_field: None})
    assert _refusal(signed_webhook(topic, payload=payload).post(client)) == (401, "body_not_the_topics_shape")


@pytest.mark.parametrize("captured, as_topic", [
    ("orders/create", "shop/redact"),             # an order is not a shop redaction
    ("customers/redact", "shop/redact"),          # one customer's redaction does not erase the shop
    ("customers/data_request", "shop/redact"),
    ("customers/data_request", "customers/redact"),  # a request for data erases nothing
    ("shop/redact", "customers/redact"),
    ("orders/create", "customers/redact"),
    ("orders/create", "app/uninstalled"),
    ("customers/redact", "app/uninstalled"),
    ("shop/redact", "app/uninstalled"),
    ("app/uninstalled", "shop/redact"),
])
def test_a_body_of_another_topics_shape_is_refused_for_a_topic_that_destroys_data(client, signed_webhook, db,
                                                                                   captured, as_topic):
    response = _replayed(signed_webhook, captured, as_topic).post(client)
    assert _refusal(response) == (401, "body_not_the_topics_shape")
    assert _nothing_recorded(db)


@pytest.mark.parametrize("field, bad", [("customer", None), ("customer", "bob"), ("orders_to_redact", None),
                                        ("shop_id", "954889"), ("shop_id", True)])
def test_customers_redact_requires_the_fields_its_payload_always_has(client, signed_webhook, db, field, bad):
    payload = dict(_payload("customers/redact"), **{field: bad})
    response = signed_webhook("customers/redact", payload=payload).post(client)
    assert _refusal(response) == (401, "body_not_the_topics_shape") and field in response.get_json()["detail"]


def test_a_topic_that_destroys_nothing_accepts_a_body_that_names_no_shop(client, signed_webhook, db):
    shop_update = signed_webhook("shop/update", payload={"id": 548380009, "name": "Super Toys"})
    data_request = signed_webhook("customers/data_request", payload={"customer": {"id": 1}, "orders_requested": []})
    assert (shop_update.post(client).status_code, data_request.post(client).status_code) == (200, 200)


def test_the_primary_domain_of_a_shop_is_not_compared(client, signed_webhook, db):
    # `domain` is the shop's primary domain, often the merchant's own; only myshopify_domain names the shop.
    payload = dict(_payload("app/uninstalled"), domain="supertoys.example")
    assert signed_webhook("app/uninstalled", payload=payload).post(client).status_code == 200


@pytest.mark.parametrize("topic", [*sorted(RULES)])
def test_a_body_naming_the_headers_shop_is_accepted(client, signed_webhook, db, topic):
    assert signed_webhook(topic, payload=name_shop(topic, _payload(topic), SHOP)).post(client).status_code == 200


@pytest.mark.slow
def test_a_captured_delivery_resent_for_another_shop_erases_nothing_there(web_server, signed_webhook, db, rq_worker):
    # The attack from the security review, against the running app: shop B's data must survive.
    server = web_server()
    for hook in (signed_webhook("orders/create", shop=OTHER_SHOP), signed_webhook("shop/redact", shop=SHOP)):
        assert _post(server, hook).status_code == 200
    with db.session() as s:
        s.add(Shop(domain=OTHER_SHOP, installed=True, access_token="shpat_b"))
        s.commit()
    captured_redact = signed_webhook("shop/redact", shop=SHOP)  # genuine, for shop A
    attacks = [signed_webhook("shop/redact", shop=OTHER_SHOP, payload=captured_redact.body),
               _replayed(signed_webhook, "orders/create", "shop/redact", shop=OTHER_SHOP, captured_shop=OTHER_SHOP),
               _replayed(signed_webhook, "app/uninstalled", "app/uninstalled", shop=OTHER_SHOP)]
    assert [_post(server, hook).status_code for hook in attacks] == [401, 401, 401]
    rq_worker()
    with db.session() as s:
        assert s.scalars(select(Order.shop_domain)).all() == [OTHER_SHOP]
        assert s.scalars(select(Shop.installed).where(Shop.domain == OTHER_SHOP)).one() is True
        assert s.scalars(select(WebhookEvent.topic).where(WebhookEvent.shop_domain == OTHER_SHOP)).all() == [
            "orders/create"]


def test_a_business_delivery_resent_with_a_fresh_webhook_id_is_a_duplicate_by_its_event_id(client, signed_webhook,
                                                                                          db):
    # What cannot be bound (an order names no shop) is limited by the event-id dedupe (README "Security").
    original = signed_webhook("orders/create")
    replay = dict(original.headers, **{"X-Shopify-Webhook-Id": "fresh-id"})
    assert original.post(client).get_json()["result"] == "accepted"
    assert client.post("/webhooks", data=original.body, headers=replay).get_json() == {"result": "duplicate"}


def _post(server, hook):
    return requests.post(server.url + "/webhooks", data=hook.body, headers=hook.headers, timeout=30)


def _payload(topic: str) -> dict:
    """The topic's sample; shop/update has none here (no handler), so the Shop resource of app/uninstalled."""
    return json.loads(json.dumps(sample_payload("app/uninstalled" if topic == "shop/update" else topic)))
