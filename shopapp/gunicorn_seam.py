"""Every use of gunicorn's internals, in one place: a response written in one send instead of two, no
access-log work that nothing writes, and the Flask app's `wsgi_app` called directly.

gunicorn writes a response's headers and its body with two `sendall` calls (`Response.send_headers`, then
the body), so a small answer costs two system calls and, on a keep-alive connection, often two TCP
segments. The webhook endpoint answers every delivery with a small JSON body, and gunicorn's HTTP work was
about a third of a web process's CPU per webhook (README "Performance"). `CoalescedResponse` lets gunicorn's
own `write` build the headers and do its bookkeeping as it always does, only into a buffer, and sends the
headers with the first body chunk at once. tests/test_gunicorn_seam.py checks the bytes against gunicorn's
stock Response. `install()` runs in each worker process (gunicorn.conf.py's post_worker_init).

gunicorn calls the app it loaded (`wsgi:app`, a Flask app) for every request, and `Flask.__call__` does
nothing but call `app.wsgi_app`. Calling an instance enters its type's call slot and a new C frame of the
interpreter (CPython 3.11+ runs a Python function called from Python code in the caller's C frame), and a
/ws/jobs socket keeps its request's C stack, saved by its greenlet, for its whole life: calling `wsgi_app`
directly is about 0.7 KB less a socket (bench/fanout.py idle). tests/test_gunicorn_seam.py checks that
Flask's call is its `wsgi_app`.
"""
from __future__ import annotations

from flask import Flask
from gunicorn.http import wsgi


class _Buffer:
    """Stands in for the socket while gunicorn's `write` composes the headers and the first chunk."""

    __slots__ = ("data",)

    def __init__(self):
        self.data = bytearray()

    def sendall(self, data: bytes) -> None:
        self.data += data


class CoalescedResponse(wsgi.Response):
    """gunicorn's Response, with the headers and the first body chunk written in one `sendall`."""

    def write(self, arg):
        if self.headers_sent or self.chunked or not isinstance(arg, bytes):
            return super().write(arg)
        sock, self.sock = self.sock, _Buffer()
        try:
            super().write(arg)
        finally:
            buffered, self.sock = self.sock, sock
        if buffered.data:
            sock.sendall(bytes(buffered.data))


def install(worker) -> None:
    """In a gunicorn worker process (post_worker_init): responses as CoalescedResponse; a Flask app's
    `wsgi_app` as the worker's WSGI callable; and gunicorn's access log off unless `accesslog` is set (a
    `logconfig_dict` turns it on, and it then builds every request's log atoms, environ and headers, even
    when nothing writes them: the app logs its own request line)."""
    wsgi.Response = CoalescedResponse
    if isinstance(worker.wsgi, Flask):
        worker.wsgi = worker.wsgi.wsgi_app
    worker.log._access_log_enabled = bool(worker.cfg.accesslog)
