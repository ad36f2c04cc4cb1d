"""The one bounded wait: for conditions that real processes reach in their own time (never a timing assertion)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Optional


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition",
               explain: Optional[Callable[[], object]] = None, interval: float = 0.05,
               pause: Optional[Callable[[float], None]] = None) -> object:
    """Poll `condition` until it returns something truthy, and return that.

    Fails with AssertionError naming `what` (and `explain()`, if given) after `timeout` seconds. `pause`
    replaces `time.sleep` between polls (a browser test passes the page's own wait, so that the browser's
    callbacks run meanwhile).
    """
    deadline = time.monotonic() + timeout
    sleep = pause or time.sleep
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s" + (f": {explain()}" if explain else ""))
        sleep(interval)
