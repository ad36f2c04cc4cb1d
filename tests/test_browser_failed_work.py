"""Failed work and catching up, on the dashboard in real Chromium against a dev-mode gunicorn and a real RQ
worker: the failed count and "Retry all failed", "Catch up now", and a job's detail view (issue 14, point 5).

Where a job needs Shopify's Admin API, SHOPIFY_ADMIN_ORIGIN points the processes at the Shopify stand-in
(tests/support/fake_shopify.py) and the dev shop is installed there; its scheduled catch-ups are off
(RECONCILE_INTERVAL_SECONDS=0) so that only the page starts one.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from shopapp.config import DEV_SHOP
from shopapp.features.orders.models import Order
from shopapp.features.products.models import Product
from shopapp.shopify.errors import REAUTH_MESSAGE
from shopapp.testing import API_SECRET, build_webhook, wait_until
from tests.support.browser import chromium_path, page_pause
from tests.support.dashboard import (
    TIMEOUT_MS,
    contrast_audit,
    csp_violations,
    deliver,
    row,
    send_webhook,
    watch_csp,
)
from tests.support.shop_tokens import install_shop

if chromium_path() is None:
    pytest.skip("no Chromium installed (apt-get install chromium, or `make browsers`): browser tests skipped",
                allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# An orders/create delivery the orders handler rejects for good (it has no order id), carrying customer data
# that the page must never show.
UNUSABLE_ORDER = {"note": "gift wrap for Kim", "email": "kim.private@example.com",
                  "customer": {"first_name": "Kim", "last_name": "Private"}}
# What Shopify answers an app that lacks a scope: an error no retry of the same call fixes.
MISSING_SCOPE = {"errors": "Access denied for productsCount field. Required access: `read_products` access scope."}


@pytest.fixture
def shopify_stack(start_stack, fake_shopify, db, app):
    """A stack whose Admin API is the Shopify stand-in, with the dev shop installed there (`app` configured
    the encryption of tokens at rest)."""
    install_shop(db, fake_shopify, DEV_SHOP)
    return start_stack(env={"SHOPIFY_ADMIN_ORIGIN": fake_shopify.url, "RECONCILE_INTERVAL_SECONDS": "0"})


def failed_count(page) -> str:
    return page.get_attribute("#failed-count", "data-count")


def test_retry_all_failed_retries_the_failed_jobs_and_the_count_goes_to_zero_live(open_dashboard, shopify_stack,
                                                                                  fake_shopify):
    fake_shopify.add_products(DEV_SHOP, 3)
    fake_shopify.fail("graphql", 403, MISSING_SCOPE, times=2)  # then the merchant grants the scope
    page, log = open_dashboard(server=shopify_stack)
    page.wait_for_selector('#failed-count[data-count="0"]')
    assert page.inner_text("#failed-count") == "No failed jobs"
    assert page.get_attribute("#retry-failed", "aria-disabled") == "true"
    for expected in (1, 2):
        page.click("#sync-products")
        page.wait_for_selector(f'#failed-count[data-count="{expected}"]')  # counted again as each one fails
    assert page.inner_text("#failed-count") == "2 failed jobs"
    assert page.locator('#jobs-body tr[data-state="failed"]').count() == 2
    with page.expect_response(lambda r: r.url.endswith("/api/jobs/retry-failed")) as answer:
        page.click("#retry-failed")
    assert answer.value.status == 202
    expect(page.locator("#retry-failed-status")).to_have_text("2 jobs queued again.", timeout=TIMEOUT_MS)
    page.wait_for_selector('#failed-count[data-count="0"]')
    wait_until(lambda: page.locator('#jobs-body tr[data-state="succeeded"]').count() == 2,
               what="both syncs to succeed on their retry", pause=page_pause(page))
    assert page.get_attribute("#retry-failed", "aria-disabled") == "true"
    assert page.evaluate("window.__sameDocument") is True
    assert log.errors == []


def test_a_double_click_on_retry_all_failed_sends_one_call(open_dashboard, stack):
    page, _log = open_dashboard()
    for webhook_id in [send_webhook(stack, payload=UNUSABLE_ORDER) for _ in range(2)]:
        page.wait_for_selector(row(page, webhook_id, "failed"))
    page.wait_for_selector('#failed-count[data-count="2"]')
    held = []
    page.route("**/api/jobs/retry-failed", lambda route: held.append(route))  # each call waits until let go
    page.dblclick("#retry-failed")
    wait_until(lambda: held, what="the first call", pause=page_pause(page))
    # The second click came while the first call was held in flight: the button said so, and sent nothing.
    assert page.get_attribute("#retry-failed", "aria-disabled") == "true"
    assert page.get_attribute("#retry-failed", "aria-busy") == "true"
    held[0].continue_()
    expect(page.locator("#retry-failed-status")).to_have_text("2 jobs queued again.", timeout=TIMEOUT_MS)
    assert len(held) == 1
    assert page.get_attribute("#retry-failed", "aria-busy") is None


def test_catch_up_now_starts_a_reconcile_whose_progress_row_shows_what_it_checked_and_fixed(
        open_dashboard, shopify_stack, fake_shopify, db):
    # 5 orders and 150 products changed in the last hours, and not one of their webhooks arrived.
    since = datetime.now(UTC) - timedelta(hours=3)
    fake_shopify.add_orders(DEV_SHOP, 5, since=since)
    fake_shopify.add_products(DEV_SHOP, 150, since=since)
    fake_shopify.hold_products_after(1)  # the catch-up stops after its first products page until released
    page, log = open_dashboard(server=shopify_stack)
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as started:
        page.click("#catch-up")
    assert started.value.status == 202
    job = started.value.json()
    assert job["kind"] == "reconcile"
    catch_up = f'#jobs-body tr[data-job-id="{job["id"]}"]'
    bar = page.wait_for_selector(catch_up + '[data-state="running"] progress')
    assert bar.get_attribute("aria-label") == f"Progress of job {job['id']} (catch up)"
    # Held mid-way, it says how far it got (reports closer than 0.25 s apart are merged, so not which page).
    page.wait_for_function("""selector => /^checked (\\d+) of 155 records, fixed \\1$/.test(
        document.querySelector(selector)?.textContent)""", arg=catch_up + " .job-message")
    assert page.is_visible(catch_up + ' button[data-action="cancel"]')
    fake_shopify.release_products()
    page.wait_for_selector(catch_up + '[data-state="succeeded"]')
    assert page.inner_text(catch_up + " .job-message").startswith("checked 155 records, fixed 155 ")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Order).where(Order.shop_domain == DEV_SHOP)) == 5
        assert session.scalar(select(func.count()).select_from(Product).where(Product.shop_domain == DEV_SHOP)) == 150
    assert log.errors == []


def test_a_failed_jobs_detail_view_shows_its_attempts_and_delivery_ids_and_nothing_of_the_payload(
        open_dashboard, stack):
    page, log = open_dashboard()
    hook = build_webhook("orders/create", API_SECRET, shop=DEV_SHOP, payload=UNUSABLE_ORDER)
    deliver(stack, hook)
    failed = row(page, hook.webhook_id, "failed")
    page.wait_for_selector(failed)
    job_id = page.get_attribute(failed, "data-job-id")
    details = failed + ' button[data-action="details"]'
    assert page.get_attribute(details, "aria-label") == f"Details of job {job_id} (orders/create)"
    page.focus(details)
    page.keyboard.press("Enter")
    page.wait_for_selector("#job-detail[open] #job-detail-body:not([aria-busy])")
    assert page.evaluate("document.activeElement.id") == "job-detail-close"  # focus moved into the dialog
    assert page.inner_text("#job-detail-title") == f"orders/create (job {job_id})"
    shown = page.inner_text("#job-detail")
    for fact in ("Failed", "1 of 5", "Attempt 1: failed", "payload has no order id", hook.webhook_id, hook.event_id,
                 hook.headers["X-Shopify-API-Version"]):
        assert fact in shown
    # created, first started, latest attempt started, finished; triggered, received; the attempt's start and end
    assert page.locator("#job-detail time[datetime]").count() == 8
    for private in ("kim.private", "Kim", "gift wrap"):
        assert private not in shown
    page.keyboard.press("Escape")
    page.wait_for_selector("#job-detail:not([open])", state="attached")
    assert page.evaluate("[document.activeElement.dataset.action, document.activeElement.closest('tr')?.dataset.jobId]"
                         ) == ["details", job_id]
    assert log.errors == []


def test_the_detail_view_fits_a_phone_screen(open_dashboard, stack, artifacts_dir):
    page, log = open_dashboard(width=390, height=844)
    webhook_id = send_webhook(stack, payload=UNUSABLE_ORDER)
    page.click(row(page, webhook_id, "failed") + ' button[data-action="details"]')
    page.wait_for_selector("#job-detail[open] #job-detail-body:not([aria-busy])")
    fit = page.evaluate("""() => {
        const dialog = document.getElementById("job-detail"), box = dialog.getBoundingClientRect();
        return {inside: box.left >= 0 && box.right <= window.innerWidth,
                noSideScroll: dialog.scrollWidth <= dialog.clientWidth,
                page: document.documentElement.scrollWidth <= window.innerWidth};
    }""")
    assert fit == {"inside": True, "noSideScroll": True, "page": True}
    page.screenshot(path=str(artifacts_dir / "job-detail-narrow.png"))
    page.click("#job-detail-close")
    page.wait_for_selector("#job-detail:not([open])", state="attached")
    assert log.errors == []


def test_the_summary_and_the_detail_view_meet_wcag_aa_contrast(open_dashboard, stack):
    page, _log = open_dashboard()
    webhook_id = send_webhook(stack, payload=UNUSABLE_ORDER)
    page.wait_for_selector('#failed-count[data-count="1"]')
    page.click(row(page, webhook_id, "failed") + ' button[data-action="details"]')
    page.wait_for_selector("#job-detail[open] #job-detail-body:not([aria-busy])")
    audit = contrast_audit(page, "#failed-count, #retry-failed, #catch-up, .button-link, #job-detail h2, "
                                 "#job-detail h3, #job-detail dt, #job-detail dd, #job-detail p, #job-detail .badge")
    assert audit["checked"] > 20
    assert audit["low"] == []


def test_failed_work_and_catching_up_run_under_the_pages_content_security_policy(open_dashboard, stack):
    """Dev mode has no Shopify to catch up from: the catch-up fails at once, asking to re-authorize."""
    violations = []
    page, log = open_dashboard(before_load=watch_csp(violations))
    webhook_id = send_webhook(stack, payload=UNUSABLE_ORDER)
    page.click(row(page, webhook_id, "failed") + ' button[data-action="details"]')
    page.wait_for_selector("#job-detail[open] #job-detail-body:not([aria-busy])")
    page.keyboard.press("Escape")
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as started:
        page.click("#catch-up")
    catch_up = f'#jobs-body tr[data-job-id="{started.value.json()["id"]}"][data-state="failed"]'
    page.wait_for_selector(catch_up)
    assert REAUTH_MESSAGE in page.inner_text(catch_up + " .job-error")
    page.wait_for_selector('#failed-count[data-count="2"]')
    page.click("#retry-failed")
    expect(page.locator("#retry-failed-status")).to_have_text("2 jobs queued again.", timeout=TIMEOUT_MS)
    assert csp_violations(page, violations) == []
    assert [e for e in log.errors if "sentinel.invalid" not in e] == []
