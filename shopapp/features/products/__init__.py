"""Products: keep each shop's product summaries current from products/create, products/update and
products/delete (a deletion leaves a tombstone), and forget them on shop/redact."""
from shopapp.features.products import handlers, models, redaction  # noqa: F401  (registers them)
