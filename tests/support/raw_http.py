"""HTTP/1.1 over a raw socket, for requests no HTTP client library would send: broken chunked framing,
bodies shorter than their Content-Length, stalls, pipelined bytes after a body.

    with RawConnection(server.port) as conn:
        conn.send(request_head("POST", "/webhooks", headers) + b"zz\\r\\n")
        response = conn.response()         # status, headers, body of the next answer
        assert conn.closed_by_server()     # the server closed the connection after it
"""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def request_head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    """The request line and headers (HTTP/1.1, Host added), ending with the blank line."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RawConnection:
    """One TCP connection to 127.0.0.1:`port`; every read waits at most `timeout` seconds."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = bytearray()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def finish_sending(self) -> None:
        """Half-close: the server reads EOF, the connection still carries its answer back."""
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> RawResponse:
        """The next response (a Content-Length body, or none); ConnectionError when the server closed first."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response; got {bytes(self.buffer)[:200]!r}")
        end = self.buffer.index(b"\r\n\r\n")
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        del self.buffer[:end + 4]
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed in the middle of a response body")
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return RawResponse(int(lines[0].split(" ", 2)[1]), headers, body)

    def closed_by_server(self) -> bool:
        """True when the server closes the connection with nothing more to say (waits for it, up to the
        timeout); False when more bytes arrive, or the timeout passes, first."""
        if self.buffer:
            return False
        try:
            return not self._fill()
        except TimeoutError:
            return False
