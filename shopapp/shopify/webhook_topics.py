"""Shopify's webhook topic names: their form, the compliance topics, and the topics Shopify has.

The list is a data file beside this module (`webhook_topics.txt`, for API version 2026-10, with where it
comes from). Most topics are `resource/event` (lowercase letters, digits and underscores on each side,
e.g. `orders/paid`, `app_subscriptions/update`); a few customer topics are `resource.event`
(`customer.tags_added`). The compliance topics (`customers/data_request`, `customers/redact`,
`shop/redact`) are subscribed only through `compliance_topics` (shopify.dev, "Privacy law compliance").
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

TOPICS_FILE = Path(__file__).with_name("webhook_topics.txt")
TOPICS_API_VERSION = "2026-10"
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
_RESOURCE_EVENT = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")


def is_resource_event(name: str) -> bool:
    """Whether `name` has the `resource/event` form (lowercase letters, digits, underscores)."""
    return bool(_RESOURCE_EVENT.match(name))


@functools.cache
def shopify_topics() -> frozenset[str]:
    """Every topic a `topics` subscription may name (compliance topics excluded), from TOPICS_FILE."""
    lines = (line.strip() for line in TOPICS_FILE.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_compliance_topic(name: str) -> bool:
    """Whether `name` is one of the three compliance topics."""
    return name in COMPLIANCE_TOPICS


def is_shopify_topic(name: str) -> bool:
    """Whether Shopify has topic `name` (a compliance topic or one of `shopify_topics()`)."""
    return is_compliance_topic(name) or name in shopify_topics()


def topic_problem(name: object) -> str | None:
    """Why `name` cannot be a webhook topic, in a few words, or None when Shopify has it."""
    if not isinstance(name, str):
        return f"{name!r} is not a topic name (a string such as \"orders/create\")"
    if is_shopify_topic(name):
        return None
    if not is_resource_event(name):
        return f"{name!r} is not a topic name: use the resource/event form, e.g. orders/paid"
    return (f"{name!r} is not a Shopify webhook topic in API version {TOPICS_API_VERSION} "
            f"(the list: shopapp/shopify/{TOPICS_FILE.name})")
