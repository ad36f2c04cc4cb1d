"""Requesting the embedded page in tests."""
from __future__ import annotations

from shopapp.testing import SHOP


def page(client, token=None, shop=SHOP, embedded=True, **params):
    """GET / as the admin opens it (`embedded=1`, `shop`, `id_token`), with any other query `params`."""
    query = dict(params)
    if shop:
        query["shop"] = shop
    if embedded:
        query["embedded"] = "1"
    if token:
        query["id_token"] = token
    return client.get("/", query_string=query)
