"""Where each process of a machine writes its metrics: prometheus_client's multiprocess mode, one directory
per supervising process.

Several processes count: gunicorn runs several web processes and `python -m shopapp worker` runs RQ
workers apart from them. prometheus_client's multiprocess mode (each process writes its values to small
mmap files; a scrape sums the files) is the library's own answer for pre-fork servers, and a metric still
counts when Redis is down (the 503s are what we most need to see then).

Layout: one base directory per machine (`METRICS_DIR`, default `instance/metrics`) holds one directory per
supervising process (`web-<pid>` for a gunicorn master, `worker-<pid>` for a worker command), which it
empties when it starts; directories of supervisors that are no longer running are removed then too.
prometheus_client picks its mode when it is first imported, so `prepare_process()` must run before any
metric is touched (gunicorn.conf.py, the worker command).

Only the standard library here: gunicorn.conf.py loads this file by path in the master, which must not
import Flask or SQLAlchemy before gevent patches its workers.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
from pathlib import Path

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
OWNER_FILE = "owner"


def base_dir() -> Path:
    """Where this machine's metric files live (`METRICS_DIR`, default `instance/metrics`).

    Read straight from the environment because it must be known before the app (and its settings) load.
    """
    # Same default instance directory as shopapp.config (not imported here, see the module's docstring).
    instance = os.environ.get("SHOPAPP_INSTANCE_DIR") or Path(__file__).resolve().parents[2] / "instance"
    return Path(os.environ.get("METRICS_DIR") or Path(instance) / "metrics")


def prepare_process(role: str) -> Path:
    """Give this supervising process (`web` master or `worker` command) a fresh metrics directory.

    Sets PROMETHEUS_MULTIPROC_DIR for it and every child it forks; must run before prometheus_client is
    imported. Removes directories left by supervisors that are no longer running. A child of a running
    supervisor keeps its parent's directory.
    """
    inherited = inherited_dir()
    if inherited is not None:
        return inherited
    base = base_dir()
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.iterdir():
        if stale.is_dir() and not _owner_alive(stale):
            shutil.rmtree(stale, ignore_errors=True)
    own = base / f"{role}-{os.getpid()}"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir()
    (own / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}")
    os.environ[ENV_DIR] = str(own)
    return own


def inherited_dir() -> Path | None:
    """The directory a running parent supervisor prepared for its children (None when there is none)."""
    inherited = os.environ.get(ENV_DIR)
    if not inherited:
        return None
    path = Path(inherited)
    if path.parent != base_dir() or not _owner_alive(path) or path.name.endswith(f"-{os.getpid()}"):
        return None
    return path


def process_exited(pid: int) -> None:
    """Forget a dead child's live gauges (gunicorn's child_exit hook); its counters keep counting."""
    # What prometheus_client.multiprocess.mark_process_dead does, without importing the library into the
    # gunicorn master (its children would inherit a module state made before gevent patched them).
    directory = os.environ.get(ENV_DIR)
    if directory:
        for path in glob.glob(os.path.join(directory, f"gauge_live*_{pid}.db")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def _owner_alive(directory: Path) -> bool:
    try:
        pid_text, started = (directory / OWNER_FILE).read_text().split(" ", 1)
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A reused pid (after a reboot or in a new container) belongs to another process: compare start times.
    return _start_time(pid) == started


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"
