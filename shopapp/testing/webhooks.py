"""What Shopify sends, for tests: signed webhook requests with sample payloads, and session tokens.

Both are built by the app's own code (`shopapp.shopify.webhook_signing`, `shopapp.shopify.session_token`):
one signer and one minter for the app, its tests and the benchmarks.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from shopapp.config import DEFAULT_API_VERSION
from shopapp.jobs import registry
from shopapp.shopify.session_token import mint_session_token
from shopapp.shopify.webhook_signing import webhook_headers
from shopapp.testing.constants import SHOP
from shopapp.webhooks.body_rules import name_shop


def sample_payload(topic: str) -> dict:
    """The sample payload of `topic` (`samples/` beside its handler), as a dict.

    Raises LookupError saying where the sample belongs when there is none (never an empty payload).
    """
    return json.loads(registry.sample_path(topic).read_text())


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

    @property
    def event_id(self) -> str:
        return self.headers.get("X-Shopify-Event-Id", "")

    def post(self, client, path: str = "/webhooks"):
        """Send with a Flask test client."""
        return client.post(path, data=self.body, headers=self.headers)


def deliver_at_once(url: str, webhooks: list[SignedWebhook], timeout: float = 120) -> list[int]:
    """POST every webhook to `url` (a running server's /webhooks), each from its own connection, all released
    together: copies racing each other, or a burst of large bodies. Their status codes, in order."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests  # a test dependency

    barrier = threading.Barrier(len(webhooks))

    def deliver(webhook: SignedWebhook) -> int:
        with requests.Session() as http:
            barrier.wait(timeout=timeout)
            return http.post(url, data=webhook.body, headers=webhook.headers, timeout=timeout).status_code

    with ThreadPoolExecutor(max_workers=len(webhooks)) as pool:
        return list(pool.map(deliver, webhooks))


_UNSET = object()


def build_webhook(topic: str, secret: str, shop: str = SHOP, payload: dict | bytes | None = None,
                  webhook_id: str | None = None, event_id: str | None = None, triggered_at: datetime | None = None,
                  headers: dict | None = None, api_version: str | None = DEFAULT_API_VERSION) -> SignedWebhook:
    """A correctly signed delivery of `topic` (payload: the topic's sample, naming `shop` where the topic's
    body names its shop, unless given).

    `headers` overrides default headers, or removes one given as None; `api_version=None` sends none.
    """
    if payload is None:
        payload = name_shop(topic, sample_payload(topic), shop)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    built = webhook_headers(topic, body, secret, shop, webhook_id=webhook_id, event_id=event_id,
                            triggered_at=triggered_at, api_version=api_version)
    for name, value in (headers or {}).items():
        if value is None:
            built.pop(name, None)
        else:
            built[name] = value
    return SignedWebhook(topic=topic, shop=shop, body=body, headers=built)


def build_session_token(api_key: str, secret: str, shop: str = SHOP, expires_in: float = 60,
                        algorithm: str = "HS256", **claims) -> str:
    """An App Bridge session token for `shop`; `claims` override the defaults (None removes one)."""
    return mint_session_token(api_key, secret, shop, expires_in=expires_in, algorithm=algorithm, **claims)[0]
