"""Threads or greenlets: what each socket's reader runs in, chosen by how the process was started.

Under gunicorn's gevent worker `threading` is monkey-patched, and simple-websocket would start a patched
`threading.Thread` per socket: a Thread object with its locks and Event on top of the greenlet. A bare
gevent Greenlet does the same job for a fraction of the memory, which counts at thousands of sockets.
"""
from __future__ import annotations

import time

from shopapp.green import under_gevent

JOIN_POLL_SECONDS = 0.02


class GreenletThread:
    """The part of `threading.Thread` that simple-websocket and we use (start, join, is_alive, name), on a
    raw greenlet (no Greenlet object, no links: the reader only needs to run and be waited for)."""

    __slots__ = ("_target", "_greenlet", "name")

    def __init__(self, target, name: str = "simple_websocket.reader"):
        self._target = target
        self._greenlet = None
        self.name = name

    def start(self) -> None:
        import gevent

        self._greenlet = gevent.spawn_raw(self._target)

    def join(self, timeout: float | None = None) -> None:
        import gevent

        # Polled: joins happen once per socket, at its close, and a waiter list per socket would cost
        # memory for the whole life of every socket.
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive() and (deadline is None or time.monotonic() < deadline):
            gevent.sleep(JOIN_POLL_SECONDS)

    def is_alive(self) -> bool:
        return self._greenlet is not None and not self._greenlet.dead


def reader_thread_class():
    """The thread class for simple-websocket's reader: GreenletThread under gevent, else its default."""
    return GreenletThread if under_gevent() else None
