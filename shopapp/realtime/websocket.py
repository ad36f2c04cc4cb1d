"""Every use of the websocket libraries' internals (flask-sock, simple-websocket, wsproto), in one place:
the seam between `/ws/jobs` and the libraries. The rest of realtime speaks through the functions below.

Measured reasons for each departure from the stock path (README "Performance"), each checked against the
library's own behaviour in tests/test_realtime_websocket.py:
- writes are whole: simple-websocket writes with `sock.send()`, which under gevent can write part of a
  frame to a slow reader and drop the rest (the client then fails with 1002). Its reader thread also
  writes pongs and close replies. `LockedSocket` turns every write into `sendall()` under one per-socket
  lock, which our own writes take too, so frames from the two writers never interleave;
- a server text frame is built once per event (`text_frame`), not once per socket;
- under gevent there is no reader greenlet (`InlineReader`): a libev watcher on the socket wakes the
  handler, which reads what arrived and hands it to the library's own event handling (`receive_nowait`,
  `wait_reader`); and the handshake's HTTP state is dropped after the upgrade (`release_handshake`):
  memory per socket at 10,000 sockets (a greenlet blocked in a read costs about 7 KB);
- pings are sent by the socket's own handler (`PING_FRAME`, `ping_answered`), not by the library's timer;
- client messages are taken from the library's buffer without its `receive()`, which clears the event our
  hub also sets to wake the handler (`receive_nowait`).
"""
from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque

from simple_websocket import ConnectionClosed
from wsproto.connection import ConnectionState
from wsproto.utilities import LocalProtocolError

from shopapp.green import under_gevent

__all__ = ["ConnectionClosed", "server_options", "text_frame", "PING_FRAME", "release_handshake", "guard",
           "wake_event", "is_connected", "write", "receive_nowait", "ping_answered", "expect_pong", "close",
           "wait_reader", "release", "set_idle_timeout", "LINGER_SECONDS"]

# How long closing waits for the peer's last bytes (its close reply, the rest of an oversized message).
LINGER_SECONDS = 2.0
PING_FRAME = b"\x89\x00"  # final ping frame, no payload (server frames are unmasked)


def server_options(max_message_bytes: int) -> dict:
    """flask-sock's SOCK_SERVER_OPTIONS: no library pings (the handler sends them), the size limit, and,
    under gevent, no reader greenlet (`InlineReader`)."""
    options = {"ping_interval": None, "max_message_size": max_message_bytes}
    if under_gevent():
        options["thread_class"] = InlineReader
    return options


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (server to client, no extension) carrying `payload` (UTF-8).

    Server frames are never masked, so the bytes are the same for every socket: a job event is framed
    once and written to all its sockets.
    """
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def release_handshake(ws) -> None:
    """Drop wsproto's HTTP/1.1 handshake state once the socket is open (about 2 KB per socket), and keep
    its frame protocol's event queue in a list (`_EventList`, about 0.7 KB less).

    wsproto keeps its h11 connection and the request for the life of the socket, though only the frame
    protocol is used after the upgrade. Attribute names checked first: with another wsproto this is a no-op.
    """
    connection = getattr(ws, "ws", None)
    handshake = getattr(connection, "handshake", None)
    if handshake is None or getattr(connection, "connection", None) is None:
        return
    names = ("_h11_connection", "_initiating_request", "_events")
    if all(hasattr(handshake, name) for name in names) and not handshake._events:
        handshake._h11_connection = None
        handshake._initiating_request = None
        handshake._events = ()  # events() only iterates it while non-empty
    frames = connection.connection
    # Only with no reader thread (InlineReader): a reader thread might append to the deque meanwhile.
    inline = isinstance(getattr(ws, "thread", None), InlineReader)
    if inline and type(getattr(frames, "_events", None)) is deque and not frames._events:
        frames._events = _EventList()  # an empty deque holds a 64-slot block: about 0.7 KB per socket


class _EventList(list):
    """wsproto's pending-event queue (`Connection._events`) as a list: wsproto only appends to it, tests it
    and pops from its left, and it holds at most a few events at a time."""

    __slots__ = ()

    def popleft(self):
        return self.pop(0)


def guard(ws) -> LockedSocket:
    """Make every write of simple-websocket's `ws` whole and serialized; returns the wrapper."""
    if not isinstance(ws.sock, LockedSocket):
        ws.sock = LockedSocket(ws.sock, threading.RLock())
    return ws.sock


