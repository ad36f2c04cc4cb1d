"""A PostgreSQL cluster of a test's own (initdb into a temp directory), started where the test says.

    cluster = PgCluster().init()                      # initdb as `postgres` (PostgreSQL refuses root)
    cluster.start(listen="10.231.7.10", wrap=argv)    # pg_ctl start; `wrap` runs it in a namespace
    cluster.url(host)                                 # postgresql+psycopg://postgres@host:5432/postgres
    cluster.stop()                                    # immediate shutdown, directory removed

Trust authentication for the test's private subnet; fsync off (a test's database needs no durability).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

USER = "postgres"


def server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl (PATH, or Debian's /usr/lib/postgresql/<v>/bin), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PgCluster:
    """One PostgreSQL server, its data and socket directory under a temp directory `postgres` owns."""

    def __init__(self, port: int = 5432, max_connections: int = 300):
        self.bin = server_binaries()
        self.port, self.max_connections = port, max_connections
        self.directory = Path(tempfile.mkdtemp(prefix="shopapp-pg-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        self._wrap: Callable[[list[str]], list[str]] = lambda argv: argv

    def init(self, trusted_subnet: str = "127.0.0.1/32") -> PgCluster:
        owner = pwd.getpwnam(USER)
        os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
                           "-E", "UTF8", "--no-sync"])
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {trusted_subnet} trust\n")
        return self

    def start(self, listen: str, wrap: Callable[[list[str]], list[str]] | None = None) -> PgCluster:
        """Start listening on `listen`:port; `wrap(argv)` runs a command where the server must run."""
        self._wrap = wrap or self._wrap
        options = (f"-p {self.port} -c listen_addresses={listen} -k {self.directory} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}")
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w",
                           "-t", "60", "-o", options, "start"])
        return self

    def url(self, host: str) -> str:
        return f"postgresql+psycopg://{USER}@{host}:{self.port}/postgres"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._wrap(["runuser", "-u", USER, "--", str(self.bin / "pg_ctl"), "-D", str(self.data),
                                       "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _as_postgres(self, argv: list[str]) -> None:
        result = subprocess.run(self._wrap(["runuser", "-u", USER, "--", *argv]), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {result.stderr.strip()}\n{self.log()[-2000:]}")
