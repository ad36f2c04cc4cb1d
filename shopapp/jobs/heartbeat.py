"""Job heartbeats: a running job's `heartbeat_at` is refreshed from a thread, so a dead worker is noticed,
and the same thread enforces the hard time limit.

The sweeper hands a running job whose heartbeat is older than JOB_STALL_SECONDS to another worker. A
heartbeat belongs to one attempt and stops with it: once the attempt is past its time limit plus
`timelimit.HARD_LIMIT_GRACE_SECONDS`, the thread stops beating for it and calls its `on_expire` (the
runner records the attempt as timed out and, in a worker process, exits so that a fresh one takes over).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Optional

from flask import Flask
from sqlalchemy import update

from shopapp.db import get_db
from shopapp.models import Job, JobState, utcnow

log = logging.getLogger(__name__)


class Heartbeat:
    """Refreshes `heartbeat_at` of one running attempt every JOB_STALL_SECONDS / 3, on its own connection,
    until `stop()` or until `expires_at` (time.monotonic()), when `on_expire()` is called once instead.

    One thread per process beats for every running job (a thread started and joined per job cost more
    than a trivial job's own work).
    """

    def __init__(self, app: Flask, job_id: int, me: str, expires_at: float = float("inf"),
                 on_expire: Optional[Callable[[], None]] = None):
        self.app, self.job_id, self.me = app, job_id, me
        self.interval = max(0.1, app.config["JOB_STALL_SECONDS"] / 3.0)
        self.expires_at = expires_at
        self.on_expire = on_expire

    def start(self) -> None:
        _beater().add(self)

    def stop(self) -> None:
        _beater().remove(self)  # a beat already under way may still land: it is conditional, so harmless

    def beat(self) -> None:
        """One conditional refresh (only while this worker holds the claim and the job runs)."""
        try:
            with get_db(self.app).engine.begin() as conn:
                conn.execute(update(Job).where(Job.id == self.job_id, Job.claimed_by == self.me,
                                               Job.state == JobState.RUNNING.value)
                             .values(heartbeat_at=utcnow()))
        except Exception as exc:  # a missed beat is survivable; the next one may work
            log.warning("heartbeat failed: %s", type(exc).__name__, extra={"job_id": self.job_id})

    def expire(self) -> None:
        """The attempt outlived its hard limit: no more beats; tell the runner (errors are logged)."""
        if self.on_expire is None:
            return
        try:
            self.on_expire()
        except Exception:
            log.exception("recording a timed-out attempt failed", extra={"job_id": self.job_id})


class _Beater:
    """The process's heartbeat thread: beats each registered Heartbeat every `interval` seconds."""

    def __init__(self):
        self.pid = os.getpid()
        self._cond = threading.Condition()
        self._due: dict[Heartbeat, float] = {}
        self._wake_at = float("inf")
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def add(self, heartbeat: Heartbeat) -> None:
        with self._cond:
            at = self._due[heartbeat] = min(time.monotonic() + heartbeat.interval, heartbeat.expires_at)
            if at < self._wake_at:
                self._cond.notify()

    def remove(self, heartbeat: Heartbeat) -> None:
        with self._cond:
            self._due.pop(heartbeat, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [hb for hb, at in self._due.items() if at <= now]
                expired = [hb for hb in due if hb.expires_at <= now]
                for hb in due:
                    if hb.expires_at <= now:
                        del self._due[hb]  # a heartbeat stops with its attempt
                    else:
                        self._due[hb] = min(now + hb.interval, hb.expires_at)
                if not due:
                    self._wake_at = min(self._due.values(), default=now + 60.0)
                    self._cond.wait(self._wake_at - now)
                    self._wake_at = float("inf")
                    continue
            for hb in due:
                if hb in expired:
                    hb.expire()
                else:
                    hb.beat()


_BEATER: Optional[_Beater] = None
_BEATER_LOCK = threading.Lock()


def _beater() -> _Beater:
    global _BEATER
    beater = _BEATER
    if beater is None or beater.pid != os.getpid():  # none yet, or inherited through a fork (no thread)
        with _BEATER_LOCK:
            if _BEATER is None or _BEATER.pid != os.getpid():
                _BEATER = _Beater()
            beater = _BEATER
    return beater
