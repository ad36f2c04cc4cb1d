"""Bounded waits for conditions that real processes reach in their own time (never a timing assertion)."""
from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition",
               explain: Callable[[], object] | None = None, interval: float = 0.05) -> None:
    """Poll `condition` until truthy; fail naming `what` (and `explain()`, if given) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s" + (f": {explain()}" if explain else ""))
        time.sleep(interval)