class LockedSocket:
    """Wraps a connected socket so that each `send` writes everything, under `lock`."""

    __slots__ = ("raw", "lock")

    def __init__(self, raw, lock: threading.RLock):
        self.raw = raw
        self.lock = lock

    def send(self, data: bytes) -> int:
        with self.lock:
            self.raw.sendall(data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        with self.lock:
            self.raw.sendall(data)

    def recv(self, size: int) -> bytes:
        return self.raw.recv(size)

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        """Close gracefully: send FIN after our close frame, then read what the peer still sends.

        Closing a socket with unread input makes the kernel send a reset, and the peer may then lose our
        close frame (a client whose oversized message was refused would see no 1009, only a reset).
        """
        try:
            self.raw.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                self.raw.settimeout(left)
                if not self.raw.recv(65536):
                    break
        except OSError:
            pass
        finally:
            self.raw.close()

    def __getattr__(self, name):
        return getattr(self.raw, name)


# --- one socket, as the handler uses it -------------------------------------------------------------

def wake_event(ws):
    """The event simple-websocket's reader sets on every client message and on disconnect; our hub sets
    it too, so one wait covers "a message arrived", "an event was queued" and "the connection dropped".
    Under gevent (no reader greenlet) it starts the watcher that sets the event when the client's bytes
    arrive; the handler then reads them with `receive_nowait`."""
    reader = ws.thread
    if isinstance(reader, InlineReader):
        reader.watch()
    return ws.event


def is_connected(ws) -> bool:
    return ws.connected


def write(ws, data: bytes) -> None:
    """Write `data` (whole frames) under the socket's lock; raises ConnectionClosed once it is closed."""
    guarded = ws.sock
    with guarded.lock:
        if not ws.connected or ws.ws.state is not ConnectionState.OPEN:
            raise ConnectionClosed(ws.close_reason, ws.close_message)
        try:
            guarded.raw.sendall(data)
        except OSError:
            ws.connected = False
            raise ConnectionClosed(ws.close_reason, ws.close_message) from None


def receive_nowait(ws):
    """The next client message already read (str or bytes), or None; raises ConnectionClosed once the
    connection is gone and nothing is left, as simple-websocket's `receive(timeout=0)` does.

    Read from its buffer without touching its event: `receive(timeout=0)` waits on the event and clears it
    when the buffer is empty, so a wake-up set meanwhile by the hub (an event queued, a close asked for)
    would be eaten, and the socket would sleep until its next ping with that close or event pending.
    """
    reader = ws.thread
    if isinstance(reader, InlineReader) and reader.readable:
        reader.read_available()
    buffer = ws.input_buffer
    if buffer:
        return buffer.pop(0)
    if not ws.connected:
        raise ConnectionClosed(ws.close_reason, ws.close_message)
    return None


def ping_answered(ws) -> bool:
    """Whether a pong arrived since `expect_pong`."""
    return ws.pong_received


def expect_pong(ws) -> None:
    ws.pong_received = False  # simple-websocket sets it again on the pong


def close(ws, code: int, reason: str) -> None:
    """Send a close frame with `code` (nothing when the socket is already gone)."""
    lock = ws.sock.lock if isinstance(ws.sock, LockedSocket) else threading.RLock()
    with lock, contextlib.suppress(ConnectionClosed, LocalProtocolError, OSError):
        ws.close(reason=code, message=reason)


def wait_reader(ws, seconds: float) -> None:
    """Wait up to `seconds` for the reader to finish (the close handshake, the last bytes)."""
    ws.thread.join(seconds)


def release(ws) -> None:
    """After the handler's last wait: close the connection if no reader is left to (gevent: none ever is)."""
    reader = ws.thread
    if isinstance(reader, InlineReader):
        reader.finish()


def set_idle_timeout(ws, seconds: float) -> None:
    """A peer that takes no write and sends nothing for `seconds` is gone: reads and writes then fail."""
    ws.sock.raw.settimeout(seconds)


# --- no reader under gevent --------------------------------------------------------------------------

class InlineReader:
    """simple-websocket's `thread_class` under gevent: no reader greenlet per socket.

    simple-websocket runs `Base._thread` on its thread: read, feed wsproto, `_handle_events()` (messages
    into `input_buffer`, pong and close replies, the size limit), until the connection closes, then close
    the socket. Here nothing runs until the handler reads: a libev read watcher (about 0.3 KB, against about
    7 KB for a greenlet blocked in a read) sets the socket's event, and the handler feeds what arrived to the
    same `_handle_events()` (`receive_nowait`), or reads until the peer closes (`wait_reader`). Without
    `watch()` (a socket refused before it is served) only `join` reads. tests/test_realtime_websocket.py
    runs both readers on the same bytes.
    """

    __slots__ = ("ws", "name", "watcher", "readable", "done")

    def __init__(self, target, name: str = "simple_websocket.reader"):
        self.ws = target.__self__  # simple-websocket passes its bound `_thread`
        self.name = name
        self.watcher = None
        self.readable = False
        self.done = False

    def start(self) -> None:
        """Nothing to start: the handler reads."""

    def is_alive(self) -> bool:
        return not self.done

    def watch(self) -> None:
        """Wake the handler (the socket's event) when the client's bytes arrive."""
        if self.watcher is None and not self.done:
            from gevent import get_hub

            self.watcher = get_hub().loop.io(self.ws.sock.fileno(), 1)
            self.watcher.start(self._on_readable)

    def _on_readable(self) -> None:
        # Stopped until the handler has read: level-triggered, it would fire on every loop turn meanwhile.
        self.readable = True
        self.watcher.stop()
        self.ws.event.set()

    def read_available(self) -> None:
        """Read what the socket holds now (one recv) without waiting, and handle it; watch again after."""
        self.readable = False
        data = self._recv(0.0)
        if data is not None:  # None: woken for nothing, watch again
            self._handle(data)
        if not self.done:
            self.watcher.start(self._on_readable)

    def join(self, timeout: float | None = None) -> None:
        """Read until the peer closes or `timeout` seconds pass, as the library's reader would; then, if
        it closed, close the socket (with its linger, LockedSocket.close)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            data = self._recv(left)
            if data is None:
                return
            self._handle(data)

    def _recv(self, timeout: float | None) -> bytes | None:
        # One recv waiting at most `timeout` seconds (0: not at all, None: for ever): the bytes, b"" when
        # the connection is gone, None when nothing came in time. The socket's own timeout is kept.
        raw = _raw(self.ws)
        previous = raw.gettimeout()
        raw.settimeout(timeout)
        try:
            return raw.recv(self.ws.receive_bytes)
        except (BlockingIOError, TimeoutError):
            return None
        except OSError:
            return b""
        finally:
            raw.settimeout(previous)

    def _handle(self, data: bytes) -> None:
        # Base._thread's loop body: an empty read or a protocol error ends the connection.
        ws = self.ws
        try:
            if not data:
                raise OSError("connection closed by the peer")
            ws.ws.receive_data(data)
            ws.connected = ws._handle_events()
        except (OSError, LocalProtocolError):
            ws.connected = False
            ws.event.set()
        if not ws.connected:
            self.finish()

    def finish(self) -> None:
        """The reader's end: stop watching and close the socket (once)."""
        if self.done:
            return
        self.done = True
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher.close()
            self.watcher = None
        self.ws.sock.close()


def _raw(ws):
    sock = ws.sock
    return sock.raw if isinstance(sock, LockedSocket) else sock
