"""Orders: keep each shop's order projection at the newest state Shopify delivered (orders/create,
orders/updated), catch up on the changes whose webhooks never came (reconcile), and forget a customer's
orders when Shopify asks (customers/redact, shop/redact)."""
from shopapp.features.orders import catch_up, handlers, models, redaction  # noqa: F401  (registers them)
