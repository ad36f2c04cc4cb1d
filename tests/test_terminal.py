"""What a developer's terminal shows: readable lines (gunicorn's too), and Ctrl+C on `make run` stops
everything with no traceback."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading

import psutil
import pytest
import requests

from shopapp.embedded_redis import free_port
from shopapp.testing import API_KEY, API_SECRET, wait_until
from tests.support.checkout import checkout_env, copy_checkout

pytestmark = [pytest.mark.slow, pytest.mark.nodb]

PLAIN = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S")


class Terminal:
    """A pseudo-terminal running one command in its own process group, as a shell runs a foreground job."""

    def __init__(self, args: list[str], cwd, env: dict):
        master, slave = os.openpty()
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True)
        os.close(slave)
        self._master, self._chunks = master, []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                break
            if not data:
                break
            self._chunks.append(data)

    @property
    def screen(self) -> str:
        return b"".join(self._chunks).decode(errors="replace").replace("\r\n", "\n")

    def ctrl_c(self, timeout: float = 60) -> str:
        """SIGINT to the foreground process group (what the terminal does on Ctrl+C); the whole output."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout)
        self._reader.join(timeout)
        os.close(self._master)
        return self.screen


def test_ctrl_c_on_make_run_in_a_terminal_stops_everything_without_a_traceback_and_the_lines_are_plain(tmp_path):
    checkout = copy_checkout(tmp_path / "app")
    port = free_port()
    env = checkout_env(checkout / "instance", PORT=str(port), SHOPIFY_API_KEY=API_KEY,
                       SHOPIFY_API_SECRET=API_SECRET, HOST="https://tunnel-abc.trycloudflare.com")
    # `-o .venv/.installed`: the shared .venv is set up already (a copy's requirements files look newer).
    terminal = Terminal(["make", "-o", ".venv/.installed", "run"], checkout, env)
    try:
        def ready() -> bool:
            assert terminal.process.poll() is None, terminal.screen
            try:
                up = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
            return up and "Listening on" in terminal.screen  # the RQ worker is up too
        wait_until(ready, timeout=120, what="make run ready", explain=lambda: terminal.screen[-2000:])
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        children = psutil.Process(terminal.process.pid).children(recursive=True)
    finally:
        screen = terminal.ctrl_c()
    assert "Traceback" not in screen, screen
    assert wait_until(lambda: not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE],
                      timeout=10, what="every child gone")
    logged = [line for line in screen.splitlines() if re.match(r"^(\d\d:\d\d|\{|\[\d{4}-)", line)]
    assert [line for line in logged if not PLAIN.match(line)] == []
    assert any(re.match(r"^\d\d:\d\d:\d\d INFO  Starting gunicorn", line) for line in logged)  # gunicorn's own
    assert any(re.search(r" INFO  request  method=GET path=/healthz status=200 duration_ms=\S+ request_id=\w+$",
                         line) for line in logged)
    assert not [line for line in logged if "HTTP/1.1" in line]  # the app's request line, no access log beside it
    assert "shopapp: stopped" in screen


def test_gunicorns_own_lines_are_json_lines_outside_a_terminal(web_server):
    server = web_server(env={"LOG_LEVEL": "INFO"})  # output to a file: not a terminal, not dev mode
    server.stop()
    lines = [line for line in server.output().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line, gunicorn's included, is a JSON object
    assert any(p["logger"] == "gunicorn.error" and p["msg"].startswith("Starting gunicorn") for p in parsed)
    assert any(p["logger"] == "gunicorn.error" and p["msg"] == "Shutting down: Master" for p in parsed)


def test_gunicorns_own_lines_are_plain_with_log_format_plain(web_server):
    server = web_server(env={"LOG_LEVEL": "INFO", "LOG_FORMAT": "plain"})
    server.stop()
    lines = [line for line in server.output().splitlines() if line.strip()]
    assert [line for line in lines if not PLAIN.match(line)] == []
    assert any(re.match(r"^\d\d:\d\d:\d\d INFO  Booting worker with pid: \d+$", line) for line in lines)
    assert not [line for line in lines if "HTTP/1.1" in line]  # no access log beside the app's request lines
