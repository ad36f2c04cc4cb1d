"""Orders: keep each shop's order projection at the newest state Shopify delivered (orders/create,
orders/updated), and forget a customer's orders when Shopify asks (customers/redact, shop/redact)."""
from shopapp.features.orders import handlers, models, redaction  # noqa: F401  (registers them)
