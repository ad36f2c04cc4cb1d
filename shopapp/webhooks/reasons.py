"""Why a delivery was accepted or refused, and the one table that maps each reason to the HTTP status Shopify
gets (as Shopify's JS library does in `lib/webhooks/validate.ts`).

Shopify retries every non-2xx answer (8 times over 4 hours); a refusal for a reason a retry cannot fix
(4xx) costs the sender nothing but those retries. The reason's value is the `result` of the JSON answer,
the `reason` label of `shopapp_webhooks_rejected_total` and the word in the endpoint's log line.
"""
from __future__ import annotations

import enum


class Reason(str, enum.Enum):
    """Why a delivery was accepted or refused."""

    OK = "ok"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "body_too_large"
    BODY_MALFORMED = "body_malformed"          # broken chunked framing, or the connection broke mid-body
    BODY_INCOMPLETE = "body_incomplete"        # fewer bytes than Content-Length said
    BODY_TIMEOUT = "body_timeout"              # the body did not arrive within WEBHOOK_BODY_TIMEOUT_SECONDS
    BUSY = "busy"                              # no room for the body in this process's WEBHOOK_BUFFER_BYTES
    MISSING_HMAC = "missing_hmac"
    INVALID_HMAC = "invalid_hmac"
    MISSING_HEADERS = "missing_headers"
    INVALID_SHOP = "invalid_shop_domain"
    INVALID_BODY = "body_not_a_json_object"
    SHOP_MISMATCH = "body_names_another_shop"  # the signed body names another shop than the header
    WRONG_SHAPE = "body_not_the_topics_shape"  # the signed body lacks what the topic's payload always has


STATUS = {
    Reason.OK: 200,
    Reason.METHOD_NOT_ALLOWED: 405,
    Reason.TOO_LARGE: 413,
    Reason.BODY_MALFORMED: 400,
    Reason.BODY_INCOMPLETE: 400,
    Reason.BODY_TIMEOUT: 408,
    Reason.BUSY: 503,
    Reason.MISSING_HMAC: 401,
    Reason.INVALID_HMAC: 401,
    Reason.MISSING_HEADERS: 400,
    Reason.INVALID_SHOP: 400,
    Reason.INVALID_BODY: 400,
    # 401 like a wrong HMAC: the signature is genuine, but not for what the headers claim.
    Reason.SHOP_MISMATCH: 401,
    Reason.WRONG_SHAPE: 401,
}
