"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright (never downloaded)."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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

    def attach(self, page) -> PageLog:
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        return self


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def page_pause(page) -> Callable[[float], None]:
    """A pause for `wait_until` that lets Playwright's callbacks (routes, events) run meanwhile: they only
    run while Playwright is waiting."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)
