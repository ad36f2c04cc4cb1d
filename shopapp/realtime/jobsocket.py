"""One open /ws/jobs socket: its bounded send queue, its token deadline, and the loop that serves it.

The hub (another greenlet or thread) only appends to the queue and wakes the socket's own handler; the
handler does every write. So a slow or dead client delays nobody else, and its memory is bounded: when
its queue is full it is closed with 1013 and resyncs with `since`.
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable

from shopapp import metrics
from shopapp.realtime import codes, websocket
from shopapp.realtime.websocket import PING_FRAME, text_frame
from shopapp.shopify.session_token import SessionIdentity, SessionTokenError

log = logging.getLogger(__name__)

# How long a server-initiated close waits for the client's close reply before dropping the connection.
CLOSE_WAIT_SECONDS = 2.0
# Frames written in one sendall when the queue holds many.
BATCH_FRAMES = 128


class Event:
    """A job event as received from Redis: its seq, its JSON text, and its frame (built once)."""

    __slots__ = ("seq", "text", "_frame")

    def __init__(self, seq: int, text: str):
        self.seq = seq
        self.text = text
        self._frame = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.text.encode())
        return self._frame


class JobSocket:
    """Serves one authenticated socket: snapshot or replay first, then live events in seq order.

    `verify_token(token)` and `sync(shop, since)` are shared by every socket of the app; `sync` returns
    ("events", [text, ...]) or ("snapshot", {...}).
    """

    # Slots and shared callables: a socket's own memory counts 10,000 times.
    __slots__ = ("ws", "shop", "last_seq", "_last_hash", "_verify_token", "_sync_source", "_grace", "_deadline",
                 "_queue", "_queue_size", "_pending_close", "_resync", "_ping_seconds", "_next_ping", "_ping_due",
                 "_pinged", "_wake")

    def __init__(self, ws, identity: SessionIdentity, *, queue_size: int, grace_seconds: float,
                 verify_token: Callable[[str | None], SessionIdentity],
                 sync: Callable[[str, int | None], tuple], ping_seconds: float = 0.0):
        self.ws = ws
        self.shop = identity.shop
        self.last_seq = 0
        # hash() of the text of the event at last_seq, None after a snapshot: what tells, after Redis failed
        # over, whether the new server's history still holds the event this page holds (see _resume).
        self._last_hash: int | None = None
        self._verify_token = verify_token
        self._sync_source = sync
        self._grace = grace_seconds
        self._deadline = identity.expires_at + grace_seconds
        self._queue: deque[Event] | None = None  # created by the first event: most sockets idle most of the time
        self._queue_size = queue_size
        self._pending_close: tuple[int, str] | None = None
        self._resync = False
        self._ping_seconds = ping_seconds
        self._next_ping = time.monotonic() + ping_seconds
        self._ping_due = False
        self._pinged = False
        websocket.guard(ws)
        self._wake = websocket.wake_event(ws)
        if ping_seconds:
            # A peer that takes no write and sends nothing (not even a pong) for this long is gone: the
            # handler's write or the reader's read then fails instead of waiting forever.
            websocket.set_idle_timeout(ws, 2 * ping_seconds + 10)

    # --- called by the hub (another greenlet or thread) ----------------------------------------------

    def deliver(self, event: Event) -> None:
        """Queue a live event; a full queue closes this socket (1013) so the client resyncs."""
        if self._pending_close is not None:
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        if len(queue) >= self._queue_size:
            # Only the handler empties the queue (it is dropped with the socket): no race on it.
            self._pending_close = (codes.TRY_AGAIN_LATER, "fell behind: reconnect with since")
        else:
            queue.append(event)
        self._wake.set()

    def request_resync(self, other_server: bool = False) -> None:
        """After the hub's Redis subscription had a gap: replay from the last seq sent. With `other_server`
        (another Redis server answers: a promoted replica, a restart), replay only if that server's log
        still holds, at our seq, the very event this page holds; else a snapshot (its seqs repeat ours)."""
        self._resync = "verify" if other_server or self._resync == "verify" else "since"
        self._wake.set()

    def tick(self, now: float, monotonic_now: float) -> None:
        """The hub's once-a-second check: token expiry (4401 after the grace) and heartbeat pings are due."""
        if now >= self._deadline:
            self.close_soon(codes.UNAUTHORIZED, "session token expired")
        elif self._ping_seconds and monotonic_now >= self._next_ping:
            self._next_ping = monotonic_now + self._ping_seconds
            self._ping_due = True
            self._wake.set()

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the handler to close with `code` (uninstall, shutdown)."""
        if self._pending_close is None:
            self._pending_close = (code, reason)
        self._wake.set()

    # --- the handler ---------------------------------------------------------------------------------

    def serve(self, since: int | None) -> int | None:
        """Run until the client leaves or the socket is closed; return the close code sent (or None)."""
        self._sync(since)
        while True:
            if time.time() >= self._deadline:
                return self.close(codes.UNAUTHORIZED, "session token expired")
            # No timeout here: a timer per socket costs memory at 10,000 sockets; the hub's watcher wakes
            # sockets whose token ran out or whose ping is due (tick).
            self._wake.wait()
            self._wake.clear()
            if self._pending_close is not None:
                return self.close(*self._pending_close)
            if not websocket.is_connected(self.ws):
                return None
            code = self._read_client_messages()
            if code is not None:
                return code
            if self._ping_due:
                code = self._ping()
                if code is not None:
                    return code
            if self._resync:
                verify, self._resync = self._resync == "verify", False
                if verify:
                    self._resume()
                else:
                    self._sync(self.last_seq)
            self._drain()

    def _ping(self) -> int | None:
        self._ping_due = False
        if self._pinged and not websocket.ping_answered(self.ws):
            return self.close(codes.INTERNAL_ERROR, "no pong")  # the peer is gone or stuck
        self._pinged = True
        websocket.expect_pong(self.ws)
        websocket.write(self.ws, PING_FRAME)
        return None

    def close(self, code: int, reason: str) -> int:
        """Send a close frame with `code`, then give the client a moment to answer it."""
        websocket.close(self.ws, code, reason)
        websocket.wait_reader(self.ws, CLOSE_WAIT_SECONDS)
        return code

    def _resume(self) -> None:
        # Replication is ordered and a seq is taken with its log entry in one script: when the server's log
        # holds exactly our event at our seq, it holds our whole history and what follows is news to us.
        if self._last_hash is not None and self.last_seq > 1:
            kind, data = self._sync_source(self.shop, self.last_seq - 1)
            if kind == "events":
                at_ours = [text for text in data if json.loads(text)["seq"] == self.last_seq]
                if len(at_ours) == 1 and hash(at_ours[0]) == self._last_hash:
                    self._send(kind, data)
                    return
        self._send(*self._sync_source(self.shop, None))

    def _sync(self, since: int | None) -> None:
        self._send(*self._sync_source(self.shop, since))
        if since is not None and self.last_seq < since:
            self.last_seq = since

    def _send(self, kind: str, data) -> None:
        if kind == "snapshot":
            self.send_json({"type": "snapshot", "seq": data["seq"], "jobs": data["jobs"]})
            self.last_seq, self._last_hash = data["seq"], None
            return
        frames = []
        for text in data:
            seq = json.loads(text)["seq"]
            if seq > self.last_seq:
                frames.append(text_frame(text.encode()))
                self.last_seq, self._last_hash = seq, hash(text)
        for i in range(0, len(frames), BATCH_FRAMES):
            self._write_events(frames[i:i + BATCH_FRAMES])

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch = []
            while queue and len(batch) < BATCH_FRAMES:
                event = queue.popleft()
                if event.seq <= self.last_seq:
                    continue  # already sent by the snapshot or the replay
                if event.seq != self.last_seq + 1 and self.last_seq:
                    # A gap in a live stream means Redis dropped something: replay it from the log first.
                    if batch:
                        self._write_events(batch)
                        batch = []
                    self._sync(self.last_seq)
                    if event.seq <= self.last_seq:
                        continue
                batch.append(event.frame)
                self.last_seq, self._last_hash = event.seq, hash(event.text)
            if batch:
                self._write_events(batch)
            if self._pending_close is not None:
                return

    def _read_client_messages(self) -> int | None:
        while True:
            message = websocket.receive_nowait(self.ws)
            if message is None:
                return None
            code = self._handle_client_message(message)
            if code is not None:
                return code

    def _handle_client_message(self, message) -> int | None:
        if isinstance(message, bytes):
            self.send_json({"type": "error", "error": "binary messages are not accepted"})
            return None
        try:
            data = json.loads(message)
        except ValueError:
            self.send_json({"type": "error", "error": "message is not JSON"})
            return None
        if not isinstance(data, dict) or data.get("type") != "auth":
            self.send_json({"type": "error", "error": 'unknown message; expected {"type": "auth", "id_token": ...}'})
            return None
        token = data.get("id_token")
        try:
            identity = self._verify_token(token if isinstance(token, str) else None)
        except SessionTokenError:
            return self.close(codes.UNAUTHORIZED, "invalid session token")
        if identity.shop != self.shop:
            return self.close(codes.UNAUTHORIZED, "session token is for another shop")
        self._deadline = max(self._deadline, identity.expires_at + self._grace)
        return None

    def _write_events(self, frames: list[bytes]) -> None:
        websocket.write(self.ws, b"".join(frames))
        metrics.event_delivered(len(frames))

    def send_json(self, data: dict) -> None:
        websocket.write(self.ws, text_frame(json.dumps(data, separators=(",", ":")).encode()))
