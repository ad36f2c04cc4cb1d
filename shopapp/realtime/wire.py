"""Writing websocket frames whole: a server text frame built once per event, and a socket that never
interleaves or truncates writes.

simple-websocket writes with `sock.send()`, which under gevent can write part of a frame to a slow reader
and drop the rest (the client then fails with 1002). Its reader thread also writes pongs and close
replies. `LockedSocket` turns every write into `sendall()` under one per-socket lock, which our own
writes take too, so frames from the two writers never interleave.
"""
from __future__ import annotations

import socket
import struct
import threading
import time

# How long closing waits for the peer's last bytes (its close reply, the rest of an oversized message).
LINGER_SECONDS = 2.0


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
    """Drop wsproto's HTTP/1.1 handshake state once the socket is open (about 2 KB per socket).

    wsproto keeps its h11 connection and the request for the life of the socket, though only the frame
    protocol is used after the upgrade. Attribute names checked first: with another wsproto this is a no-op.
    """
    connection = getattr(ws, "ws", None)
    handshake = getattr(connection, "handshake", None)
    if handshake is None or getattr(connection, "connection", None) is None:
        return
    if all(hasattr(handshake, name) for name in ("_h11_connection", "_initiating_request", "_events")):
        if not handshake._events:
            handshake._h11_connection = None
            handshake._initiating_request = None
            handshake._events = ()  # events() only iterates it while non-empty


def guard(ws) -> "LockedSocket":
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
