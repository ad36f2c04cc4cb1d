"""Products: keep each shop's product summaries current from products/create, products/update and
products/delete (a deletion leaves a tombstone), catch up on the changes whose webhooks never came
(reconcile), and forget them on shop/redact."""
from shopapp.features.products import catch_up, handlers, models, redaction  # noqa: F401  (registers them)
