"""Receiving Shopify webhooks: verify, dedupe, record, enqueue; and the topic registry."""
