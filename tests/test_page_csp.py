"""The Content-Security-Policy of the embedded page and the bounce page: one header, strict (no inline or eval'd
script, nothing but this origin and Shopify's CDN), and still allowing everything the page loads. The browser
holds the dev page to it in tests/test_browser.py."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shopapp.testing import SHOP
from tests.support.csp import policy_of
from tests.support.pages import page

ROOT = Path(__file__).resolve().parent.parent
BOUNCE = {"shop": SHOP, "embedded": "1", "shopify-reload": "/?embedded=1"}
UNSAFE = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", "*", "https:", "http:",
          "data:", "blob:"}


class _Scripts(HTMLParser):
    """The `src` of each <script>, None for an inline one; and whether any tag has an on* handler attribute."""

    def __init__(self):
        super().__init__()
        self.sources: list[str | None] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.sources.append(attributes.get("src"))
        self.handlers += [name for name in attributes if name.startswith("on")]


def scripts_of(html: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(html)
    return parser


def allows_script(policy: dict[str, list[str]], src: str) -> bool:
    """Whether script-src admits `src` (a same-origin path, or a URL under one of its path sources)."""
    if src.startswith("/") and not src.startswith("//"):
        return "'self'" in policy["script-src"]
    return any(source.endswith("/") and src.startswith(source) for source in policy["script-src"])


@pytest.fixture
def dev_client(app_factory, db, redis):
    return app_factory(DEV_MODE=True, TESTING=True).test_client()


def test_the_page_sends_one_policy_in_place_of_shopify_apps(client, session_token):
    response = page(client, session_token())
    assert response.status_code == 200
    policy = policy_of(response)  # exactly one Content-Security-Policy header
    assert policy["frame-ancestors"] == [f"https://{SHOP}", "https://admin.shopify.com"]


def test_the_page_policy_is_strict(client, session_token):
    policy = policy_of(page(client, session_token()))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "https://cdn.shopify.com/shopifycloud/"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert not UNSAFE & {source for name in ("default-src", "script-src", "connect-src") for source in policy[name]}


def test_every_script_the_page_loads_is_allowed_by_its_policy(client, session_token):
    response = page(client, session_token())
    policy, scripts = policy_of(response), scripts_of(response.get_data(as_text=True))
    assert None not in scripts.sources  # no inline script
    assert scripts.handlers == []  # no inline event handler
    assert len(scripts.sources) == 3  # App Bridge, Polaris, the dashboard
    assert [src for src in scripts.sources if not allows_script(policy, src)] == []
    preloaded = re.findall(r'<([^>]+)>; rel="preload"; as="script"', response.headers["Link"])
    assert preloaded and [src for src in preloaded if not allows_script(policy, src)] == []


def test_the_page_may_open_its_websocket_and_call_its_api(app_factory, session_token):
    client = app_factory(APP_URL="https://app.example.com", TESTING=True).test_client()
    connect = policy_of(page(client, session_token()))["connect-src"]
    assert connect[:2] == ["'self'", "wss://app.example.com"]


def test_the_bounce_page_has_the_pages_policy(client, session_token):
    bounce = client.get("/patch-id-token", query_string=BOUNCE)
    assert bounce.status_code == 200
    assert policy_of(bounce) == policy_of(page(client, session_token()))
    scripts = scripts_of(bounce.get_data(as_text=True))
    assert scripts.sources and [src for src in scripts.sources if not allows_script(policy_of(bounce), src)] == []


def test_the_dev_page_policy_allows_nothing_from_the_cdn_and_nothing_inline(dev_client):
    token = dev_client.get("/dev/session-token").get_json()["token"]
    response = dev_client.get("/", query_string={"embedded": "1", "shop": "dev-shop.myshopify.com", "id_token": token})
    assert response.status_code == 200
    header = response.headers["Content-Security-Policy"]
    assert "cdn.shopify.com" not in header and "'unsafe-" not in header
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert [src for src in scripts_of(response.get_data(as_text=True)).sources if not allows_script(policy, src)] == []


def test_other_html_pages_get_the_strict_base_policy(client):
    response = client.get("/", query_string={"shop": "not a shop"})
    assert response.status_code == 400
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]


TEMPLATES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES)
def test_templates_have_no_inline_script_or_style(template):
    html = (ROOT / template).read_text()
    scripts = scripts_of(html)
    assert None not in scripts.sources and scripts.handlers == []
    assert not re.search(r"<style|\sstyle=", html)


def test_the_pages_scripts_set_no_inline_style_or_markup():
    for path in sorted((ROOT / "static" / "js").glob("*.js")) + [ROOT / "shopapp/admin/dev_assets/app-bridge.js"]:
        source = path.read_text()
        assert not re.search(r"\.innerHTML\s*=|insertAdjacentHTML|setAttribute\(\s*[\"']style|\beval\(|new Function",
                             source), path.name
