"""A merchant's page as far as /ws/jobs is concerned: one websocket that counts every event it receives.

It keeps the last seq seen and, when the server closes the socket (1001 on shutdown, 1013 when it fell
behind), the connection drops or a seq is skipped, reconnects with `since=<last seq>` to the next of its
URLs, as the page does through a load balancer. Tests then count per socket: every seq exactly once, no gap, and which
snapshots it needed.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import json
import threading
import time

import websocket


class LiveClient:
    """A reconnecting /ws/jobs client that records every message (reader in a thread)."""

    def __init__(self, ws_urls: list[str], token: str, reconnect: bool = True, name: str = ""):
        self.urls = itertools.cycle(ws_urls)
        self.token, self.reconnect, self.name = token, reconnect, name
        self.last_seq: int | None = None
        self.events: list[dict] = []          # job events in arrival order
        self.snapshots: list[dict] = []       # snapshot messages (the first one, and any resync)
        self.timeline: list[dict] = []        # snapshots and events, in arrival order
        self.close_codes: list[int | None] = []
        self.gaps: list[tuple[int, int]] = []  # (expected seq, received seq) when a seq was skipped
        self.connects = 0
        self.errors: list[str] = []
        self._ws: websocket.WebSocket | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"live-client-{name}", daemon=True)

    def start(self, timeout: float = 30.0) -> LiveClient:
        """Connect and wait for the first snapshot."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError(f"{self.name}: no snapshot within {timeout}s: {self.errors[-3:]}")
        return self

    def close(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close(timeout=1)
        self._thread.join(10)

    # --- what the tests count ----------------------------------------------------------------------

    def seqs(self) -> list[int]:
        with self._lock:
            return [event["seq"] for event in self.events]

    def states(self, job_id: int) -> list[str]:
        with self._lock:
            return [event["job"]["state"] for event in self.events if event["job"]["id"] == job_id]

    def count(self, state: str) -> collections.Counter:
        """{job id: how many `state` events this socket received}."""
        with self._lock:
            return collections.Counter(e["job"]["id"] for e in self.events if e["job"]["state"] == state)

    def view(self) -> dict[int, str]:
        """{job id: state} as the page shows it now: its last snapshot with every later event applied."""
        with self._lock:
            timeline = list(self.timeline)
        last = max(i for i, m in enumerate(timeline) if m["type"] == "snapshot")
        shown = {job["id"]: job["state"] for job in timeline[last]["jobs"]}
        for message in timeline[last + 1:]:
            shown[message["job"]["id"]] = message["job"]["state"]
        return shown

    def ever_succeeded(self) -> set[int]:
        """Ids of jobs this page was ever told succeeded (by an event or in a snapshot)."""
        with self._lock:
            timeline = list(self.timeline)
        ids = set()
        for message in timeline:
            jobs = message["jobs"] if message["type"] == "snapshot" else [message["job"]]
            ids.update(job["id"] for job in jobs if job["state"] == "succeeded")
        return ids

    def wait_for(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: condition not reached within {timeout}s "
                                     f"(last seq {self.last_seq}, {len(self.events)} events, "
                                     f"closes {self.close_codes}, errors {self.errors[-3:]})")
            time.sleep(0.05)

    # --- the reader --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            url = next(self.urls) + f"/ws/jobs?id_token={self.token}"
            if self.last_seq is not None:
                url += f"&since={self.last_seq}"
            try:
                self._ws = websocket.create_connection(url, timeout=10)
                self._ws.settimeout(None)
                self.connects += 1
                self._read(self._ws)
            except Exception as exc:  # refused while a server restarts: try the next URL
                self.errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                ws, self._ws = self._ws, None
                if ws is not None:
                    ws.close(timeout=1)  # a no-op once the server's close frame was answered...
                    ws.shutdown()        # ...which leaves the socket open: websocket-client closes it here
            if not self.reconnect:
                return
            self._stop.wait(0.1)

    def _read(self, ws: websocket.WebSocket) -> None:
        while not self._stop.is_set():
            opcode, data = ws.recv_data(control_frame=False)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_codes.append(int.from_bytes(data[:2], "big") if len(data) >= 2 else None)
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            message = json.loads(data)
            with self._lock:
                if message["type"] == "snapshot":
                    self.snapshots.append(message)
                    self.last_seq = message["seq"]
                    self._ready.set()
                elif message["type"] == "job":
                    # A snapshot at seq 0 means the shop's counter does not exist yet: the first publish
                    # seeds it (from Redis' clock, see shopapp.events.publisher), so any first seq follows it.
                    if self.last_seq and message["seq"] != self.last_seq + 1:
                        # As the page does: a gap means something was missed; reconnect with the last seq
                        # it holds, and the server replays what it can or sends a fresh snapshot.
                        self.gaps.append((self.last_seq + 1, message["seq"]))
                        if self.reconnect:
                            return
                    self.events.append(message)
                    self.last_seq = message["seq"]
                self.timeline.append(message)
