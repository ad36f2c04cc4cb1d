"""SQLite, tuned for many writers in several processes: connection pragmas, a write queue on a file lock,
and WAL checkpoints in a background OS thread for processes that serve requests under gevent.

Write queue (`serialized_writes`): SQLite lets one writer in at a time; a process that finds the database
locked sleeps in SQLite's busy handler (1, 2, 5, 10 ... ms), and under gevent that sleep stalls every
request of the process. The web processes' write transactions queue on an flock() instead, which wakes
the next writer the moment the lock is released.

Checkpoints:

SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that commit copies pages into
the database file and syncs it. Under gevent that stalls every request and socket of the process, and
the other web processes wait on the write lock meanwhile (bench/ingest.py: 12% of the machine idle, and
about 10% of webhook throughput). So web connections turn automatic checkpoints off, and one OS thread
per process and database file checkpoints instead (the sqlite3 module releases the GIL while SQLite
works, so the event loop goes on):
- when the WAL is over PASSIVE_BYTES, a PASSIVE checkpoint copies what it can without waiting for
  any writer or reader;
- when the WAL is over TRUNCATE_BYTES and fully copied, a TRUNCATE checkpoint under the write lock
  (`write_lock`) empties the file; there is nothing left to copy, so it is quick, and a short busy
  timeout keeps it from holding the lock long when a reader or a worker's write is in the way (it
  tries again on the next tick).
RQ workers keep SQLite's automatic checkpoints: nothing else waits on them.
"""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.25
PASSIVE_BYTES = 4 << 20
TRUNCATE_BYTES = 32 << 20
TRUNCATE_BUSY_MS = 50

_running: set[str] = set()


def write_lock_path(database_path: str) -> str:
    """The file whose flock() the web processes' SQLite write transactions queue on (one per real path,
    however the database URL spelled it)."""
    return os.path.realpath(database_path) + ".ingest-lock"


@contextmanager
def write_lock(fd: int) -> Iterator[None]:
    """Hold the write lock on an open `write_lock_path` file (blocking)."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class Checkpointer:
    """Checkpoints one database file; `tick()` is one look at its WAL."""

    def __init__(self, database_path: str, passive_bytes: int = PASSIVE_BYTES,
                 truncate_bytes: int = TRUNCATE_BYTES):
        self.path = database_path
        self.passive_bytes = passive_bytes
        self.truncate_bytes = truncate_bytes
        self.connection = sqlite3.connect(database_path, check_same_thread=False, isolation_level=None)
        self.connection.execute(f"PRAGMA busy_timeout={TRUNCATE_BUSY_MS}")
        self.lock_fd = os.open(write_lock_path(database_path), os.O_RDWR | os.O_CREAT, 0o600)

    def wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0

    def tick(self) -> str:
        """Checkpoint if the WAL asks for it; returns what was done ("", "passive" or "truncate")."""
        size = self.wal_bytes()
        if size <= self.passive_bytes:
            return ""
        busy, frames, copied = self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if size <= self.truncate_bytes or busy or copied < frames:
            return "passive"
        with write_lock(self.lock_fd):
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return "truncate"

    def run_forever(self, sleep) -> None:
        while True:
            sleep(CHECK_SECONDS)
            try:
                self.tick()
            except sqlite3.Error as exc:  # locked, or the file went away (tests); look again next tick
                log.debug("checkpoint skipped: %s", exc)


def start_in_background(database_path: str) -> bool:
    """Start the checkpoint thread for `database_path` in this process (once); False if already running.

    A real OS thread even when gevent patched `threading` (a greenlet would block the loop it is for).
    """
    if database_path in _running:
        return False
    from gevent import monkey

    start_thread = monkey.get_original("_thread", "start_new_thread")
    sleep = monkey.get_original("time", "sleep")
    checkpointer = Checkpointer(database_path)
    _running.add(database_path)
    start_thread(checkpointer.run_forever, (sleep,))
    return True


_LOCK_FILES: dict[str, int] = {}


@contextmanager
def serialized_writes(database_path: Optional[str]) -> Iterator[None]:
    """Hold the write queue's lock of the SQLite file `database_path` (nothing for None or ":memory:")."""
    if not database_path or database_path == ":memory:":
        yield
        return
    fd = _LOCK_FILES.get(database_path)
    if fd is None:
        fd = _LOCK_FILES[database_path] = os.open(write_lock_path(database_path), os.O_RDWR | os.O_CREAT, 0o600)
    with write_lock(fd):
        yield


def set_pragmas(dbapi_connection, gevent: bool) -> None:
    """WAL (readers go on during a write), NORMAL sync, a 30 s busy timeout, foreign keys; under gevent,
    checkpoints move to a background thread (inside a commit they would stall the event loop)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    path = cursor.execute("PRAGMA database_list").fetchone()[2]
    if gevent and path:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        start_in_background(path)
    cursor.close()
