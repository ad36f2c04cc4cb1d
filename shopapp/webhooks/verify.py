"""Verifying a webhook delivery: method, size, body framing, HMAC, required headers, shop domain, JSON body,
and what the signed body binds (`body_rules`).

`verify_webhook` returns a `Verification` with a `Reason`; `reasons.STATUS` is the one place that maps a
reason to the HTTP status Shopify gets. The body is read once (`body.BodyReader`), never past
WEBHOOK_MAX_BYTES + 1 bytes.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Optional

import orjson

from shopapp.shopify.shop_domain import is_valid_shop_domain
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.shopify.webhook_headers import HEADERS, REQUIRED, read_header
from shopapp.shopify.webhook_signing import hmac_matches
from shopapp.webhooks import body_rules
from shopapp.webhooks.body import BodyError, BodyReader
from shopapp.webhooks.reasons import STATUS, Reason

__all__ = ["STATUS", "Reason", "Verification", "verify_webhook", "hmac_matches", "read_json"]

# Longest accepted value of each stored header (the columns' sizes); a longer one is refused, never cut.
MAX_LENGTHS = {"topic": 100, "webhook_id": 255, "event_id": 255, "api_version": 20}
# A UTF-16 surrogate escape (\ud800-\udfff): only JSON that has one can decode to a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify_webhook`; the delivery's fields are set when `ok`."""

    reason: Reason
    detail: str = ""
    topic: str = ""
    shop: str = ""
    webhook_id: str = ""
    api_version: Optional[str] = None  # optional: Shopify has sent compliance deliveries without it
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
                   content_length: Optional[int], secrets: Sequence[str], max_bytes: int,
                   reader: Optional[BodyReader] = None) -> Verification:
    """Check one delivery. HMAC comes before the other headers, so a forged request learns nothing else.

    `reader` reads the body (default: no deadline, no room; the endpoint passes its own and releases it).
    """
    if method != "POST":
        return Verification(Reason.METHOD_NOT_ALLOWED, "use POST")
    if content_length is not None and content_length > max_bytes:
        return Verification(Reason.TOO_LARGE, f"body over {max_bytes} bytes")
    try:
        body = (reader or BodyReader(max_bytes)).read(body_stream, content_length)
    except BodyError as exc:
        return Verification(exc.reason, exc.detail)
    provided = read_header(headers, "hmac")
    if not provided:
        return Verification(Reason.MISSING_HMAC, "X-Shopify-Hmac-Sha256 is missing")
    if not hmac_matches(body, provided, secrets):
        return Verification(Reason.INVALID_HMAC, "HMAC does not match")
    values = {key: read_header(headers, key) for key in (*REQUIRED, "shop", "api_version", "event_id")}
    missing = [key for key in REQUIRED if not values[key]]
    if missing:
        return Verification(Reason.MISSING_HEADERS, "missing " + ", ".join(HEADERS[k] for k in missing))
    too_long = [key for key, limit in MAX_LENGTHS.items() if len(values[key] or "") > limit]
    if too_long:
        return Verification(Reason.MISSING_HEADERS, f"{HEADERS[too_long[0]]} is too long")
    topic = values["topic"]
    shop = values["shop"].lower() if values["shop"] else None
    if shop is not None and not is_valid_shop_domain(shop):
        return Verification(Reason.INVALID_SHOP, "shop domain is not a *.myshopify.com name")
    rule = body_rules.RULES.get(topic)
    if rule is None and shop is None:
        return Verification(Reason.MISSING_HEADERS, f"missing {HEADERS['shop']}")
    try:
        text = body.decode("utf-8")  # Shopify sends UTF-8; anything else cannot be stored as received
        value = read_json(body, text)
    except ValueError:
        return Verification(Reason.INVALID_BODY, "body is not JSON")
    if type(value) is not dict:
        return Verification(Reason.INVALID_BODY, "body is not a JSON object")
    if rule is not None:  # only the topics in the table look inside the body
        binding = body_rules.bind(rule, value, shop)
        if binding.reason is not Reason.OK:
            return Verification(binding.reason, binding.detail)
        shop = binding.shop
    return Verification(Reason.OK, topic=topic, shop=shop, webhook_id=values["webhook_id"],
                        api_version=values["api_version"], event_id=values["event_id"],
                        triggered_at=parse_timestamp(read_header(headers, "triggered_at")), body_text=text)


def read_json(body: bytes | bytearray, text: str) -> Any:
    """The JSON value of the body (RFC 8259); raises ValueError when it is not JSON that can be stored.

    orjson reads first (a third of json's time); only a body it refuses is read again by Python's json,
    which also takes what orjson does not: integers past 64 bits, nesting past orjson's 1,024 levels.
    Refused: NaN and Infinity (not JSON; PostgreSQL would refuse to store them, a 503 for every retry),
    nesting too deep for json (RecursionError), and a lone surrogate escape such as "\\ud83d" (JSON's
    grammar allows it, but it is no Unicode character: orjson refuses it, and PostgreSQL's driver could
    not encode it downstream). NUL escapes ("\\u0000") are valid JSON and accepted.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        try:  # a lone surrogate cannot be encoded as UTF-8; a pair decodes to one character that can
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a lone surrogate escape is not a Unicode character") from None
    return value


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")
