"""The one process supervisor: `serve` (web + worker) and `worker --processes N` run their children here.

With `new_session` (serve) children run in their own process group, so a terminal's Ctrl+C reaches only
the supervisor, which stops them in order with SIGTERM (gunicorn closes its sockets with 1001, RQ finishes
the current job) and SIGKILLs what is left after `stop_timeout` seconds: no child is left behind and none
prints a traceback. Without it (the worker command) children share the supervisor's group, so a signal to
the group reaches them all. Either way a child gets SIGTERM if the supervisor itself dies (Linux).
A child marked `restart` is started again when it dies; when another child exits, everything stops.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

RESTART_DELAY_SECONDS = 1.0
POLL_SECONDS = 0.2


@dataclass
class Child:
    """One supervised process and how to start it again."""

    name: str
    args: list[str]
    env: Optional[dict]
    restart: bool
    cwd: Optional[Path] = None
    new_session: bool = True
    process: Optional[subprocess.Popen] = field(default=None, repr=False)

    def start(self) -> Child:
        self.process = subprocess.Popen(self.args, env=self.env, cwd=self.cwd, start_new_session=self.new_session,
                                        preexec_fn=_die_with_parent)
        return self


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies (prctl PR_SET_PDEATHSIG, Linux only)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Supervisor:
    """Starts children, waits for a stop signal or a child's exit, then stops them all."""

    def __init__(self, name: str = "shopapp", stop_timeout: float = 15.0, new_session: bool = True):
        self.name = name
        self.new_session = new_session
        self.stop_timeout = stop_timeout
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def spawn(self, name: str, args: list[str], env: Optional[dict] = None, *, restart: bool = False,
              cwd: Optional[Path] = None) -> Child:
        """Start a child now."""
        child = Child(name, args, env, restart, cwd, self.new_session).start()
        self.children.append(child)
        return child

    def handle_signals(self) -> None:
        """SIGINT and SIGTERM ask for a stop (in the main thread only)."""
        def on_signal(_signum, _frame):
            self.stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def wait(self) -> int:
        """Block until a stop is asked (0) or a child that is not restarted exits (its code, or 1)."""
        while not self.stopping.is_set():
            for child in self.children:
                code = child.process.poll()
                if code is None:
                    continue
                if child.restart:
                    print(f"{self.name}: {child.name} (pid {child.process.pid}) exited with {code}; restarting",
                          file=sys.stderr, flush=True)
                    if self.stopping.wait(RESTART_DELAY_SECONDS):
                        return 0
                    child.start()
                    continue
                if not self.stopping.is_set():
                    print(f"{self.name}: {child.name} exited with code {code}; stopping the rest", file=sys.stderr,
                          flush=True)
                return code or 1
            self.stopping.wait(POLL_SECONDS)
        return 0

    def wait_all(self) -> int:
        """Block until every child has exited by itself (burst runs) or a stop is asked; the highest exit code."""
        while not self.stopping.is_set():
            codes = [child.process.poll() for child in self.children]
            if None not in codes:
                return max(codes, default=0)
            self.stopping.wait(POLL_SECONDS)
        return 0

    def stop(self) -> None:
        """SIGTERM every running child (last started first), wait, then SIGKILL what is left."""
        self.stopping.set()
        running = [c.process for c in reversed(self.children) if c.process and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
