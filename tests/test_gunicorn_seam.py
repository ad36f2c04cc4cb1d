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


class _Worker:
    """What install() touches of a gunicorn worker."""

    def __init__(self, wsgi_app):
        self.wsgi, self.cfg = wsgi_app, Config()
        self.log = type("Log", (), {"_access_log_enabled": True})()


def test_the_worker_calls_the_flask_apps_wsgi_app_as_flasks_own_call_does(app, monkeypatch):
    from flask import Flask
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    from shopapp import gunicorn_seam

    monkeypatch.setattr(wsgi, "Response", wsgi.Response)  # install() sets it for the whole process
    worker = _Worker(app)
    gunicorn_seam.install(worker)
    assert worker.wsgi == app.wsgi_app
    assert Flask.__call__.__code__.co_names == ("wsgi_app",)  # Flask's call does nothing else
    for path in ("/healthz", "/webhooks", "/no-such-page"):
        direct, flask = (run_wsgi_app(callable_, EnvironBuilder(path=path).get_environ())
                         for callable_ in (worker.wsgi, app))
        assert (direct[1], sorted(direct[2].keys())) == (flask[1], sorted(flask[2].keys()))
