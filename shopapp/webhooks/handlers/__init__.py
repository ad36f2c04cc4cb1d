"""Webhook topic handlers, one module per subscription in shopify.app.toml."""
