"""The HTTP client every call to Shopify goes through, pointable at SHOPIFY_ADMIN_ORIGIN.

Shopify's `shopify_app` package builds `https://{shop}.myshopify.com/...` URLs itself and takes an
injected `httpx.Client`; it has no setting for another origin. So the origin is swapped one level down,
in the transport: a request for any `*.myshopify.com` host goes to SHOPIFY_ADMIN_ORIGIN instead, path and
query unchanged, with the `Host` header still naming the shop (the stand-in tells shops apart by it).
With the setting unset (production) the client is a plain httpx client.
"""
from __future__ import annotations

from urllib.parse import urlparse

import httpx

from shopapp.config import Config

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class AdminOriginTransport(httpx.HTTPTransport):
    """Sends requests for `*.myshopify.com` to `origin` (tests, a local stand-in of Shopify)."""

    def __init__(self, origin: str, **kwargs):
        super().__init__(**kwargs)
        parsed = urlparse(origin)
        self._scheme, self._host, self._port = parsed.scheme, parsed.hostname, parsed.port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith(".myshopify.com"):
            # Host header was set from the original URL when the request was built; it stays.
            request.url = request.url.copy_with(scheme=self._scheme, host=self._host, port=self._port)
        return super().handle_request(request)


def shopify_http_client(config: Config) -> httpx.Client:
    """A new client for OAuth and Admin API calls; close it (use `with`)."""
    if config.SHOPIFY_ADMIN_ORIGIN:
        return httpx.Client(transport=AdminOriginTransport(config.SHOPIFY_ADMIN_ORIGIN), timeout=TIMEOUT)
    return httpx.Client(timeout=TIMEOUT)


def shop_name(shop: str) -> str:
    """`example` for `example.myshopify.com` (what `shopify_app`'s refresh and GraphQL calls take)."""
    return shop[: -len(".myshopify.com")] if shop.endswith(".myshopify.com") else shop
