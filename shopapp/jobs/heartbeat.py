"""Job heartbeats: a running job's `heartbeat_at` is refreshed from a thread, so a dead worker is noticed.

The sweeper hands a running job whose heartbeat is older than JOB_STALL_SECONDS to another worker.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Optional

from flask import Flask
from sqlalchemy import update

from shopapp.db import get_db
from shopapp.models import Job, JobState, utcnow

log = logging.getLogger(__name__)


class Heartbeat:
    """Refreshes `heartbeat_at` of a running job from a thread, so a SIGKILLed worker is noticed.

    Runs every JOB_STALL_SECONDS / 3 on its own connection; the sweeper hands a job whose heartbeat is
    older than JOB_STALL_SECONDS to another worker. One thread per process beats for every running job
    (a thread started and joined per job cost more than a trivial job's own work).
    """

    def __init__(self, app: Flask, job_id: int, me: str):
        self.app, self.job_id, self.me = app, job_id, me
        self.interval = max(0.1, app.config["JOB_STALL_SECONDS"] / 3.0)

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
            at = self._due[heartbeat] = time.monotonic() + heartbeat.interval
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
                for hb in due:
                    self._due[hb] = now + hb.interval
                if not due:
                    self._wake_at = min(self._due.values(), default=now + 60.0)
                    self._cond.wait(self._wake_at - now)
                    self._wake_at = float("inf")
                    continue
            for hb in due:
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
