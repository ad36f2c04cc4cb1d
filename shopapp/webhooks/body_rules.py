"""What a signed body binds: one table of per-topic rules for the shop a body names and the shape it has.

Shopify signs only the body (`X-Shopify-Hmac-Sha256`); the topic, the shop domain and the ids are unsigned
headers. Whoever holds one genuine delivery can resend its bytes and HMAC under another topic and shop. So
where a topic's payload names its shop, the body, not the header, decides which shop it is about:
- a body naming another shop than `X-Shopify-Shop-Domain` is refused (401, SHOP_MISMATCH);
- a topic whose handler destroys data (`destroys`) requires the body's shop field to be present, plus the
  fields that topic's payload always has and none that only another topic's has (401, WRONG_SHAPE): an
  order, or a `customers/redact` body, resent as `shop/redact` erases nothing;
- for the compliance topics the body's `shop_domain` names the shop when the header is absent (Shopify
  sent `customers/redact` and `shop/redact` without it in January 2024, Shopify/shopify-api-ruby#1261).

Payload shapes from shopify.dev ("Privacy law compliance"; the Shop resource for `app/uninstalled` and
`shop/update`). A shop's `domain` is its primary domain, often the merchant's own (`example.com`): only
`myshopify_domain` can be compared with the header. Shopify's sample `app/uninstalled` (what
`shopify app webhook trigger` sends) carries `"myshopify_domain": null`; it is refused, real deliveries
name the shop. What cannot be bound (business topics whose payload names no shop, `shop_id` against a shop
id the app does not store, `shop/update` resent as `app/uninstalled`): README "Security".
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from shopapp.shopify.shop_domain import is_valid_shop_domain
from shopapp.webhooks.reasons import Reason

# JSON types as the parser returns them. bool is an int in Python, so integers are checked apart.
INTEGER, OBJECT, ARRAY = "integer", "object", "array"
_TYPES = {OBJECT: dict, ARRAY: list}


@dataclass(frozen=True)
class BodyRule:
    """How one topic's body binds the delivery: `shop_field` names the shop (a *.myshopify.com domain)."""

    shop_field: str
    destroys: bool = False                  # the handler erases data: shop field and shape are required
    shop_from_body: bool = False            # the shop may come from the body when the header is absent
    required: Mapping[str, str] = field(default_factory=dict)  # field -> JSON type, always in the payload
    foreign: frozenset[str] = frozenset()   # fields only other topics' payloads have


# Fields that tell the compliance payloads apart.
_DATA_REQUEST_ONLY = frozenset({"orders_requested", "data_request"})
_CUSTOMER_FIELDS = frozenset({"customer", "orders_to_redact"})

RULES: dict[str, BodyRule] = {
    "customers/data_request": BodyRule("shop_domain", shop_from_body=True),
    "customers/redact": BodyRule("shop_domain", destroys=True, shop_from_body=True,
                                 required={"shop_id": INTEGER, "customer": OBJECT, "orders_to_redact": ARRAY},
                                 foreign=_DATA_REQUEST_ONLY),
    "shop/redact": BodyRule("shop_domain", destroys=True, shop_from_body=True, required={"shop_id": INTEGER},
                            foreign=_DATA_REQUEST_ONLY | _CUSTOMER_FIELDS),
    "app/uninstalled": BodyRule("myshopify_domain", destroys=True, required={"id": INTEGER},
                                foreign=frozenset({"shop_domain"}) | _CUSTOMER_FIELDS | _DATA_REQUEST_ONLY),
    "shop/update": BodyRule("myshopify_domain"),
}


@dataclass(frozen=True)
class Binding:
    """The shop a delivery is about, or why the body does not bind it (`reason` is not OK)."""

    reason: Reason
    shop: str = ""
    detail: str = ""


def bind(rule: BodyRule, payload: dict, header_shop: Optional[str]) -> Binding:
    """Apply `rule` to a parsed JSON object body; `header_shop` is the lower-cased header or None.

    Returns the shop (the header's, or for `shop_from_body` topics the body's when the header is absent)
    or a refusal: MISSING_HEADERS or INVALID_SHOP (400) when no valid shop is named at all, SHOP_MISMATCH
    or WRONG_SHAPE (401) when the signed body contradicts the headers.
    """
    named = payload.get(rule.shop_field)
    body_shop = named.strip().lower() if isinstance(named, str) else None
    if header_shop is None:
        if not rule.shop_from_body or named is None:
            return Binding(Reason.MISSING_HEADERS, detail="missing X-Shopify-Shop-Domain"
                           + (f" (and no {rule.shop_field} in the body)" if rule.shop_from_body else ""))
        if not is_valid_shop_domain(body_shop):
            return Binding(Reason.INVALID_SHOP, detail=f"{rule.shop_field} is not a *.myshopify.com name")
        header_shop = body_shop
    elif named is not None and body_shop != header_shop:
        return Binding(Reason.SHOP_MISMATCH, detail=f"the body's {rule.shop_field} names another shop")
    if rule.destroys:
        problem = _shape_problem(rule, payload)
        if problem:
            return Binding(Reason.WRONG_SHAPE, detail=problem)
    return Binding(Reason.OK, shop=header_shop)


def name_shop(topic: str, payload: dict, shop: str) -> dict:
    """`payload` naming `shop` in the field the topic's body names its shop in (a copy; unchanged for topics
    without a rule): a sample payload made to fit a delivery for `shop` (`webhook trigger`, the test kit)."""
    rule = RULES.get(topic)
    return payload if rule is None else {**payload, rule.shop_field: shop}


def _shape_problem(rule: BodyRule, payload: dict) -> str:
    if payload.get(rule.shop_field) is None:
        return f"the body names no shop ({rule.shop_field})"
    for name, kind in rule.required.items():
        if not _is(payload.get(name), kind):
            return f"the body has no {name} ({kind}), which this topic's payload always has"
    extra = sorted(rule.foreign & payload.keys())
    if extra:
        return f"the body has {', '.join(extra)}, which this topic's payload never has"
    return ""


def _is(value: Any, kind: str) -> bool:
    if kind == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])
