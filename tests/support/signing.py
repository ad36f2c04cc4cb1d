"""Build what Shopify sends: signed webhook requests and App Bridge session tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jwt

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEFAULT_SHOP = "test-shop.myshopify.com"
API_VERSION = "2025-10"


def fixture_payload(topic: str) -> dict:
    """The sample payload for `topic` from tests/fixtures/ (`orders/create` -> `orders_create.json`)."""
    path = FIXTURES / (topic.replace("/", "_") + ".json")
    return json.loads(path.read_text()) if path.exists() else {}


def sign(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256 of `body`: base64 HMAC-SHA256 with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class SignedWebhook:
    """A webhook request as Shopify would send it: raw body and headers."""

    topic: str
    shop: str
    body: bytes
    headers: dict = field(default_factory=dict)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("X-Shopify-Webhook-Id", "")

    def post(self, client, path: str = "/webhooks"):
        """Send with a Flask test client."""
        return client.post(path, data=self.body, headers=self.headers)


def build_webhook(topic: str, secret: str, shop: str = DEFAULT_SHOP, payload: dict | bytes | None = None,
                  webhook_id: str | None = None, triggered_at: datetime | None = None,
                  headers: dict | None = None, api_version: str = API_VERSION) -> SignedWebhook:
    """A correctly signed webhook; `headers` overrides or (with value None) removes default headers."""
    if payload is None:
        payload = fixture_payload(topic)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    triggered = (triggered_at or datetime.now(timezone.utc)).isoformat().replace("+00:00", "Z")
    defaults = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
    }
    for name, value in (headers or {}).items():
        if value is None:
            defaults.pop(name, None)
        else:
            defaults[name] = value
    return SignedWebhook(topic=topic, shop=shop, body=body, headers=defaults)


def build_session_token(api_key: str, secret: str, shop: str = DEFAULT_SHOP, expires_in: float = 60,
                        algorithm: str = "HS256", **claims) -> str:
    """An App Bridge session token (JWT) for `shop`; `claims` override the defaults."""
    now = int(time.time())
    payload = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": api_key,
        "sub": "42",
        "exp": now + expires_in,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    if algorithm == "none":
        return jwt.encode(payload, None, algorithm="none")
    return jwt.encode(payload, secret, algorithm=algorithm)
