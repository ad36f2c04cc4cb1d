"""A websocket test client for /ws/jobs (websocket-client underneath): JSON messages and close codes.

    with JobsClient(server.ws_url, token) as ws:
        snapshot = ws.recv_json()           # {"type": "snapshot", ...}
        event = ws.recv_json()              # {"type": "job", ...}
        assert ws.expect_close() == 4401    # waits for the server's close frame, returns its code
"""
from __future__ import annotations

import contextlib
import json
import struct
import time
from urllib.parse import urlencode

import websocket


class ClosedError(Exception):
    """The server closed the socket; `code` is its close code (None when the TCP connection just dropped)."""

    def __init__(self, code: int | None, reason: str = ""):
        super().__init__(f"closed by server: {code} {reason}")
        self.code = code
        self.reason = reason


class JobsClient:
    """One /ws/jobs connection."""

    def __init__(self, ws_base_url: str, token: str | None = None, since: int | None = None,
                 timeout: float = 10.0, path: str = "/ws/jobs", **connect_options):
        query = {}
        if token is not None:
            query["id_token"] = token
        if since is not None:
            query["since"] = str(since)
        self.url = f"{ws_base_url}{path}" + (f"?{urlencode(query)}" if query else "")
        self.ws = websocket.create_connection(self.url, timeout=timeout, enable_multithread=True,
                                              **connect_options)
        self.close_code: int | None = None
        self.close_reason = ""

    # --- receiving -----------------------------------------------------------------------------------

    def recv_json(self, timeout: float = 10.0) -> dict:
        """The next JSON message; raises ClosedError when the server closes instead, TimeoutError on none."""
        return json.loads(self.recv_text(timeout))

    def recv_text(self, timeout: float = 10.0) -> str:
        if self.close_code is not None:
            raise ClosedError(self.close_code, self.close_reason)
        self.ws.settimeout(timeout)
        try:
            opcode, frame = self.ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            raise TimeoutError(f"no message within {timeout}s") from None
        except (websocket.WebSocketConnectionClosedException, ConnectionError) as exc:
            self.close_code = self.close_code or -1
            raise ClosedError(None, str(exc)) from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data or b""
            self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            self.close_reason = data[2:].decode(errors="replace")
            raise ClosedError(self.close_code, self.close_reason)
        if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            return self.recv_text(timeout)
        data = frame.data
        return data.decode() if isinstance(data, (bytes, bytearray)) else data

    def recv_until(self, predicate, timeout: float = 10.0) -> list[dict]:
        """Messages up to and including the first that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        received = []
        while True:
            message = self.recv_json(max(0.01, deadline - time.monotonic()))
            received.append(message)
            if predicate(message):
                return received

    def recv_jobs(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The next `count` job events (other messages are kept out of the list but allowed)."""
        deadline = time.monotonic() + timeout
        jobs = []
        while len(jobs) < count:
            message = self.recv_json(max(0.01, deadline - time.monotonic()))
            if message["type"] == "job":
                jobs.append(message)
        return jobs

    def expect_close(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; return its close code. Messages before the close are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.recv_text(max(0.01, deadline - time.monotonic()))
            except ClosedError as exc:
                return exc.code

    def assert_silent(self, seconds: float = 0.5) -> None:
        """Nothing arrives within `seconds` (a bounded wait for "no message", never a timing assertion)."""
        try:
            message = self.recv_text(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message[:200]}")

    # --- sending -------------------------------------------------------------------------------------

    def send_json(self, data) -> None:
        self.ws.send(json.dumps(data))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def send_auth(self, token: str) -> None:
        self.send_json({"type": "auth", "id_token": token})

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close(timeout=1)
        if self.ws.sock is not None:
            self.ws.shutdown()

    def __enter__(self) -> JobsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(server, token: str | None = None, since: int | None = None, **kwargs) -> JobsClient:
    """A JobsClient for a `web_server` fixture's server (or any object with `ws_url`)."""
    return JobsClient(server.ws_url, token, since, **kwargs)
