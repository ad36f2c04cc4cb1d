"""A TCP proxy between the app and a server (the database) that a fault test can cut and restore.

We cannot stop the shared PostgreSQL server (other test runs use it), and stopping SQLite means nothing, so
the app reaches the database through this proxy. `cut()` resets every open connection and refuses new
ones, exactly what the app sees when the database host goes away; `restore()` lets connections through
again on the same port.
"""
from __future__ import annotations

import contextlib
import socket
import struct
import threading

from shopapp.embedded_redis import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` until cut or stopped."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.connections = 0  # accepted so far (to show that the app did reconnect)

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()  # accept() in the thread fails; connects are refused from now on
            self._accepting.join(5)
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _reset(sock)

    def restore(self) -> None:
        """Accept and forward connections again."""
        if self._listener is None:
            self.start()

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut() raced with this accept
                    _reset(client)
                    _reset(upstream)
                    return
                self._sockets.update((client, upstream))
                self.connections += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                owned = src in self._sockets or dst in self._sockets
                self._sockets.discard(src)
                self._sockets.discard(dst)
            if owned:
                _reset(src)
                _reset(dst)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a vanished host's connections end, not with a polite FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wakes a pump thread blocked in recv() on it; sends nothing
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.close()
