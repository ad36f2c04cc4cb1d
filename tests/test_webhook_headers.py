"""The headers a delivery must carry are the ones Shopify has always sent; the rest are optional.

Shopify sent a correctly signed customers/data_request without X-Shopify-API-Version
(Shopify/shopify-api-js#1145), and customers/redact and shop/redact without X-Shopify-Shop-Domain for weeks
in January 2024 (Shopify/shopify-api-ruby#1261): privacy requests an app must honour.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shopapp.models import Job, WebhookEvent
from shopapp.shopify.webhook_headers import HEADERS, REQUIRED
from shopapp.testing import SHOP

COMPLIANCE_TOPICS = ["customers/data_request", "customers/redact", "shop/redact"]


def _event(db) -> WebhookEvent:
    with db.session() as s:
        return s.scalars(select(WebhookEvent)).one()


def _nothing_recorded(db) -> bool:
    with db.session() as s:
        return not s.scalar(select(func.count()).select_from(WebhookEvent)) and \
            not s.scalar(select(func.count()).select_from(Job))


@pytest.mark.parametrize("topic", ["orders/create", "app/uninstalled", *COMPLIANCE_TOPICS])
def test_delivery_without_an_api_version_is_accepted_and_stored_as_null(client, signed_webhook, db, topic):
    hook = signed_webhook(topic, api_version=None)
    assert "X-Shopify-API-Version" not in hook.headers
    assert hook.post(client).get_json()["result"] == "accepted"
    assert _event(db).api_version is None


@pytest.mark.parametrize("topic", COMPLIANCE_TOPICS)
def test_compliance_delivery_without_a_shop_header_is_for_the_shop_its_body_names(client, signed_webhook, db,
                                                                                   topic):
    hook = signed_webhook(topic, shop="named-in-body.myshopify.com", headers={HEADERS["shop"]: None})
    assert hook.post(client).get_json()["result"] == "accepted"
    event = _event(db)
    assert (event.shop_domain, event.payload["shop_domain"]) == ("named-in-body.myshopify.com",) * 2
    with db.session() as s:
        assert s.scalars(select(Job.shop_domain)).one() == "named-in-body.myshopify.com"


@pytest.mark.parametrize("shop_domain", ["evil.example.com", "Shop.myshopify.com.evil.com", "", 42, None])
def test_compliance_body_naming_no_valid_shop_without_a_header_is_400(client, signed_webhook, db, shop_domain):
    payload = {"shop_id": 954889, "shop_domain": shop_domain}
    response = signed_webhook("shop/redact", payload=payload, headers={HEADERS["shop"]: None}).post(client)
    assert response.status_code == 400
    assert response.get_json()["result"] in ("invalid_shop_domain", "missing_headers")
    assert _nothing_recorded(db)


def test_compliance_body_shop_is_read_like_the_header(client, signed_webhook, db):
    payload = {"shop_id": 954889, "shop_domain": "  Mixed-Case.MyShopify.com "}
    hook = signed_webhook("shop/redact", payload=payload, headers={HEADERS["shop"]: None})
    assert hook.post(client).status_code == 200
    assert _event(db).shop_domain == "mixed-case.myshopify.com"


def test_compliance_delivery_without_a_shop_is_400_saying_where_the_shop_may_be(client, signed_webhook, db):
    hook = signed_webhook("shop/redact", payload={"shop_id": 954889}, headers={HEADERS["shop"]: None})
    response = hook.post(client)
    assert response.status_code == 400
    assert response.get_json()["detail"] == "missing X-Shopify-Shop-Domain (and no shop_domain in the body)"
    assert _nothing_recorded(db)


@pytest.mark.parametrize("topic", ["orders/create", "products/update", "app/uninstalled"])
def test_business_topic_without_a_shop_header_stays_400(client, signed_webhook, db, topic):
    response = signed_webhook(topic, headers={HEADERS["shop"]: None}).post(client)
    assert response.status_code == 400 and response.get_json()["detail"] == "missing X-Shopify-Shop-Domain"
    assert _nothing_recorded(db)


def test_a_forged_compliance_body_is_refused_before_its_shop_is_read(client, signed_webhook, db):
    hook = signed_webhook("shop/redact", secret="not-the-app-secret", headers={HEADERS["shop"]: None})
    response = hook.post(client)
    assert response.status_code == 401 and response.get_json()["result"] == "invalid_hmac"
    assert _nothing_recorded(db)


def test_a_delivery_with_only_the_required_headers_is_accepted(client, signed_webhook, db):
    # README "Receiving": HMAC, topic, webhook id and shop; every one of them Shopify has always sent.
    hook = signed_webhook("orders/create")
    kept = {HEADERS[key] for key in ("hmac", *REQUIRED, "shop")}
    bare = {name: value for name, value in hook.headers.items() if name in kept}
    assert client.post("/webhooks", data=hook.body, headers=bare).get_json()["result"] == "accepted"
    event = _event(db)
    assert (event.shop_domain, event.api_version, event.event_id, event.triggered_at) == (SHOP, None, None, None)


def test_the_readme_names_exactly_the_required_headers():
    from tests.support.processes import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**Required headers**"):].split("\n\n")[0]
    named = {name for name in HEADERS.values() if f"`{name}`" in section.split("optional")[0]}
    assert named == {HEADERS[key] for key in ("hmac", *REQUIRED, "shop")}
