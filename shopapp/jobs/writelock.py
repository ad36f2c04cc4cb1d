"""`write_lock(session)`: on SQLite, queue a job write transaction behind the same OS file lock as ingestion.

SQLite lets one writer in at a time; a process that finds the database locked sleeps in SQLite's busy
handler (1, 2, 5, 10 ... 100 ms steps), so a worker that meets the web's ingest batch or another worker's
commit may sleep far longer than the lock was held. flock() wakes the next writer the moment it is
released. The lock file is the one `shopapp.webhooks.ingest` queues the web processes on.

Never waits while holding SQLite's write lock (no lock-order cycle with a writer that does not take the
file lock): when the session's connection already is in a write transaction, nothing is taken.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.orm import Session

_FILES: dict[str, int] = {}
_FILES_LOCK = threading.Lock()
_THREADS = threading.Lock()  # flock does not exclude threads of one process (they share the descriptor)
_HELD = threading.local()


@contextmanager
def write_lock(session: Session) -> Iterator[None]:
    """Hold the database's write queue for the block (a no-op off SQLite, or when already held/writing)."""
    bind = session.get_bind()
    path = bind.url.database if bind.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or getattr(_HELD, "depth", 0):
        yield
        return
    if session.connection().connection.driver_connection.in_transaction:
        yield  # already writing: waiting for the file lock now could wait on a writer waiting for us
        return
    fd = _lock_file(path)
    with _THREADS:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.depth = 1
        try:
            yield
        finally:
            _HELD.depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)


def _lock_file(path: str) -> int:
    fd = _FILES.get(path)
    if fd is None:
        with _FILES_LOCK:
            fd = _FILES.get(path)
            if fd is None:
                # The same file as shopapp.webhooks.ingest._serialized, so web and worker writers share a queue.
                fd = _FILES[path] = os.open(path + ".ingest-lock", os.O_RDWR | os.O_CREAT, 0o600)
    return fd
