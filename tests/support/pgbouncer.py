"""A real PgBouncer (Debian's package) in front of the test PostgreSQL, started and stopped by a test.

    with PgBouncer("127.0.0.1", 5432, pool_mode="transaction") as bouncer:
        url = bouncer.url_for(database_url)      # the same database, through PgBouncer
        bouncer.stats(database)                  # SHOW STATS of the admin console, for that database

Its configuration, pid file and unix socket live in a directory of its own under the system's temp
directory (PgBouncer refuses to run as root: as root it runs as `postgres`, which must own that directory
and reach it, which pytest's private tmp_path does not allow). Authentication is `trust` (the test server's
own), with the user listed in the auth file as PgBouncer requires.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from shopapp.embedded_redis import free_port
from tests.support.processes import Process

# Debian installs it in /usr/sbin, which is not on every user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
USER = "postgres"


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable, or None when it is not installed (`make test` installs it where it can)."""
    return shutil.which("pgbouncer", path=SEARCH_PATH)


class PgBouncer:
    """PgBouncer listening on 127.0.0.1:`port`, pooling `pool_mode` connections to `server_host`:`server_port`."""

    def __init__(self, server_host: str, server_port: int, user: str = USER, pool_mode: str = "transaction",
                 pool_size: int = 20):
        self.server = (server_host, server_port)
        self.user, self.pool_mode, self.pool_size = user, pool_mode, pool_size
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="shopapp-pgbouncer-"))
        self.process: Process | None = None

    def url_for(self, database_url: str) -> str:
        """`database_url` with PgBouncer as its host and port."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def start(self, timeout: float = 20.0) -> PgBouncer:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed")
        ini = self._write_config()
        args = [binary, str(ini)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", USER]
            owner = pwd.getpwnam(USER)
            for path in (self.directory, *self.directory.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        # Its log goes to stderr, into a file this process opened (PgBouncer, as postgres, need not write it).
        self.process = Process(args, dict(os.environ), self.directory.with_suffix(".log")).start()
        self._wait_ready(timeout)
        return self

    def _write_config(self) -> Path:
        host, port = self.server
        # ignore_startup_parameters: psycopg/libpq may send these; PgBouncer refuses unknown ones otherwise.
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(f"""[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir = {self.directory}
pidfile = {self.directory / "pgbouncer.pid"}
auth_type = trust
auth_file = {self.directory / "userlist.txt"}
admin_users = {self.user}
stats_users = {self.user}
pool_mode = {self.pool_mode}
default_pool_size = {self.pool_size}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
""")
        return ini

    def log(self) -> str:
        return self.process.output() if self.process is not None else ""

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"pgbouncer exited:\n{self.log()[-2000:]}")
            try:
                self.admin("SHOW VERSION")
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not answer on port {self.port} within {timeout}s:\n{self.log()[-2000:]}")

    def admin(self, command: str) -> list[dict]:
        """Run an admin console command (SHOW STATS, SHOW POOLS, ...); its rows as dicts."""
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer",
                             autocommit=True, prepare_threshold=None, connect_timeout=2) as conn:
            cursor = conn.execute(command)
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stats(self, database: str) -> dict:
        """SHOW STATS' row for `database` ({} when it saw no traffic yet)."""
        return next((row for row in self.admin("SHOW STATS") if row["database"] == database), {})

    def stop(self) -> None:
        """Stop PgBouncer (SIGTERM: its immediate shutdown), remove its directory and log."""
        if self.process is not None:
            self.process.stop()
            self.process.log_path.unlink(missing_ok=True)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self.stop()
