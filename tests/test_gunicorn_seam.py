"""The gunicorn seam (shopapp/gunicorn_seam.py) writes exactly the bytes gunicorn's own Response writes."""
from __future__ import annotations

import re

import pytest
from gunicorn.config import Config
from gunicorn.http import RequestParser, wsgi

from shopapp.gunicorn_seam import CoalescedResponse


class Recorder:
    """A socket that records each sendall."""

    def __init__(self):
        self.calls: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.calls.append(bytes(data))


def _answer(response_class, method: str, status: str, headers: list, chunks: list[bytes]) -> list[bytes]:
    cfg = Config()
    request = next(iter(RequestParser(cfg, iter([f"{method} /webhooks HTTP/1.1\r\nHost: x\r\n\r\n".encode()]),
                                      ("127.0.0.1", 1))))
    sock = Recorder()
    response = response_class(request, sock, cfg)
    response.start_response(status, headers)
    for chunk in chunks:
        response.write(chunk)
    response.close()
    return sock.calls


def _without_date(data: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"", data)


@pytest.mark.parametrize("method,status,headers,chunks", [
    ("POST", "200 OK", [("Content-Type", "application/json"), ("Content-Length", "21")], [b'{"result":"accepted"}']),
    ("POST", "401 Unauthorized", [("Content-Length", "2")], [b"{}"]),
    ("POST", "200 OK", [("Content-Length", "6")], [b"abc", b"def"]),
    ("POST", "200 OK", [], [b"no length: chunked"]),
    ("HEAD", "200 OK", [("Content-Length", "5")], [b"hello"]),
    ("POST", "204 No Content", [], [b""]),
])
def test_the_same_bytes_as_gunicorns_own_response(method, status, headers, chunks):
    stock = _answer(wsgi.Response, method, status, headers, chunks)
    ours = _answer(CoalescedResponse, method, status, headers, chunks)
    assert _without_date(b"".join(ours)) == _without_date(b"".join(stock))


def test_headers_and_a_small_body_go_in_one_send():
    headers = [("Content-Type", "application/json"), ("Content-Length", "21")]
    assert len(_answer(wsgi.Response, "POST", "200 OK", headers, [b'{"result":"accepted"}'])) == 2
    assert len(_answer(CoalescedResponse, "POST", "200 OK", headers, [b'{"result":"accepted"}'])) == 1
