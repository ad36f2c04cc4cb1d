"""The Content-Security-Policy of the embedded page and the bounce page (one header, built here).

`shopify_app` answers with `frame-ancestors https://{shop} https://admin.shopify.com` only; this policy keeps
that directive and adds the rest of a strict one (`shopapp.security.BASE_POLICY`), opened just enough for
what the page loads:
- scripts: this origin and Shopify's CDN under `/shopifycloud/` (App Bridge, Polaris web components and
  whatever they load from there), never inline: the page's own scripts are files under /static/. Only that
  path: other paths of cdn.shopify.com serve files that any store uploads (`/s/files/...`);
- styles, fonts and images: this origin and the CDN. Styles may also be inline in production, because the
  CDN's components style their elements at run time and cannot carry a nonce of ours; inline style cannot
  run script, and the page puts no untrusted markup anywhere (Jinja escapes, the scripts set textContent);
- connections: this origin (the API) and its websocket (`/ws/jobs`), written out as `ws(s)://` for browsers
  whose `'self'` does not cover websockets yet.
In dev mode nothing comes from the CDN (the local App Bridge stand-in), so the dev page gets the strict
policy alone: no CDN and no inline style at all, which the browser tests hold it to.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from shopapp.admin.app_home import SHOPIFY_ADMIN
from shopapp.config import Config
from shopapp.security import content_security_policy

SHOPIFY_CDN = "https://cdn.shopify.com"
SHOPIFY_CDN_SCRIPTS = f"{SHOPIFY_CDN}/shopifycloud/"


def page_policy(config: Config, shop: str) -> str:
    """The header value for a page of `shop` (already validated: a `*.myshopify.com` domain)."""
    frame_ancestors = (f"https://{shop}", SHOPIFY_ADMIN)
    sockets = (_websocket_origin(config.APP_URL),)
    if config.DEV_MODE:
        return content_security_policy(frame_ancestors, connect_src=sockets)
    return content_security_policy(
        frame_ancestors,
        script_src=(SHOPIFY_CDN_SCRIPTS,),
        style_src=(SHOPIFY_CDN, "'unsafe-inline'"),
        font_src=(SHOPIFY_CDN,),
        img_src=(SHOPIFY_CDN,),
        connect_src=(*sockets, SHOPIFY_CDN_SCRIPTS),
    )


def _websocket_origin(app_url: str) -> str:
    """`wss://host[:port]` for an https app URL, `ws://…` for http (dev)."""
    parts = urlsplit(app_url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
