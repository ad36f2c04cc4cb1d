"""`python -m shopapp webhook trigger TOPIC`: send a correctly signed sample webhook to a running app.

Sends the headers Shopify sends (topic, shop domain, webhook id, event id, triggered-at, API version,
HMAC) with the payload from tests/fixtures/<topic with / as _>.json or --payload FILE, signed with the
secret `Config.from_env()` finds: in dev mode the one `make run` generated in instance/, so it matches a
local app out of the box.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import requests

from shopapp.config import DEV_SHOP, ROOT, Config
from shopapp.webhooks.headers import HEADERS
from shopapp.webhooks.shop_domain import is_valid_shop_domain

FIXTURES = ROOT / "tests" / "fixtures"
TIMEOUT_SECONDS = 10


def build_request(topic: str, payload: bytes, secret: str, shop: str, webhook_id: str,
                  api_version: str) -> dict[str, str]:
    """The headers Shopify sends with `payload`, signed with `secret`."""
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "Content-Type": "application/json",
        HEADERS["topic"]: topic,
        HEADERS["shop"]: shop,
        HEADERS["webhook_id"]: webhook_id,
        HEADERS["event_id"]: str(uuid.uuid4()),
        HEADERS["triggered_at"]: now,
        HEADERS["api_version"]: api_version,
        HEADERS["hmac"]: base64.b64encode(digest).decode(),
        "User-Agent": "shopapp-webhook-trigger",
    }


def load_payload(topic: str, payload_file: Optional[str]) -> bytes:
    """The JSON body to send: --payload FILE, or the fixture for `topic`; raises ValueError with a hint."""
    path = Path(payload_file) if payload_file else FIXTURES / (topic.replace("/", "_") + ".json")
    if not path.exists():
        known = ", ".join(sorted(p.stem.replace("_", "/", 1) for p in FIXTURES.glob("*.json")))
        raise ValueError(f"no payload file {path}" + ("" if payload_file else f"; sample topics: {known}; "
                                                       "or pass --payload FILE"))
    body = path.read_bytes()
    try:
        if not isinstance(json.loads(body), dict):
            raise ValueError
    except ValueError:
        raise ValueError(f"{path} does not hold a JSON object") from None
    return body


def main(topic: str, address: Optional[str] = None, shop: Optional[str] = None,
         payload_file: Optional[str] = None, webhook_id: Optional[str] = None) -> int:
    """Send one signed webhook and print what the app answered; exit code 0 only for a 2xx."""
    config = Config.from_env()
    address = address or f"http://127.0.0.1:{config.PORT}/webhooks"
    shop = shop or DEV_SHOP
    if not is_valid_shop_domain(shop):
        print(f"shopapp webhook trigger: {shop!r} is not a *.myshopify.com shop domain", file=sys.stderr)
        return 2
    try:
        body = load_payload(topic, payload_file)
    except ValueError as exc:
        print(f"shopapp webhook trigger: {exc}", file=sys.stderr)
        return 2
    webhook_id = webhook_id or str(uuid.uuid4())
    headers = build_request(topic, body, config.SHOPIFY_API_SECRET, shop, webhook_id, config.SHOPIFY_API_VERSION)
    try:
        response = requests.post(address, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.ConnectionError:
        print(f"shopapp webhook trigger: could not connect to {address}. Is the app running? Start it with "
              "`make run` (or pass --address URL of the running app's /webhooks).", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"shopapp webhook trigger: request to {address} failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"{topic} for {shop} (webhook id {webhook_id}) -> {address}: HTTP {response.status_code} "
          f"{response.text.strip()[:200]}")
    if response.status_code == 401:
        print("The app refused the signature: it uses another SHOPIFY_API_SECRET than this command. Run both "
              "with the same environment (in dev mode both read instance/dev-credentials.json), or set "
              "SHOPIFY_API_SECRET to the app's secret.", file=sys.stderr)
    elif response.status_code == 404:
        print(f"No webhook endpoint at {address}; the app receives webhooks at /webhooks.", file=sys.stderr)
    return 0 if 200 <= response.status_code < 300 else 1
