"""Sync products: a merchant job that pages through the shop's products with the Admin GraphQL API and
keeps the products feature's summaries (it uses that feature's model)."""
from shopapp.features.sync_products import job  # noqa: F401  (registers the kind)
