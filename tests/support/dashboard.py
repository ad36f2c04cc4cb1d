"""The dashboard in a real browser: fixtures (a pytest plugin, loaded by tests/conftest.py) and helpers shared by
the browser test modules.

Fixtures: `browser` (Debian's Chromium, one per module), `start_stack(env=None)` / `stack` (a dev-mode gunicorn
with an RQ worker), `open_dashboard(width=1280, server=stack, before_load=None)` -> (page, log).
Helpers: `deliver`, `send_webhook`, `row`, `watch_csp` and `csp_violations`, `contrast_audit`.
"""
from __future__ import annotations

import pytest
import requests

from shopapp.config import DEV_SHOP
from shopapp.testing import API_SECRET, build_webhook, wait_until
from tests.support.browser import PageLog, chromium_path, launch_chromium, page_pause

TIMEOUT_MS = 20_000
DEV_ENV = {"SHOPAPP_DEV": "1"}


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium, or `make browsers`)")
    with launch_chromium(path) as chromium:
        yield chromium


@pytest.fixture
def start_stack(web_server, worker_process):
    """start_stack(env=None) -> a dev-mode gunicorn, with an RQ worker, on the test database and Redis."""
    def start(env: dict | None = None):
        env = dict(DEV_ENV, **(env or {}))
        server = web_server(env=env)
        worker_process(env=env)
        return server
    return start


@pytest.fixture
def stack(start_stack):
    return start_stack()


@pytest.fixture
def open_dashboard(browser, request, web_server, worker_process):
    """open_dashboard(width=1280, server=stack) -> (page, log): the dashboard, connected live.

    Depends on the process fixtures so that its pages close before the servers stop (a server with no
    open sockets stops at once)."""
    contexts = []

    def open_(width: int = 1280, height: int = 800, server=None, before_load=None):
        server = server or request.getfixturevalue("stack")
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        log = PageLog().attach(page)
        if before_load:
            before_load(page)
        page.goto(server.url + "/")
        page.wait_for_selector("#connection[data-status=live]")
        page.wait_for_selector("#jobs-region[aria-busy=false]")
        # Marks this document: if the page ever reloaded, the mark would be gone.
        page.evaluate("window.__sameDocument = true")
        return page, log
    yield open_
    for context in contexts:
        context.close()


def deliver(server, hook) -> None:
    """POST a signed delivery (`build_webhook`) to the server, which must accept it."""
    response = requests.post(server.url + "/webhooks", data=hook.body, headers=hook.headers, timeout=10)
    assert response.status_code == 200, response.text


def send_webhook(server, topic="orders/create", payload=None, shop=DEV_SHOP) -> str:
    """POST a signed delivery of `topic` to the server; returns its webhook id."""
    hook = build_webhook(topic, API_SECRET, shop=shop, payload=payload)
    deliver(server, hook)
    return hook.webhook_id


def row(page, webhook_id: str, state: str | None = None) -> str:
    """The selector of the job row of a delivery (in `state`, if given)."""
    selector = f'#jobs-body tr[data-webhook-id="{webhook_id}"]'
    return selector + (f'[data-state="{state}"]' if state else "")


# Reports every Content-Security-Policy violation of every document the page loads (the bounce page too) to
# the test, through a binding the init script calls.
REPORT_CSP_VIOLATIONS = """document.addEventListener("securitypolicyviolation", event => window.__cspViolation(
  `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} in ${location.pathname}`));"""
# An image the policy refuses: reported after anything blocked before it, so once its report is in, all are.
SENTINEL = "https://sentinel.invalid/after-everything.png"


def watch_csp(violations: list):
    """A `before_load` for open_dashboard that collects CSP violations into `violations`."""
    def watch(page):
        page.expose_function("__cspViolation", lambda report: violations.append(report))
        page.add_init_script(REPORT_CSP_VIOLATIONS)
    return watch


def csp_violations(page, violations: list) -> list[str]:
    """Every violation reported so far but the sentinel's: loads the sentinel image and waits for its report."""
    page.evaluate("src => { new Image().src = src; }", SENTINEL)
    wait_until(lambda: any(SENTINEL in v for v in violations), what="the sentinel's report", pause=page_pause(page))
    return [v for v in violations if SENTINEL not in v]


# Contrast of each element's text against the first opaque background behind it (WCAG 2.x formula).
CONTRAST_AUDIT = """selector => {
  const rgb = value => (value.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] === 1) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  let checked = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    checked += 1;
    const label = `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`;
    if (!(ratio >= 4.5)) low.push(`${label}: ${ratio.toFixed(2)}`);
  }
  return {checked, low};
}"""


def contrast_audit(page, selector: str) -> dict:
    """`{"checked": n, "low": [...]}`: the visible elements matching `selector` whose text is under 4.5:1."""
    return page.evaluate(CONTRAST_AUDIT, selector)
