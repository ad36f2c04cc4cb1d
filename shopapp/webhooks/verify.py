"""Verifying a webhook delivery: method, size, HMAC, required headers, shop domain, JSON body.

`verify_webhook` returns a `Verification` with a `Reason`; `STATUS` is the one place that maps a reason
to the HTTP status Shopify gets. The body is read once, never past WEBHOOK_MAX_BYTES + 1 bytes.
"""
from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Optional

import orjson

from shopapp.shopify.shop_domain import is_valid_shop_domain
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.shopify.webhook_headers import HEADERS, REQUIRED, read_header

_READ_CHUNK = 64 * 1024


class Reason(str, enum.Enum):
    """Why a delivery was accepted or refused."""

    OK = "ok"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "body_too_large"
    MISSING_HMAC = "missing_hmac"
    INVALID_HMAC = "invalid_hmac"
    MISSING_HEADERS = "missing_headers"
    INVALID_SHOP = "invalid_shop_domain"
    INVALID_BODY = "body_not_a_json_object"


STATUS = {
    Reason.OK: 200,
    Reason.METHOD_NOT_ALLOWED: 405,
    Reason.TOO_LARGE: 413,
    Reason.MISSING_HMAC: 401,
    Reason.INVALID_HMAC: 401,
    Reason.MISSING_HEADERS: 400,
    Reason.INVALID_SHOP: 400,
    Reason.INVALID_BODY: 400,
}


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify_webhook`; the delivery's fields are set when `ok`."""

    reason: Reason
    detail: str = ""
    topic: str = ""
    shop: str = ""
    webhook_id: str = ""
    api_version: str = ""
    event_id: Optional[str] = None
    triggered_at: Optional[datetime] = None
    body_text: str = ""  # the JSON as received (stored as is: no second serialization, Shopify's exact text)

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    @property
    def status(self) -> int:
        return STATUS[self.reason]


def verify_webhook(method: str, headers: Mapping[str, str], body_stream: IO[bytes],
                   content_length: Optional[int], secrets: Sequence[str], max_bytes: int) -> Verification:
    """Check one delivery. HMAC comes before the other headers, so a forged request learns nothing else."""
    if method != "POST":
        return Verification(Reason.METHOD_NOT_ALLOWED, "use POST")
    if content_length is not None and content_length > max_bytes:
        return Verification(Reason.TOO_LARGE, f"body over {max_bytes} bytes")
    body = read_limited(body_stream, content_length, max_bytes)
    if body is None:
        return Verification(Reason.TOO_LARGE, f"body over {max_bytes} bytes")
    provided = read_header(headers, "hmac")
    if not provided:
        return Verification(Reason.MISSING_HMAC, "X-Shopify-Hmac-Sha256 is missing")
    if not hmac_matches(body, provided, secrets):
        return Verification(Reason.INVALID_HMAC, "HMAC does not match")
    values = {key: read_header(headers, key) for key in REQUIRED}
    missing = [key for key, value in values.items() if not value]
    if missing:
        return Verification(Reason.MISSING_HEADERS, "missing " + ", ".join(HEADERS[k] for k in missing))
    shop = values["shop"].lower()
    if not is_valid_shop_domain(shop):
        return Verification(Reason.INVALID_SHOP, "shop domain is not a *.myshopify.com name")
    try:
        text = body.decode("utf-8")  # Shopify sends UTF-8; anything else cannot be stored as received
    except UnicodeDecodeError:
        return Verification(Reason.INVALID_BODY, "body is not JSON")
    kind = json_type(body, text)
    if kind is None:
        return Verification(Reason.INVALID_BODY, "body is not JSON")
    if kind is not dict:
        return Verification(Reason.INVALID_BODY, "body is not a JSON object")
    if len(values["webhook_id"]) > 255 or len(values["topic"]) > 100 or len(values["api_version"]) > 20:
        return Verification(Reason.MISSING_HEADERS, "a required header is too long")
    event_id = read_header(headers, "event_id")
    return Verification(Reason.OK, topic=values["topic"], shop=shop, webhook_id=values["webhook_id"],
                        api_version=values["api_version"], event_id=event_id[:255] if event_id else None,
                        triggered_at=parse_timestamp(read_header(headers, "triggered_at")), body_text=text)


def json_type(body: bytes, text: str) -> Optional[type]:
    """The type of the JSON value in the body (dict for an object), None when it is not JSON (RFC 8259).

    orjson reads first (a third of json's time); only a body it refuses is read again by Python's json,
    which also takes what JSON allows and orjson does not (lone surrogate escapes). NaN and Infinity are
    not JSON, and PostgreSQL would refuse to store them (a 503 for every retry), so they are refused
    here; so is nesting too deep to read (json would raise RecursionError).
    """
    try:
        return type(orjson.loads(body))
    except orjson.JSONDecodeError:
        pass
    try:
        return type(json.loads(text, parse_constant=_not_json))
    except (ValueError, RecursionError):
        return None


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def read_limited(stream: IO[bytes], content_length: Optional[int], max_bytes: int) -> Optional[bytes]:
    """The body, read once; None when it is longer than `max_bytes` (reading stops at max_bytes + 1)."""
    if content_length is not None:
        body = stream.read(content_length) if content_length else b""
        return body if len(body) <= max_bytes else None
    chunks, size = [], 0
    while size <= max_bytes:  # chunked transfer: no length given, so cap the read itself
        chunk = stream.read(min(_READ_CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks) if size <= max_bytes else None


@functools.lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def hmac_matches(body: bytes, provided: str, secrets: Sequence[str]) -> bool:
    """True when `provided` is the base64 HMAC-SHA256 of `body` under one of `secrets` (constant time)."""
    given = provided.encode("latin-1", errors="replace")
    matched = False
    for secret in secrets:
        mac = _keyed(secret).copy()  # the key's setup is done once per secret, not per delivery
        mac.update(body)
        expected = base64.b64encode(mac.digest())
        # Compare with every secret, not just until the first match, so timing says nothing about which.
        matched |= hmac.compare_digest(expected, given)
    return matched
