"""Reading a webhook's body: once, never past WEBHOOK_MAX_BYTES + 1 bytes, within a deadline, in the room the
process keeps for bodies. Every way a body can fail to arrive is a `BodyError` with a `Reason` (4xx), never a
500: the sender is unauthenticated until the whole body is here (the HMAC covers it).

- Framing. Under gunicorn the stream is gunicorn's own `gunicorn.http.body.Body`: broken chunked framing
  raises one of gunicorn's `ParseException`s, a connection closed mid-chunk `NoMoreData` (an OSError);
  gunicorn then marks the body failed and closes the connection after our answer. A body shorter than its
  `Content-Length` comes back short and silently, so the length is compared here.
- Deadline (WEBHOOK_BODY_TIMEOUT_SECONDS, for the whole body). A stalled body blocks its read forever.
  Under gevent each read runs inside `gevent.Timeout(seconds, BodyTimeout)`: `BodyTimeout` is an
  Exception, so gunicorn's reader marks the body failed. A bare `gevent.Timeout` is a BaseException: it
  would leave gunicorn's chunk parser mid-body and the rest of the body would be served as the next
  request on the connection (request smuggling). Without gevent the socket's own timeout bounds each read.
- Room (WEBHOOK_BUFFER_BYTES per process). Concurrent deliveries would otherwise hold as many bodies as
  there are connections (16 MiB each, before any HMAC could be checked). Each step of a read first takes
  its bytes from the process's `BodyRoom`; a delivery that finds no room within its deadline is answered
  503 (Shopify retries) and the body it had not read stays in the kernel's socket buffers.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Optional

from werkzeug.exceptions import ClientDisconnected

from shopapp.green import under_gevent
from shopapp.malformed import FRAMING_ERRORS
from shopapp.webhooks.reasons import Reason

# A read step: the room taken before each read, and the most one read asks the stream for. Small, so that a
# connection that stalls holds little room it has not filled.
STEP_BYTES = 64 * 1024


class BodyError(Exception):
    """The body could not be read; `reason` says why (its status is `reasons.STATUS[reason]`)."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class BodyTimeout(Exception):
    """Raised into a read that passed the body's deadline. An Exception subclass on purpose (module docstring)."""


class BodyRoom:
    """The bytes of webhook bodies one process holds at once: `take` waits (up to a timeout) until there is
    room, `give` returns bytes. Built on threading.Condition, which gunicorn's gevent worker has patched
    into a greenlet-aware one."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.used = 0
        self._changed = threading.Condition()

    def take(self, size: int, timeout: Optional[float]) -> bool:
        """Take `size` bytes (at most `capacity`); False when there was no room within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self.used + size > self.capacity:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
            self.used += size
            return True

    def give(self, size: int) -> None:
        """Return `size` bytes that `take` gave."""
        if size:
            with self._changed:
                self.used -= size
                self._changed.notify_all()


@dataclass
class BodyReader:
    """How one request's body is read: the size limit (bytes), the deadline for the whole body (seconds,
    None: none), the connection's socket (bounds reads outside gevent) and the process's `BodyRoom`.

    `read` takes room as it reads; the caller gives it back with `release()` once the delivery is answered.
    """

    max_bytes: int
    timeout: Optional[float] = None
    sock: Any = None
    room: Optional[BodyRoom] = None
    held: int = 0

    def read(self, stream: IO[bytes], content_length: Optional[int]) -> bytearray:
        """The body; raises BodyError (TOO_LARGE, BODY_INCOMPLETE, BODY_MALFORMED, BODY_TIMEOUT, BUSY)."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        # No Content-Length (chunked): read until the end, but never more than max_bytes + 1.
        expected = self.max_bytes + 1 if content_length is None else content_length
        body = bytearray()
        try:
            while len(body) < expected:
                step = min(STEP_BYTES, expected - len(body))
                self._take(step, deadline)
                chunk = self._read(stream, step, deadline)
                if not chunk:
                    break
                body += chunk
        except (BodyTimeout, TimeoutError):  # ours, or the socket's own timeout
            raise BodyError(Reason.BODY_TIMEOUT, "the body did not arrive in time") from None
        except ClientDisconnected:  # werkzeug's stream (servers other than gunicorn): the body ended early
            raise BodyError(Reason.BODY_INCOMPLETE, "the body is shorter than its Content-Length") from None
        except FRAMING_ERRORS as exc:
            raise BodyError(Reason.BODY_MALFORMED, f"malformed body ({type(exc).__name__})") from None
        except OSError as exc:  # the connection broke mid-body
            raise BodyError(Reason.BODY_MALFORMED, f"the body was cut off ({type(exc).__name__})") from None
        if len(body) > self.max_bytes:
            raise BodyError(Reason.TOO_LARGE, f"body over {self.max_bytes} bytes")
        if content_length is not None and len(body) < content_length:
            raise BodyError(Reason.BODY_INCOMPLETE, "the body is shorter than its Content-Length")
        return body

    def release(self) -> None:
        """Give the room this request's body took back to the process."""
        if self.room is not None:
            self.room.give(self.held)
        self.held = 0

    def _take(self, size: int, deadline: Optional[float]) -> None:
        if self.room is None:
            return
        size = min(size, self.room.capacity - self.held)  # one body never needs more than the whole room
        if not self.room.take(size, None if deadline is None else max(0.0, deadline - time.monotonic())):
            raise BodyError(Reason.BUSY, "no room for the body now; retry later")
        self.held += size

    def _read(self, stream: IO[bytes], size: int, deadline: Optional[float]) -> bytes:
        if deadline is None:
            return stream.read(size)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BodyTimeout()
        if under_gevent():
            import gevent

            with gevent.Timeout(remaining, BodyTimeout):
                return stream.read(size)
        if self.sock is None:  # nothing can bound a read here (e.g. the test client's in-memory stream)
            return stream.read(size)
        previous = self.sock.gettimeout()
        self.sock.settimeout(remaining)
        try:
            return stream.read(size)
        finally:
            self.sock.settimeout(previous)
