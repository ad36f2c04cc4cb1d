"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright (never downloaded)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

# Quiet, deterministic, offline: no component updates, no sync, no first-run UI, no GPU.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
DEFAULT_TIMEOUT_MS = 20_000


@contextmanager
def launch_chromium(executable_path: str) -> Iterator:
    """A Playwright Browser running the given Chromium binary."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What the page reported: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> "PageLog":
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        return self


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.1,
               message: str = "condition", page=None) -> object:
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout` seconds.

    Pass `page` when the predicate depends on Playwright callbacks (routes, events): they only run while
    Playwright is waiting, so the pause between polls is then a `page.wait_for_timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)
