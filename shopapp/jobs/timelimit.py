"""Time limits: every attempt of a job ends within its limit, whatever its handler does.

The limit (seconds) is the kind's own (`@job_kind(name, timeout=)`), for a webhook job its topic's own,
else its lane's default: WEBHOOK_JOB_TIMEOUT_SECONDS (60) for webhook jobs, JOB_TIMEOUT_SECONDS (300)
for merchant jobs. Two steps enforce it:
1. `TimeLimit` (soft): at the limit, SIGALRM raises `JobTimeoutError` inside the handler, wherever it is:
   spinning on the CPU, or blocked in a network read (the signal interrupts the system call). The attempt
   then ends like any failure: "timed out after N s", retried with back-off or failed for good.
2. The heartbeat thread (hard, `shopapp.jobs.heartbeat`): a handler that swallows the exception or sits
   in C code that never returns to Python is still running `HARD_LIMIT_GRACE_SECONDS` later; the
   heartbeat stops, the attempt is recorded as timed out, and the worker process exits so that its
   supervisor starts a fresh one (the next job is not held up).

RQ's own job timeout is not used (`rq_adapter.ShopappWorker`): it would measure the claim and the commit
too, and its SIGALRM would collide with this one.
"""
from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Optional

from flask import Flask

from shopapp.jobs import registry
from shopapp.jobs.errors import JobTimeoutError

HARD_LIMIT_GRACE_SECONDS = 5.0


def limit_for(app: Flask, kind: str, topic: Optional[str]) -> float:
    """The time limit in seconds of a job of `kind` (and `topic`). Raises UnknownJobKindError."""
    return registry.time_limit(kind, topic, {registry.WEBHOOKS_LANE: app.config["WEBHOOK_JOB_TIMEOUT_SECONDS"],
                                             registry.MERCHANT_LANE: app.config["JOB_TIMEOUT_SECONDS"]})


class TimeLimit:
    """`with TimeLimit(seconds):` raises JobTimeoutError in this thread once `seconds` have passed.

    Works in the main thread (where RQ runs jobs), with SIGALRM and ITIMER_REAL; an alarm set before
    (pytest-timeout's, say) is kept: it still fires at its own time, and is re-armed for its remaining time
    on exit. Elsewhere (a thread) it does nothing and the hard limit applies alone.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = 0.0
        self._armed = False
        self._previous = None
        self._outer_deadline: Optional[float] = None

    def __enter__(self) -> TimeLimit:
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return self
        now = time.monotonic()
        self.deadline = now + self.seconds
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        outer, _interval = signal.setitimer(signal.ITIMER_REAL, self.seconds)
        if outer > 0:
            self._outer_deadline = now + outer
            if outer < self.seconds:
                signal.setitimer(signal.ITIMER_REAL, outer)  # the outer alarm fires first, at its own time
        self._armed = True
        return self

    def _on_alarm(self, signum: int, frame: Optional[FrameType]) -> None:
        now = time.monotonic()
        if now >= self.deadline - 0.001:
            raise JobTimeoutError(self.seconds)
        # The outer alarm's time: hand it over, then keep ours.
        self._outer_deadline = None
        signal.setitimer(signal.ITIMER_REAL, max(0.001, self.deadline - now))
        if callable(self._previous):
            self._previous(signum, frame)

    def __exit__(self, *_exc) -> None:
        if not self._armed:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous if self._previous is not None else signal.SIG_DFL)
        if self._outer_deadline is not None:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, self._outer_deadline - time.monotonic()))
        self._armed = False
