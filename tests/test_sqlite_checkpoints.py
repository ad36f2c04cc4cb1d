"""WAL checkpoints off the request path (SQLite under gevent): copied without blocking, emptied when large."""
from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from shopapp.db.sqlite import Checkpointer, write_lock, write_lock_path

ROW = "x" * 3000


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "app.sqlite3")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # as web connections run under gevent
    conn.execute("CREATE TABLE t (v TEXT)")
    yield path, conn
    conn.close()


def _write(conn, rows: int) -> None:
    conn.executemany("INSERT INTO t VALUES (?)", [(ROW,)] * rows)


def test_small_wal_is_left_alone(database):
    path, conn = database
    _write(conn, 10)
    assert Checkpointer(path, passive_bytes=1 << 20).tick() == ""


def test_wal_over_the_passive_size_is_copied_into_the_database(database):
    path, conn = database
    _write(conn, 500)
    checkpointer = Checkpointer(path, passive_bytes=64 << 10, truncate_bytes=1 << 30)
    assert checkpointer.tick() == "passive"
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, copied)  # nothing was left to copy
    assert checkpointer.wal_bytes() > 0  # PASSIVE never empties the file


def test_wal_over_the_truncate_size_is_emptied(database):
    path, conn = database
    _write(conn, 500)
    checkpointer = Checkpointer(path, passive_bytes=64 << 10, truncate_bytes=128 << 10)
    assert checkpointer.tick() == "truncate"
    assert checkpointer.wal_bytes() == 0
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 500


def test_truncate_waits_for_a_web_writer_holding_the_write_lock(database):
    path, conn = database
    _write(conn, 500)
    checkpointer = Checkpointer(path, passive_bytes=64 << 10, truncate_bytes=128 << 10)
    writer_fd = os.open(write_lock_path(path), os.O_RDWR)
    done = []
    with write_lock(writer_fd):
        thread = threading.Thread(target=lambda: done.append(checkpointer.tick()))
        thread.start()
        thread.join(0.3)
        assert not done  # blocked on the lock while a writer holds it
    thread.join(5)
    assert done == ["truncate"]
    os.close(writer_fd)


def test_lock_file_is_the_same_however_the_path_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert write_lock_path("app.sqlite3") == write_lock_path(str(tmp_path / "app.sqlite3"))
